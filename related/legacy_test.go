package related

// The relations as built before the log was streamed into a Log (the
// whole []events.Event held, a copy for the hold-out): kept here only as
// the reference that TestLogBuildMatchesEventBuild compares against.

import (
	"cmp"
	"context"
	"hash/fnv"
	"math"
	"slices"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

type legacyTouch struct {
	item    int32
	ts      int64
	session string
	buy     bool
}

func legacyBuildBehaviour(ctx context.Context, c *content, evs []events.Event, cfg Config) (*behaviour, error) {
	n := len(c.ids)
	byUser := map[string][]legacyTouch{}
	for _, e := range evs {
		i, ok := c.pos[e.ItemID]
		if !ok || e.ItemID == "" || cfg.Weight(e.Type, e.Value) <= 0 {
			continue
		}
		byUser[e.UserID] = append(byUser[e.UserID], legacyTouch{i, e.Timestamp.Unix(), e.SessionID, e.Type == events.Purchase || e.Type == events.AddToCart})
	}
	b := &behaviour{count: make([]float64, n), recent: make([]float64, n), leafOf: c.leaf}
	var tEnd int64
	for _, ts := range byUser {
		for _, t := range ts {
			tEnd = max(tEnd, t.ts)
		}
	}
	co := make([]map[int32]float32, n)
	bco := make([]map[int32]float32, n)
	bcount := make([]float64, n)
	var nBaskets float64
	leafUsers := map[int32]float64{}
	leafPair := map[[2]int32]float64{}
	leafBaskets, leafRepeat := map[int32]float64{}, map[int32]float64{}
	headBaskets, headRepeat := map[int32]float64{}, map[int32]float64{}
	kinds := newBasketKinds(c)
	var nUsers float64
	bump := func(m []map[int32]float32, i, j int32) {
		if m[i] == nil {
			m[i] = map[int32]float32{}
		}
		m[i][j]++
	}
	k := 0
	for _, ts := range byUser {
		if k++; k%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		slices.SortStableFunc(ts, func(x, y legacyTouch) int { return cmp.Compare(x.ts, y.ts) })
		// distinct items, most recent kept when capped
		seen := map[int32]bool{}
		var items []int32
		for q := len(ts) - 1; q >= 0 && len(items) < maxPerUser; q-- {
			if !seen[ts[q].item] {
				seen[ts[q].item] = true
				items = append(items, ts[q].item)
				b.recent[ts[q].item] += decay(tEnd-ts[q].ts, cfg.PopularityHalfLife.Seconds())
			}
		}
		nUsers++
		leaves := map[int32]bool{}
		for x, i := range items {
			b.count[i]++
			if l := c.leaf[i]; l >= 0 {
				leaves[l] = true
			}
			for _, j := range items[x+1:] {
				bump(co, i, j)
				bump(co, j, i)
			}
		}
		ls := make([]int32, 0, len(leaves))
		for l := range leaves {
			ls = append(ls, l)
			leafUsers[l]++
		}
		for x, l := range ls {
			for _, m := range ls[x+1:] {
				leafPair[[2]int32{min(l, m), max(l, m)}]++
			}
		}
		for _, bk := range legacyBaskets(ts, int64(cfg.BasketWindow.Seconds())) {
			nBaskets++
			countLeafRepeats(bk, c.leaf, leafBaskets, leafRepeat)
			countLeafRepeats(bk, c.head, headBaskets, headRepeat)
			kinds.add(bk)
			for x, i := range bk {
				bcount[i]++
				for _, j := range bk[x+1:] {
					bump(bco, i, j)
					bump(bco, j, i)
				}
			}
		}
	}
	for _, v := range b.count {
		b.maxCnt = max(b.maxCnt, v)
	}
	b.sim, b.simIdx = make([][]neighbour, n), make([][]neighbour, n)
	for i, m := range co {
		for j, cij := range m {
			s := float64(cij) / (math.Sqrt(b.count[i]*b.count[j]) + cfg.Shrink)
			b.sim[i] = append(b.sim[i], neighbour{j, float32(s)})
		}
		b.sim[i] = topNeighbours(b.sim[i], cfg.MaxNeighbours)
		b.simIdx[i] = indexOf(b.sim[i])
	}
	b.basket, b.bIdx = make([][]neighbour, n), make([][]neighbour, n)
	alpha, sup := cfg.BasketLift, cfg.BasketSupport
	for i, m := range bco {
		for j, cij := range m {
			c := float64(cij)
			if c*nBaskets <= bcount[i]*bcount[j] {
				continue // no more often than chance: lift ≤ 1
			}
			s := c / (c + sup) * c / (math.Pow(bcount[i], 1-alpha) * math.Pow(bcount[j], alpha))
			if s > 0 {
				b.basket[i] = append(b.basket[i], neighbour{j, float32(min(s, 1))})
			}
		}
		b.basket[i] = topNeighbours(b.basket[i], cfg.MaxNeighbours)
		b.bIdx[i] = indexOf(b.basket[i])
	}
	b.leafRep = leafRepeatRates(leafBaskets, leafRepeat)
	b.headRep = leafRepeatRates(headBaskets, headRepeat)
	b.goesWith = kinds.goesWith()
	// leaf-to-leaf lift of "the same shoppers buy in both"
	b.catLft = map[int32]map[int32]float64{}
	logU := math.Log(max(nUsers, 2))
	set := func(l, m int32, v float64) {
		if b.catLft[l] == nil {
			b.catLft[l] = map[int32]float64{}
		}
		b.catLft[l][m] = v
	}
	for p, cnt := range leafPair {
		lift := cnt * nUsers / (leafUsers[p[0]] * leafUsers[p[1]])
		v := cnt / (cnt + 5) * max(0, math.Log(lift)) / logU
		if v > 0 {
			set(p[0], p[1], v)
			set(p[1], p[0], v)
		}
	}
	b.catTp = map[int32][]int32{}
	for l, m := range b.catLft {
		ls := make([]int32, 0, len(m))
		for x := range m {
			ls = append(ls, x)
		}
		slices.SortFunc(ls, func(x, y int32) int {
			if c := cmp.Compare(m[y], m[x]); c != 0 {
				return c
			}
			return cmp.Compare(x, y)
		})
		b.catTp[l] = ls
	}
	b.popLf, b.leafMx, b.recLfMx = map[int32][]int32{}, map[int32]float64{}, map[int32]float64{}
	for l, members := range c.byLeaf {
		for _, i := range members {
			b.recLfMx[l] = max(b.recLfMx[l], b.recent[i])
		}
		ms := slices.Clone(members)
		slices.SortFunc(ms, func(x, y int32) int {
			if c := cmp.Compare(b.count[y], b.count[x]); c != 0 {
				return c
			}
			return cmp.Compare(x, y)
		})
		b.popLf[l] = ms
		if len(ms) > 0 {
			b.leafMx[l] = b.count[ms[0]]
		}
	}
	b.recLf = recentByLeaf(c.byLeaf, b.recent)
	return b, nil
}

// baskets splits one shopper's legacyTouches (in time order) into baskets of
// distinct purchased items: by session id when there is one, else by
// purchases within window seconds of the basket's first.
func legacyBaskets(ts []legacyTouch, window int64) [][]int32 {
	var out [][]int32
	bySession := map[string][]int32{}
	var cur []int32
	var start int64
	flush := func() {
		if len(cur) > 1 {
			out = append(out, cur)
		}
		cur = nil
	}
	for _, t := range ts {
		if !t.buy {
			continue
		}
		if t.session != "" {
			if !slices.Contains(bySession[t.session], t.item) {
				bySession[t.session] = append(bySession[t.session], t.item)
			}
			continue
		}
		if len(cur) > 0 && t.ts-start > window {
			flush()
		}
		if len(cur) == 0 {
			start = t.ts
		}
		if !slices.Contains(cur, t.item) {
			cur = append(cur, t.item)
		}
	}
	flush()
	keys := make([]string, 0, len(bySession))
	for s := range bySession {
		keys = append(keys, s)
	}
	slices.Sort(keys)
	for _, s := range keys {
		if b := bySession[s]; len(b) > 1 {
			out = append(out, b)
		}
	}
	return out
}

func legacyHoldOut(items []catalog.Item, evs []events.Event, cfg Config) ([]events.Event, map[int32][]int32) {
	pos := make(map[string]int32, len(items))
	for i, it := range items {
		pos[it.ID] = int32(i)
	}
	type ut struct {
		item int32
		ts   int64
	}
	bySession := legacySessionShop(evs, cfg)
	key := func(e events.Event) string {
		if bySession {
			return e.UserID + "\x00" + e.SessionID
		}
		return e.UserID
	}
	byKey := map[string][]ut{}
	for _, e := range evs {
		i, ok := pos[e.ItemID]
		if !ok || cfg.Weight(e.Type, e.Value) <= 0 || (bySession && e.SessionID == "") {
			continue
		}
		k := key(e)
		byKey[k] = append(byKey[k], ut{i, e.Timestamp.Unix()})
	}
	drop := map[string]int32{}
	held := map[int32][]int32{}
	for u, ts := range byKey {
		h := fnv.New32a()
		h.Write([]byte(u))
		if h.Sum32()%2 == 1 {
			continue
		}
		slices.SortStableFunc(ts, func(x, y ut) int { return cmp.Compare(x.ts, y.ts) })
		last := ts[len(ts)-1].item
		var others []int32
		for q := len(ts) - 1; q >= 0 && len(others) < 3; q-- {
			if it := ts[q].item; it != last && !slices.Contains(others, it) {
				others = append(others, it)
			}
		}
		if len(others) < 2 {
			continue
		}
		drop[u] = last
		for _, a := range others {
			if !slices.Contains(held[a], last) {
				held[a] = append(held[a], last)
			}
		}
	}
	train := make([]events.Event, 0, len(evs))
	for _, e := range evs {
		if d, ok := drop[key(e)]; ok {
			if i, ok := pos[e.ItemID]; ok && i == d {
				continue
			}
		}
		train = append(train, e)
	}
	return train, held
}

// sessionShop reports whether most purchases and carts carry a session or
// order id, so baskets are known rather than guessed from time.
func legacySessionShop(evs []events.Event, cfg Config) bool {
	var with, all int
	for _, e := range evs {
		if (e.Type != events.Purchase && e.Type != events.AddToCart) || cfg.Weight(e.Type, e.Value) <= 0 {
			continue
		}
		all++
		if e.SessionID != "" {
			with++
		}
	}
	return all > 0 && 2*with >= all
}
