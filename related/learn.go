package related

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"slices"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// LearnReport says what Learn did.
type LearnReport struct {
	// Anchors is how many items had held-out co-interactions to learn
	// from; below MinAnchors the defaults are kept.
	Anchors int
	// Learned is false when there was too little to learn from; when it
	// is true, a blend that did not beat the defaults by minLearnGain on
	// the hold-out was dropped for them all the same.
	Learned bool
	// Similar and Complement are the weights chosen.
	Similar, Complement Weights
	// NDCG of the held-out co-interactions (at 10) with the default and
	// the learned weights.
	SimilarBefore, SimilarAfter       float64
	ComplementBefore, ComplementAfter float64
	// Model describes the learned complement model when
	// Config.ComplementModel asked for one ("" otherwise); ModelBlend and
	// ModelNDCG are the held-out NDCG@10 of the learned blend and of the
	// model (cross-fitted on two halves of the anchors), and ModelUsed
	// says whether it beat the blend by minLearnGain and serves.
	Model                 string
	ModelBlend, ModelNDCG float64
	ModelUsed             bool
}

// MinAnchors is the fewest items with held-out co-interactions Learn needs
// to trust what it learns.
const MinAnchors = 30

// minLearnGain is the relative gain on the hold-out a learned blend must
// reach over the defaults to replace them: coordinate ascent always finds
// some gain, and below this it was noise that lost on unseen baskets
// (Online Retail: +1.3 % on the hold-out, next-basket HR@10 0.5596 →
// 0.5496 on the validation split).
const minLearnGain = 0.05

// maxLearnAnchors bounds the anchors used for learning (a sample), and
// maxLearnCands the candidates scored per anchor.
const (
	maxLearnAnchors = 1500
	maxLearnCands   = 300
)

// Learn builds an index whose blend weights are learned on the shop's own
// behaviour: it holds out the newest item of about half of the shoppers,
// builds from the rest, and picks the weights under which the held-out
// item ranks best among the related items of that shopper's other items —
// does a blend of content and behaviour predict what the same shopper
// touched next? A shop with little behaviour keeps content-led weights; a
// busy one learns to trust co-interactions. The returned index is built
// from all events with the learned weights. Weights set in cfg are kept
// as they are. It reads the events into a Log first; a caller reading a
// store should fill a Log itself and call LearnLog.
func Learn(ctx context.Context, items []catalog.Item, evs []events.Event, factor, embedded Vectors, cfg Config, progress func(string)) (*Index, LearnReport, error) {
	return LearnLog(ctx, items, newLogOf(evs, cfg), factor, embedded, cfg, progress)
}

// LearnLog is Learn from a Log (whose Weight decides which events count):
// the hold-out is a mask over the log's records, not a copy of them.
func LearnLog(ctx context.Context, items []catalog.Item, log *Log, factor, embedded Vectors, cfg Config, progress func(string)) (*Index, LearnReport, error) {
	if progress == nil {
		progress = func(string) {}
	}
	cfg.defaults()
	var rep LearnReport
	rep.Similar, rep.Complement = DefaultSimilar(), DefaultComplement()
	var model *pairModel
	skip, held := holdOut(items, log)
	if len(held) >= MinAnchors && (cfg.Similar == nil || cfg.Complement == nil) {
		progress(fmt.Sprintf("related: learning the blend on %d held-out co-interactions", len(held)))
		ix, err := buildLog(ctx, items, log, skip, factor, embedded, cfg)
		if err != nil {
			return nil, rep, err
		}
		rep.Anchors = len(held)
		anchors := sampleKeys(held, maxLearnAnchors)
		if cfg.Similar == nil {
			set := ix.learnSet(anchors, held, false)
			rep.SimilarBefore = set.ndcg(rep.Similar)
			// The content signals keep their defaults: co-interactions
			// reward what is bought with an item more than what stands in
			// for it, and learning the content balance from them made
			// similar items worse (docs/benchmarks.md). The hold-out
			// decides how far to trust behaviour and item vectors.
			var frozen [NumSignals]bool
			for k := range frozen {
				frozen[k] = k != SigBehaviour && k != SigFactor && k != SigEmbed
			}
			if !log.browsing {
				// Only purchases: a shopper rarely buys two substitutes,
				// so the same shopper buying both says "complement",
				// not "similar"; behaviour keeps its small prior.
				frozen[SigBehaviour] = true
			}
			rep.Similar = ascend(set, rep.Similar, false, frozen)
			rep.SimilarAfter = set.ndcg(rep.Similar)
			if rep.SimilarAfter < rep.SimilarBefore*(1+minLearnGain) {
				rep.Similar, rep.SimilarAfter = DefaultSimilar(), rep.SimilarBefore
			}
			progress(fmt.Sprintf("related: similar NDCG@10 on held-out %.4f → %.4f (%s)", rep.SimilarBefore, rep.SimilarAfter, rep.Similar))
		}
		if err := ctx.Err(); err != nil {
			return nil, rep, err
		}
		if cfg.Complement == nil {
			var set objective
			if cfg.ComplementHoldOut == HoldOutShoppers {
				progress("related: learning the complement blend on whole held-out shoppers")
				ss, err := shopperFolds(ctx, items, log, factor, embedded, cfg)
				if err != nil {
					return nil, rep, err
				}
				set = ss
			} else {
				set = ix.learnSet(anchors, held, true)
			}
			rep.ComplementBefore = set.ndcg(rep.Complement)
			// As for similar items, the content balance is a default: the
			// shopper's next purchase rewarded whatever content weights
			// fitted its noise and lost against Amazon's "also bought"
			// (docs/benchmarks.md); the hold-out decides how far to trust
			// shoppers, baskets, popularity and item vectors.
			var frozen [NumSignals]bool
			for _, k := range []int{SigLeaf, SigPath, SigBrand, SigAttrs, SigText, SigCatPair} {
				frozen[k] = true
			}
			rep.Complement = ascend(set, rep.Complement, true, frozen)
			rep.ComplementAfter = set.ndcg(rep.Complement)
			if rep.ComplementAfter < rep.ComplementBefore*(1+minLearnGain) {
				rep.Complement, rep.ComplementAfter = DefaultComplement(), rep.ComplementBefore
			}
			progress(fmt.Sprintf("related: complement NDCG@10 on held-out %.4f → %.4f (%s)", rep.ComplementBefore, rep.ComplementAfter, rep.Complement))
		}
		if cfg.ComplementModel != ModelOff && cfg.Complement == nil {
			ix.compW = rep.Complement
			groups := ix.choiceGroups(anchors, held, uint64(len(held)))
			rep.ModelBlend, rep.ModelNDCG = blendNDCG(groups), crossFit(groups)
			model = fitPairModel(groups)
			rep.Model = model.String()
			rep.ModelUsed = cfg.ComplementModel == ModelAlways || rep.ModelNDCG >= rep.ModelBlend*(1+minLearnGain)
			progress(fmt.Sprintf("related: complement model held-out NDCG@10 %.4f (blend %.4f), used: %v (%s)", rep.ModelNDCG, rep.ModelBlend, rep.ModelUsed, rep.Model))
		}
		rep.Learned = true
	}
	if cfg.Similar == nil {
		w := rep.Similar
		cfg.Similar = &w
	} else {
		rep.Similar = *cfg.Similar
	}
	if cfg.Complement == nil {
		w := rep.Complement
		cfg.Complement = &w
	} else {
		rep.Complement = *cfg.Complement
	}
	ix, err := BuildLog(ctx, items, log, factor, embedded, cfg)
	if err == nil && rep.ModelUsed {
		ix.compModel = model
	}
	return ix, rep, err
}

// holdOut marks, from about half of the baskets (when events carry
// session or order ids) or else of the shoppers, the newest item of those
// with at least three items, and returns the marks over the log's records
// (the hold-out's training set is the log without them) and, per anchor
// item (the basket's or shopper's three newest other items), the held-out
// items. Baskets make complements learn what completes a basket;
// shoppers, what the same shopper takes next.
func holdOut(items []catalog.Item, log *Log) ([]bool, map[int32][]int32) {
	pos := make(map[string]int32, len(items))
	for i, it := range items {
		pos[it.ID] = int32(i)
	}
	log.seal()
	itemOf := log.itemMap(pos)
	bySession := log.sessionShop()
	skip := make([]bool, len(log.recs))
	held := map[int32][]int32{}
	var key []byte
	var ts []int // one key's records, as indexes into the log's, in time order
	consider := func(user, session int32) {
		if len(ts) == 0 {
			return
		}
		key = append(key[:0], log.users.ids[user]...)
		if bySession {
			key = append(append(key, 0), log.sessions.ids[session]...)
		}
		h := fnv.New32a()
		h.Write(key)
		if h.Sum32()%2 == 1 {
			return
		}
		last := itemOf[log.recs[ts[len(ts)-1]].item]
		var others []int32
		for q := len(ts) - 1; q >= 0 && len(others) < 3; q-- {
			if it := itemOf[log.recs[ts[q]].item]; it != last && !slices.Contains(others, it) {
				others = append(others, it)
			}
		}
		if len(others) < 2 {
			return
		}
		for _, r := range ts {
			if itemOf[log.recs[r].item] == last {
				skip[r] = true
			}
		}
		for _, a := range others {
			if !slices.Contains(held[a], last) {
				held[a] = append(held[a], last)
			}
		}
	}
	var sessions []int32
	_ = log.eachUser(func(off int, rs []rec) error {
		if !bySession {
			ts = ts[:0]
			for q := range rs {
				if itemOf[rs[q].item] >= 0 {
					ts = append(ts, off+q)
				}
			}
			consider(rs[0].user, 0)
			return nil
		}
		sessions = sessions[:0]
		for q := range rs {
			if s := rs[q].session; s != 0 && itemOf[rs[q].item] >= 0 && !slices.Contains(sessions, s) {
				sessions = append(sessions, s)
			}
		}
		for _, s := range sessions {
			ts = ts[:0]
			for q := range rs {
				if rs[q].session == s && itemOf[rs[q].item] >= 0 {
					ts = append(ts, off+q)
				}
			}
			consider(rs[0].user, s)
		}
		return nil
	})
	return skip, held
}

// sampleKeys returns up to n of m's keys, in order and spread evenly over
// them (deterministic).
func sampleKeys[V any](m map[int32]V, n int) []int32 {
	keys := make([]int32, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) > n {
		keys = sample(keys, n)
	}
	return keys
}

// sample keeps n of xs, spread evenly (deterministic).
func sample(xs []int32, n int) []int32 {
	out := make([]int32, 0, n)
	step := float64(len(xs)) / float64(n)
	for k := 0; k < n; k++ {
		out = append(out, xs[int(float64(k)*step)])
	}
	return out
}

// learnSet is the candidates and features of the learning anchors.
type learnSet struct {
	cands [][]features
	rel   [][]bool
	nRel  []int
}

func (ix *Index) learnSet(anchors []int32, held map[int32][]int32, complement bool) *learnSet {
	w := ix.simW
	if complement {
		w = ix.compW
	}
	ls := &learnSet{}
	for _, a := range anchors {
		var cands []int32
		if complement {
			cands = ix.complementCandidates(a, false)
		} else {
			cands = ix.similarCandidates(a)
		}
		type cf struct {
			f features
			s float64
			r bool
		}
		var fs []cf
		for _, j := range cands {
			if j == a {
				continue
			}
			var f features
			if complement {
				var ok bool
				if f, ok = ix.complementOf(a, j); !ok {
					continue
				}
			} else {
				f = ix.similarFeatures(a, j)
			}
			fs = append(fs, cf{f, w.score(&f), slices.Contains(held[a], j)})
		}
		// keep the best candidates by the starting blend, and every
		// relevant one any signal found, so learning sees what it can reach
		slices.SortFunc(fs, func(x, y cf) int { return cmp.Compare(y.s, x.s) })
		var fv []features
		var rv []bool
		for k, c := range fs {
			if k < maxLearnCands || c.r {
				fv = append(fv, c.f)
				rv = append(rv, c.r)
			}
		}
		ls.cands = append(ls.cands, fv)
		ls.rel = append(ls.rel, rv)
		ls.nRel = append(ls.nRel, len(held[a]))
	}
	return ls
}

// ndcg is the mean NDCG@10 of the held-out items under w.
func (ls *learnSet) ndcg(w Weights) float64 {
	var sum float64
	scores := make([]float64, 0, maxLearnCands)
	for k, fs := range ls.cands {
		scores = scores[:0]
		for q := range fs {
			scores = append(scores, w.score(&fs[q]))
		}
		sum += ndcgAt10(scores, ls.rel[k], ls.nRel[k])
	}
	return sum / float64(max(len(ls.cands), 1))
}

// ndcgAt10 ranks by score (positive scores only, ties by position) and
// scores binary relevance against nRel relevant items.
func ndcgAt10(scores []float64, rel []bool, nRel int) float64 {
	if nRel == 0 {
		return 0
	}
	top, n := top10(scores)
	return dcgAt10(top[:n], rel, nRel)
}

// top10 returns the positions of the ten best positive scores, best
// first (ties by position), and how many there are.
func top10(scores []float64) ([10]int, int) {
	var top [10]int
	n := 0
	for q, s := range scores {
		if s <= 0 {
			continue
		}
		p := n
		if n < 10 {
			n++
		} else if s <= scores[top[9]] {
			continue
		} else {
			p = 9
		}
		for p > 0 && scores[top[p-1]] < s {
			top[p] = top[p-1]
			p--
		}
		top[p] = q
	}
	return top, n
}

// dcgAt10 is the NDCG of a ranking (positions, best first) with binary
// relevance against nRel relevant items.
func dcgAt10(top []int, rel []bool, nRel int) float64 {
	if nRel == 0 {
		return 0
	}
	var dcg, idcg float64
	for r, q := range top {
		if rel[q] {
			dcg += 1 / math.Log2(float64(r)+2)
		}
	}
	for r := 0; r < min(nRel, 10); r++ {
		idcg += 1 / math.Log2(float64(r)+2)
	}
	return dcg / idcg
}

// grid is the values coordinate ascent tries for one weight.
var grid = []float64{0, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2, 3, 5}

// negGrid adds the negative values complements may take (a penalty for
// being of the same kind as the anchor).
var negGrid = []float64{-1, -0.5, -0.2, -0.1}

// objective is a hold-out a blend is scored on.
type objective interface {
	ndcg(w Weights) float64
	used(k int) bool
}

// ascend improves w one weight at a time (coordinate ascent over a grid),
// a few rounds, keeping a change only when it helps.
func ascend(ls objective, w Weights, complement bool, frozen [NumSignals]bool) Weights {
	best := ls.ndcg(w)
	for round := 0; round < 3; round++ {
		improved := false
		for k := range w.W {
			if frozen[k] || !ls.used(k) {
				continue
			}
			vals := grid
			switch {
			case complement && (k == SigText || k == SigLeaf || k == SigBrand || k == SigPath):
				// substitutes are kept out by the rule, not the blend: text,
				// category and brand in common may count either way
				vals = append(slices.Clone(negGrid), grid...)
			}
			for _, v := range vals {
				if v == w.W[k] {
					continue
				}
				t := w
				t.W[k] = v
				if s := ls.ndcg(t); s > best+1e-4 {
					best, w, improved = s, t, true
				}
			}
		}
		if !improved {
			break
		}
	}
	return w
}

// used reports whether signal k is non-zero for any candidate.
func (ls *learnSet) used(k int) bool { return anyUsed(ls.cands, k) }

// anyUsed reports whether signal k is non-zero for any candidate.
func anyUsed(cands [][]features, k int) bool {
	for _, fs := range cands {
		for q := range fs {
			if fs[q][k] != 0 {
				return true
			}
		}
	}
	return false
}
