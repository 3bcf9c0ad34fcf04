package related

import (
	"cmp"
	"context"
	"hash/fnv"
	"math"
	"slices"

	"github.com/aisle-dev/aisle/catalog"
)

// heldShopperShare is the number of folds of the whole-shopper hold-out:
// each sets aside one shopper in heldShopperShare (by a hash of the id).
const heldShopperShare = 4

// shopperGain is the exponent of the whole-shopper hold-out's item gain,
// 1/n^shopperGain for an item n shoppers bought: with 1 the hold-out
// rewards what a buyer of the anchor took more than other shoppers do.
// Against Amazon Office's "also bought" (validation half, 22 blends) the
// hold-out ranks blends with Spearman 0.56 at 0, 0.88 at 1, 0.89 at 1.5,
// 0.86 at 2 (docs/benchmarks.md).
const shopperGain = 1

// shopperFolds builds the whole-shopper learning set: for each fold, the
// relations of the other shoppers with the blend cfg starts from, scored
// on the held-out ones.
func shopperFolds(ctx context.Context, items []catalog.Item, log *Log, factor, embedded Vectors, cfg Config) (*shopperSet, error) {
	ss := &shopperSet{}
	for fold := range uint32(heldShopperShare) {
		skip, shoppers := shopperHoldOut(items, log, fold, 0)
		ix, err := buildLog(ctx, items, log, skip, factor, embedded, cfg)
		if err != nil {
			return nil, err
		}
		ss.merge(ix.shopperSet(shoppers, maxLearnAnchors/2, shopperGain))
	}
	return ss, nil
}

// shopperHoldOut sets aside every record of about one shopper in
// heldShopperShare (by a hash of the id) and returns the marks over the
// log's records and, per held-out shopper, the distinct items they bought
// (catalogue indexes). This is the hold-out of what bought-together
// means on a product page, "shoppers who bought this also bought": the
// relations built from the other shoppers should list, for each item a
// held-out shopper bought, the other items that shopper bought — at any
// time, in any basket. With within > 0 (seconds) a shopper's purchases
// are instead split into baskets as Build splits them (order ids, else
// purchases within that span) and each basket is one held-out group: the
// hold-out of "bought in the same basket", for comparing the two.
func shopperHoldOut(items []catalog.Item, log *Log, fold uint32, within int64) ([]bool, [][]int32) {
	pos := make(map[string]int32, len(items))
	for i, it := range items {
		pos[it.ID] = int32(i)
	}
	log.seal()
	itemOf := log.itemMap(pos)
	skip := make([]bool, len(log.recs))
	var out [][]int32
	_ = log.eachUser(func(off int, rs []rec) error {
		h := fnv.New32a()
		h.Write([]byte(log.users.ids[rs[0].user]))
		if h.Sum32()%heldShopperShare != fold {
			return nil
		}
		var bought []int32
		var ts []touch
		for q := range rs {
			skip[off+q] = true
			if i := itemOf[rs[q].item]; i >= 0 && rs[q].buy {
				ts = append(ts, touch{i, rs[q].ts, rs[q].session, true})
				if !slices.Contains(bought, i) {
					bought = append(bought, i)
				}
			}
		}
		if within > 0 {
			out = append(out, baskets(ts, within, func(s int32) string { return log.sessions.ids[s] })...)
		} else if len(bought) >= 2 {
			out = append(out, bought)
		}
		return nil
	})
	return skip, out
}

// shopperSet is the learning set of the whole-shopper hold-out: per anchor
// item, its candidates' features and, per held-out shopper who bought it,
// which candidates that shopper also bought.
type shopperSet struct {
	cands [][]features
	// buyers[k] lists, per held-out shopper of anchor k, their other
	// items found among cands[k] and the ideal DCG of all the other items
	// they bought that the surface may answer (not substitutes of the
	// anchor), found among the candidates or not.
	buyers [][]buyer
}

// buyer is one held-out shopper of an anchor: the positions of the other
// items they bought among its candidates, each item's gain, and the ideal
// DCG@10 of all of them.
type buyer struct {
	pos  []int32
	gain []float64
	idcg float64
}

// shopperSet gathers the learning set over at most maxAnchors anchors
// (a sample, spread evenly over the item indexes): the best maxLearnCands
// candidates by the index's complement blend and every bought one the
// candidates hold. Substitutes of the anchor are neither candidates nor
// relevant, as when serving.
//
// An item's gain is 1/n^beta for an item n shoppers bought in the
// training part: 0 counts every item alike, 1 counts what a buyer of the
// anchor took more than other shoppers do (lift) rather than what
// everyone takes.
func (ix *Index) shopperSet(shoppers [][]int32, maxAnchors int, beta float64) *shopperSet {
	byAnchor := map[int32][]int{} // anchor → shoppers who bought it
	for s, its := range shoppers {
		for _, a := range its {
			byAnchor[a] = append(byAnchor[a], s)
		}
	}
	ss := &shopperSet{}
	for _, a := range sampleKeys(byAnchor, maxAnchors) {
		if ix.content.deleted[a] {
			continue
		}
		// what the anchor's held-out shoppers bought besides it, when the
		// surface may answer it
		bought := map[int32]bool{}
		for _, s := range byAnchor[a] {
			for _, j := range shoppers[s] {
				if j != a && !bought[j] {
					_, bought[j] = ix.complementOf(a, j)
				}
			}
		}
		type cf struct {
			j int32
			f features
			s float64
		}
		var fs []cf
		for _, j := range ix.complementCandidates(a, false) {
			if j == a || ix.content.deleted[j] {
				continue
			}
			f, ok := ix.complementOf(a, j)
			if !ok {
				continue
			}
			fs = append(fs, cf{j, f, ix.compW.score(&f)})
		}
		slices.SortStableFunc(fs, func(x, y cf) int { return cmp.Compare(y.s, x.s) })
		var fv []features
		at := map[int32]int32{}
		for k, c := range fs {
			if k < maxLearnCands || bought[c.j] {
				at[c.j] = int32(len(fv))
				fv = append(fv, c.f)
			}
		}
		gain := func(j int32) float64 { return math.Pow(max(ix.beh.count[j], 1), -beta) }
		var buyers []buyer
		for _, s := range byAnchor[a] {
			var by buyer
			var gains []float64
			for _, j := range shoppers[s] {
				if j == a || !bought[j] {
					continue
				}
				g := gain(j)
				gains = append(gains, g)
				if p, ok := at[j]; ok {
					by.pos = append(by.pos, p)
					by.gain = append(by.gain, g)
				}
			}
			if len(gains) == 0 {
				continue
			}
			slices.SortFunc(gains, func(x, y float64) int { return cmp.Compare(y, x) })
			for r, g := range gains[:min(len(gains), 10)] {
				by.idcg += g / math.Log2(float64(r)+2)
			}
			buyers = append(buyers, by)
		}
		if len(buyers) == 0 {
			continue
		}
		ss.cands = append(ss.cands, fv)
		ss.buyers = append(ss.buyers, buyers)
	}
	return ss
}

// ndcg is the mean over anchors of the mean NDCG@10, over the anchor's
// held-out shoppers, of the other items each bought under w.
func (ss *shopperSet) ndcg(w Weights) float64 {
	var sum float64
	scores := make([]float64, 0, maxLearnCands)
	gains := make([]float64, 0, maxLearnCands)
	for k, fs := range ss.cands {
		scores = scores[:0]
		for q := range fs {
			scores = append(scores, w.score(&fs[q]))
		}
		top, n := top10(scores)
		gains = slices.Grow(gains[:0], len(fs))[:len(fs)]
		var per float64
		for _, by := range ss.buyers[k] {
			for q, p := range by.pos {
				gains[p] = by.gain[q]
			}
			var dcg float64
			for r, q := range top[:n] {
				dcg += gains[q] / math.Log2(float64(r)+2)
			}
			per += dcg / by.idcg
			for _, p := range by.pos {
				gains[p] = 0
			}
		}
		sum += per / float64(len(ss.buyers[k]))
	}
	return sum / float64(max(len(ss.cands), 1))
}

// used reports whether signal k is non-zero for any candidate.
func (ss *shopperSet) used(k int) bool { return anyUsed(ss.cands, k) }

// merge adds another fold's learning set.
func (ss *shopperSet) merge(o *shopperSet) {
	ss.cands = append(ss.cands, o.cands...)
	ss.buyers = append(ss.buyers, o.buyers...)
}
