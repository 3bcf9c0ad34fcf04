package related

import (
	"cmp"
	"context"
	"math"
	"slices"
)

// behaviour holds what shoppers did with pairs of items: the same shopper
// touching both (shrunk cosine), the same basket holding both (shrunk
// confidence among pairs above chance, see Config.BasketLift), and which leaf categories are bought by the same shoppers.
type behaviour struct {
	sim    [][]neighbour // per item, best first
	simIdx [][]neighbour // sim by neighbour number, for simOf
	basket [][]neighbour
	bIdx   [][]neighbour // basket by neighbour number
	count  []float64     // shoppers per item
	maxCnt float64
	// recent is shoppers per item, each weighing 2^(−age/half-life) by
	// the age of their last touch at the log's end: what sells now.
	recent  []float64
	recLfMx map[int32]float64 // most recent-weighted shoppers of one item per leaf
	leafOf  []int32
	leafMx  map[int32]float64 // most shoppers of one item per leaf
	catLft  map[int32]map[int32]float64
	catTp   map[int32][]int32 // per leaf, partner leaves by lift
	popLf   map[int32][]int32 // per leaf, items by shoppers
	recLf   map[int32][]int32 // per leaf, items by time-decayed shoppers
	// leafRep is, per leaf, the shrunk share of the baskets holding it
	// that hold two different items of it: near 0 for a kind one buys
	// once (a calculator; a second printer years later is a replacement,
	// not variety), higher for kinds bought in variety (pens, inks).
	leafRep map[int32]float64
	// headRep is leafRep for the kinds titles name (content.head).
	headRep map[int32]float64
	// goesWith holds the pairs of leaves (smaller number first) the shop's
	// baskets hold together more often than chance (kindCounts.goesWith);
	// nil when the baskets were never counted by kind (a restored index
	// of an older snapshot), which turns the kind gate of text off.
	goesWith map[[2]int32]bool
}

type neighbour struct {
	j int32
	s float32
}

// maxPerUser bounds the items of one shopper that are paired up (the most
// recent), so a heavy user costs O(maxPerUser²), not O(n²).
const maxPerUser = 100

type touch struct {
	item    int32
	ts      int64
	session int32 // number in the log's sessions; 0 is none
	buy     bool
}

// buildBehaviour reads the log's records (but those skip marks, when
// given) one shopper at a time: what it holds besides the log is the
// result (pair counts per item, bounded by maxPerUser² per shopper) and
// one shopper's touches.
func buildBehaviour(ctx context.Context, c *content, log *Log, skip []bool, cfg Config) (*behaviour, error) {
	n := len(c.ids)
	log.seal()
	itemOf := log.itemMap(c.pos)
	sessionName := func(s int32) string { return log.sessions.ids[s] }
	b := &behaviour{count: make([]float64, n), recent: make([]float64, n), leafOf: c.leaf}
	var tEnd int64
	for q := range log.recs {
		if itemOf[log.recs[q].item] >= 0 && (skip == nil || !skip[q]) {
			tEnd = max(tEnd, log.recs[q].ts)
		}
	}
	halfLife := cfg.PopularityHalfLife.Seconds()
	// Each shopper's (capped) distinct items and each basket, as sets of
	// item indexes: the pair counts are summed from them one anchor item
	// at a time (pairsOf), so what is held is these sets (at most one
	// entry per event kept) and the kept neighbours, never every pair.
	var userSets, basketSets sets
	bcount := make([]float64, n)
	var nBaskets float64
	leafUsers := map[int32]float64{}
	leafPair := map[[2]int32]float64{}
	leafBaskets, leafRepeat := map[int32]float64{}, map[int32]float64{}
	headBaskets, headRepeat := map[int32]float64{}, map[int32]float64{}
	kinds := newBasketKinds(c)
	var nUsers float64
	k := 0
	var ts []touch
	err := log.eachUser(func(off int, rs []rec) error {
		if k++; k%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		ts = ts[:0]
		for q := range rs {
			i := itemOf[rs[q].item]
			if i < 0 || (skip != nil && skip[off+q]) {
				continue
			}
			ts = append(ts, touch{i, rs[q].ts, rs[q].session, rs[q].buy})
		}
		if len(ts) == 0 {
			return nil
		}
		// distinct items, most recent kept when capped
		seen := map[int32]bool{}
		var items []int32
		for q := len(ts) - 1; q >= 0 && len(items) < maxPerUser; q-- {
			if !seen[ts[q].item] {
				seen[ts[q].item] = true
				items = append(items, ts[q].item)
				b.recent[ts[q].item] += decay(tEnd-ts[q].ts, halfLife)
			}
		}
		nUsers++
		leaves := map[int32]bool{}
		for _, i := range items {
			b.count[i]++
			if l := c.leaf[i]; l >= 0 {
				leaves[l] = true
			}
		}
		userSets.add(items)
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
		for _, bk := range baskets(ts, int64(cfg.BasketWindow.Seconds()), sessionName) {
			nBaskets++
			for _, i := range bk {
				bcount[i]++
			}
			countLeafRepeats(bk, c.leaf, leafBaskets, leafRepeat)
			countLeafRepeats(bk, c.head, headBaskets, headRepeat)
			kinds.add(bk)
			basketSets.add(bk)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, v := range b.count {
		b.maxCnt = max(b.maxCnt, v)
	}
	b.sim, b.simIdx = make([][]neighbour, n), make([][]neighbour, n)
	pairs := newPairCounter(n)
	for i := range n {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		for j, cij := range pairs.of(&userSets, int32(i)) {
			s := float64(cij) / (math.Sqrt(b.count[i]*b.count[j]) + cfg.Shrink)
			b.sim[i] = append(b.sim[i], neighbour{j, float32(s)})
		}
		b.sim[i] = topNeighbours(b.sim[i], cfg.MaxNeighbours)
		b.simIdx[i] = indexOf(b.sim[i])
	}
	b.basket, b.bIdx = make([][]neighbour, n), make([][]neighbour, n)
	alpha, sup := cfg.BasketLift, max(cfg.BasketSupport, 0)
	for i := range n {
		for j, cij := range pairs.of(&basketSets, int32(i)) {
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
	b.leafRep = leafRepeatRates(leafBaskets, leafRepeat)
	b.headRep = leafRepeatRates(headBaskets, headRepeat)
	b.goesWith = kinds.goesWith()
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

// baskets splits one shopper's touches (in time order) into baskets of
// distinct purchased items: by session id when there is one, else by
// purchases within window seconds of the basket's first. Session baskets
// come in the order of the session ids' names (name gives them).
func baskets(ts []touch, window int64, name func(int32) string) [][]int32 {
	var out [][]int32
	bySession := map[int32][]int32{}
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
		if t.session != 0 {
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
	keys := make([]int32, 0, len(bySession))
	for s := range bySession {
		keys = append(keys, s)
	}
	slices.SortFunc(keys, func(x, y int32) int { return cmp.Compare(name(x), name(y)) })
	for _, s := range keys {
		if b := bySession[s]; len(b) > 1 {
			out = append(out, b)
		}
	}
	return out
}

// sets are sets of item indexes (a shopper's items, a basket) in one
// flat slice, with the sets each item is in once indexed.
type sets struct {
	items []int32 // the sets one after another
	start []int   // set k is items[start[k]:start[k+1]]
	of    [][]int32
}

func (s *sets) add(set []int32) {
	if len(set) < 2 {
		return // pairs nothing
	}
	if len(s.start) == 0 {
		s.start = append(s.start, 0)
	}
	s.items = append(s.items, set...)
	s.start = append(s.start, len(s.items))
}

// index lists, per item of n, the sets it is in (once, then kept).
func (s *sets) index(n int) {
	if s.of != nil {
		return
	}
	cnt := make([]int, n)
	for _, i := range s.items {
		cnt[i]++
	}
	flat := make([]int32, len(s.items))
	s.of = make([][]int32, n)
	at := 0
	for i, c := range cnt {
		s.of[i] = flat[at : at : at+c]
		at += c
	}
	for k := 0; k+1 < len(s.start); k++ {
		for _, i := range s.items[s.start[k]:s.start[k+1]] {
			s.of[i] = append(s.of[i], int32(k))
		}
	}
}

// pairCounter counts, for one anchor item at a time, in how many sets
// each other item shares one with it (the sets hold distinct items).
type pairCounter struct {
	acc     []float32
	touched []int32
}

func newPairCounter(n int) *pairCounter { return &pairCounter{acc: make([]float32, n)} }

// of yields the items sharing a set with i and how many sets they share.
func (p *pairCounter) of(s *sets, i int32) func(yield func(int32, float32) bool) {
	s.index(len(p.acc))
	for _, j := range p.touched {
		p.acc[j] = 0
	}
	p.touched = p.touched[:0]
	for _, k := range s.of[i] {
		for _, j := range s.items[s.start[k]:s.start[k+1]] {
			if j == i {
				continue
			}
			if p.acc[j] == 0 {
				p.touched = append(p.touched, j)
			}
			p.acc[j]++
		}
	}
	return func(yield func(int32, float32) bool) {
		for _, j := range p.touched {
			if !yield(j, p.acc[j]) {
				return
			}
		}
	}
}

func topNeighbours(v []neighbour, n int) []neighbour {
	slices.SortFunc(v, func(x, y neighbour) int {
		if c := cmp.Compare(y.s, x.s); c != 0 {
			return c
		}
		return cmp.Compare(x.j, y.j)
	})
	if len(v) > n {
		v = v[:n:n]
	}
	return v
}

// indexOf is v ordered by neighbour number, for lookupOf: 8 bytes a
// neighbour where a map per item held several times that (session 8).
func indexOf(v []neighbour) []neighbour {
	if len(v) == 0 {
		return nil
	}
	out := slices.Clone(v)
	slices.SortFunc(out, func(x, y neighbour) int { return cmp.Compare(x.j, y.j) })
	return out
}

// lookupOf is j's score in idx (ordered by indexOf), 0 when absent.
func lookupOf(idx []neighbour, j int32) float32 {
	if k, ok := slices.BinarySearchFunc(idx, j, func(x neighbour, j int32) int { return cmp.Compare(x.j, j) }); ok {
		return idx[k].s
	}
	return 0
}

func (b *behaviour) simOf(a, j int32) float64 {
	if int(a) >= len(b.simIdx) {
		return 0
	}
	return float64(lookupOf(b.simIdx[a], j))
}

func (b *behaviour) basketOf(a, j int32) float64 {
	if int(a) >= len(b.bIdx) {
		return 0
	}
	return float64(lookupOf(b.bIdx[a], j))
}

// pop is an item's popularity in [0, 1] on a log scale.
func (b *behaviour) pop(j int32) float64 {
	if b.maxCnt <= 0 || int(j) >= len(b.count) {
		return 0
	}
	return math.Log1p(b.count[j]) / math.Log1p(b.maxCnt)
}

// recentInLeaf is an item's time-decayed popularity relative to the top
// item of its leaf.
func (b *behaviour) recentInLeaf(j int32) float64 {
	if int(j) >= len(b.leafOf) || int(j) >= len(b.recent) || b.leafOf[j] < 0 {
		return 0
	}
	mx := b.recLfMx[b.leafOf[j]]
	if mx <= 0 {
		return 0
	}
	return math.Log1p(b.recent[j]) / math.Log1p(mx)
}

// popInLeaf is an item's popularity relative to the top item of its leaf.
func (b *behaviour) popInLeaf(j int32) float64 {
	if int(j) >= len(b.leafOf) || b.leafOf[j] < 0 {
		return 0
	}
	mx := b.leafMx[b.leafOf[j]]
	if mx <= 0 {
		return 0
	}
	return math.Log1p(b.count[j]) / math.Log1p(mx)
}

// catPair is the shrunk lift of shoppers buying in both leaves, in [0, 1].
func (b *behaviour) catPair(l, m int32) float64 {
	if l < 0 || m < 0 {
		return 0
	}
	return min(b.catLft[l][m], 1)
}

// countLeafRepeats adds one basket to the per-leaf counts of baskets
// holding the leaf and of those holding two different items of it.
func countLeafRepeats(bk []int32, leaf []int32, baskets, repeats map[int32]float64) {
	var seen []int32
	for x, i := range bk {
		l := leaf[i]
		if l < 0 || slices.Contains(seen, l) {
			continue
		}
		seen = append(seen, l)
		baskets[l]++
		for _, j := range bk[x+1:] {
			if leaf[j] == l {
				repeats[l]++
				break
			}
		}
	}
}

// leafRepeat is the shrunk share of the baskets holding leaf l that hold
// two different items of it, in [0, 1).
func (b *behaviour) leafRepeat(l int32) float64 {
	if l < 0 {
		return 0
	}
	return b.leafRep[l]
}

// leafRepeatRates is, per leaf, the shrunk share of the baskets holding
// it that hold two different items of it. A leaf has an entry when its
// baskets say something: two different items of it in one basket, or
// enough baskets holding it (then an entry of 0 says "bought one at a
// time", see onceBought).
func leafRepeatRates(baskets, repeats map[int32]float64) map[int32]float64 {
	out := make(map[int32]float64, len(baskets))
	for l, nb := range baskets {
		if r := repeats[l]; r > 0 || nb >= minKindBaskets {
			out[l] = r / (nb + 5)
		}
	}
	return out
}

// minKindBaskets is how many baskets must hold a leaf before never
// seeing two different items of it in one says it is a kind bought one at
// a time.
const minKindBaskets = 5

// onceBought reports whether the shop's baskets show leaf l as a kind
// shoppers buy one of: enough baskets hold it (minKindBaskets) and its
// repeat rate is below tau. A leaf the baskets say nothing about is not.
func (b *behaviour) onceBought(l int32, tau float64) bool {
	if l < 0 {
		return false
	}
	r, ok := b.leafRep[l]
	return ok && r < tau
}

// remapHeads carries per-head values over from one catalogue's head
// numbers to another's, by head name.
func remapHeads(v map[int32]float64, from, to []string) map[int32]float64 {
	num := make(map[string]int32, len(to))
	for h, name := range to {
		num[name] = int32(h)
	}
	out := make(map[int32]float64, len(v))
	for h, x := range v {
		if int(h) < len(from) {
			if nh, ok := num[from[h]]; ok {
				out[nh] = x
			}
		}
	}
	return out
}

// headRepeat is the repeat rate of the kind titles name h (as leafRepeat;
// 0 when the baskets say nothing about it, or h is none).
func (b *behaviour) headRepeat(h int32) float64 {
	if h < 0 {
		return 0
	}
	return b.headRep[h]
}

// catTop returns up to n leaves most bought by the shoppers of leaf l,
// and l itself (complements of a kind are often of the same kind: inks).
func (b *behaviour) catTop(l int32, n int) []int32 {
	ls := b.catTp[l]
	out := append([]int32{l}, ls[:min(n, len(ls))]...)
	return out
}

// decay is 2^(−age/halfLife) rounded to a multiple of 2^−20, so sums of
// them are exact whatever order shoppers are read in.
func decay(age int64, halfLife float64) float64 {
	const unit = 1 << 20
	return math.Round(math.Exp2(-float64(max(age, 0))/halfLife)*unit) / unit
}

// recentByLeaf lists each leaf's items by time-decayed popularity.
func recentByLeaf(byLeaf map[int32][]int32, recent []float64) map[int32][]int32 {
	out := make(map[int32][]int32, len(byLeaf))
	for l, members := range byLeaf {
		ms := slices.Clone(members)
		slices.SortFunc(ms, func(x, y int32) int {
			if c := cmp.Compare(recent[y], recent[x]); c != 0 {
				return c
			}
			return cmp.Compare(x, y)
		})
		out[l] = ms
	}
	return out
}

// recentIn returns up to n items of leaf l, most bought lately first.
func (b *behaviour) recentIn(l int32, n int) []int32 {
	ms := b.recLf[l]
	return ms[:min(n, len(ms))]
}

// popularIn returns up to n items of leaf l, most popular first.
func (b *behaviour) popularIn(l int32, n int) []int32 {
	ms := b.popLf[l]
	return ms[:min(n, len(ms))]
}

// remap moves the behaviour onto a new catalogue (items matched by id);
// items new to the catalogue have no behaviour yet.
func (b *behaviour) remap(from, to *content) *behaviour {
	m := make([]int32, len(from.ids)) // old → new, -1 when gone
	for i, id := range from.ids {
		if j, ok := to.pos[id]; ok {
			m[i] = j
		} else {
			m[i] = -1
		}
	}
	n := len(to.ids)
	nb := &behaviour{count: make([]float64, n), maxCnt: b.maxCnt, recent: make([]float64, n), leafOf: to.leaf, catLft: b.catLft, catTp: b.catTp,
		sim: make([][]neighbour, n), simIdx: make([][]neighbour, n), basket: make([][]neighbour, n), bIdx: make([][]neighbour, n)}
	move := func(v []neighbour) []neighbour {
		if len(v) == 0 {
			return nil
		}
		out := make([]neighbour, 0, len(v)) // not append's doubling: one array a list, kept for the index's life
		for _, x := range v {
			if m[x.j] >= 0 {
				out = append(out, neighbour{m[x.j], x.s})
			}
		}
		return out
	}
	for i := range from.ids {
		j := m[i]
		if j < 0 {
			continue
		}
		nb.count[j] = b.count[i]
		nb.recent[j] = b.recent[i]
		nb.sim[j] = move(b.sim[i])
		nb.simIdx[j] = indexOf(nb.sim[j])
		nb.basket[j] = move(b.basket[i])
		nb.bIdx[j] = indexOf(nb.basket[j])
	}
	// Leaf ids are numbered by each catalogue: carry the leaf tables over
	// by leaf name.
	lm := map[int32]int32{}
	for l, name := range from.leafNames {
		if k, ok := to.leafIDs[name]; ok {
			lm[int32(l)] = k
		}
	}
	nb.catLft, nb.catTp, nb.leafRep = map[int32]map[int32]float64{}, map[int32][]int32{}, map[int32]float64{}
	for l, v := range b.leafRep {
		if nl, ok := lm[l]; ok {
			nb.leafRep[nl] = v
		}
	}
	nb.headRep = remapHeads(b.headRep, from.headNames, to.headNames)
	if b.goesWith != nil {
		nb.goesWith = make(map[[2]int32]bool, len(b.goesWith))
		for p := range b.goesWith {
			l, okl := lm[p[0]]
			m, okm := lm[p[1]]
			if okl && okm {
				nb.goesWith[[2]int32{min(l, m), max(l, m)}] = true
			}
		}
	}
	for l, row := range b.catLft {
		nl, ok := lm[l]
		if !ok {
			continue
		}
		nr := map[int32]float64{}
		for x, v := range row {
			if y, ok := lm[x]; ok {
				nr[y] = v
			}
		}
		nb.catLft[nl] = nr
	}
	for l, ls := range b.catTp {
		nl, ok := lm[l]
		if !ok {
			continue
		}
		for _, x := range ls {
			if y, ok := lm[x]; ok {
				nb.catTp[nl] = append(nb.catTp[nl], y)
			}
		}
	}
	nb.popLf, nb.leafMx, nb.recLfMx = map[int32][]int32{}, map[int32]float64{}, map[int32]float64{}
	for l, members := range to.byLeaf {
		for _, i := range members {
			nb.recLfMx[l] = max(nb.recLfMx[l], nb.recent[i])
		}
		ms := slices.Clone(members)
		slices.SortFunc(ms, func(x, y int32) int {
			if c := cmp.Compare(nb.count[y], nb.count[x]); c != 0 {
				return c
			}
			return cmp.Compare(x, y)
		})
		nb.popLf[l] = ms
		if len(ms) > 0 {
			nb.leafMx[l] = nb.count[ms[0]]
		}
	}
	nb.recLf = recentByLeaf(to.byLeaf, nb.recent)
	return nb
}
