package pipeline

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"github.com/aisle-dev/aisle/eval"
	"github.com/aisle-dev/aisle/model"
)

// Weighting is how a model's interaction weights were prepared and how a
// user's history is weighed when the model is queried. Training chooses it
// on validation and stores it in the artefact, so serving weighs a user's
// history exactly as the validation that chose the model did.
type Weighting struct {
	// Binary makes every interaction weigh 1 (event types and repeats are
	// ignored).
	Binary bool `json:"binary,omitempty"`
	// Scale multiplies every weight (0 means 1). Training sets it to one
	// over the mean interaction weight, so that a model's regularisation
	// (EASE's λ, iALS's α) means the same whatever the scale of the event
	// weights (purchase 8 or 1, ratings 1–5).
	Scale float64 `json:"scale,omitempty"`
	// RecentBoost raises the weight of the user's newest items in the query
	// history: the item with r newer items after it weighs
	// (1 + RecentBoost·2^(−r/RecentHalfLife)) times its base weight. The
	// base is the user's whole history; recent events adjust it.
	RecentBoost    float64 `json:"recent_boost,omitempty"`
	RecentHalfLife float64 `json:"recent_half_life,omitempty"`
}

// Base is the model weight of an interaction whose summed event weight is raw.
func (w Weighting) Base(raw float32) float32 {
	if w.Binary {
		return 1
	}
	if w.Scale > 0 {
		return raw * float32(w.Scale)
	}
	return raw
}

// Recency is the factor for a history item with newer items after it.
func (w Weighting) Recency(newer int) float32 {
	if w.RecentBoost <= 0 || w.RecentHalfLife <= 0 {
		return 1
	}
	return float32(1 + w.RecentBoost*math.Exp2(-float64(newer)/w.RecentHalfLife))
}

// String describes the weighting for people, e.g. "binary, recent ×(1+3·2^(−r/5))".
func (w Weighting) String() string {
	s := "raw"
	switch {
	case w.Binary:
		s = "binary"
	case w.Scale > 0 && w.Scale != 1:
		s = fmt.Sprintf("scaled ×%.3g", w.Scale)
	}
	if w.RecentBoost > 0 && w.RecentHalfLife > 0 {
		s += fmt.Sprintf(", recent ×(1+%g·2^(−r/%g))", w.RecentBoost, w.RecentHalfLife)
	}
	return s
}

// QueryWeights weighs a history (oldest first) of raw weights for a query.
func (w Weighting) QueryWeights(raw []float32) []float32 {
	out := make([]float32, len(raw))
	for k, v := range raw {
		out[k] = w.Base(v) * w.Recency(len(raw)-1-k)
	}
	return out
}

// apply returns ds with its weights prepared by w (Recency is a query-time
// matter and is not applied).
func (w Weighting) apply(ds *model.Dataset) *model.Dataset {
	if ds.Weights == nil || (!w.Binary && (w.Scale == 0 || w.Scale == 1)) {
		return ds
	}
	out := *ds
	out.Weights = make([]float32, len(ds.Weights))
	for k, v := range ds.Weights {
		out.Weights[k] = w.Base(v)
	}
	return &out
}

// weightings lists the base weightings worth trying on ds: its weights
// scaled to mean 1, and binary when the weights are not all equal already.
func weightings(ds *model.Dataset) []Weighting {
	if len(ds.Weights) == 0 {
		return []Weighting{{}}
	}
	var sum float64
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range ds.Weights {
		sum += float64(v)
		lo, hi = min(lo, v), max(hi, v)
	}
	scaled := Weighting{Scale: float64(len(ds.Weights)) / sum}
	if sum <= 0 || lo == hi {
		return []Weighting{{Binary: true}}
	}
	return []Weighting{scaled, {Binary: true}}
}

// recencyGrid are the recent-event adjustments validation tries; the first
// (none) wins ties.
var recencyGrid = []struct{ boost, halfLife float64 }{{0, 0}, {1, 5}, {3, 5}, {1, 20}}

// ServedValidationKey marks metrics measured by the served-path validation
// (newest interactions of each sampled user held out, whole history as the
// query, consumed items excluded); versions without it were measured
// otherwise and are not compared with those that have it.
const ServedValidationKey = "served_validation"

// Split holds out part of each sampled user's interactions and keeps the
// rest for fitting; the model must rank the held-out items from the user's
// whole remaining history, as the server queries it. Half the sampled
// users lend their newest fifth (what a shop's users do next), half a
// random share of 10–50 % (the taste a history reveals in any order, from
// histories known well or barely): a model that wins only on one of the
// two does not win the choice outright, and a recency boost must not cost
// the random half at all.
type Split struct {
	Train   *model.Dataset
	Users   []int32   // sampled users
	Targets [][]int32 // held-out items of each sampled user
	Newest  []bool    // whether the user lent their newest items (else random ones)
	// Workers bounds the goroutines of Evaluate (0: one per core).
	Workers int
}

// holdoutFraction is the share of a newest-half user's interactions held
// out (at least one).
const holdoutFraction = 0.2

// randomShareMin and randomShareMax bound the share of a random-half
// user's interactions held out, drawn uniformly per user: the taste a
// history reveals is asked of users the shop knows well and of users it
// knows a little of. A fixed fifth measured one point of that range, and a
// recent-event boost that passed it cost a test that holds out two fifths
// (ML-100k u1: −0.0064 NDCG@10, docs/recommendation-quality.md).
const (
	randomShareMin = 0.1
	randomShareMax = 0.5
)

// maxHoldouts bounds the hold-outs a small shop's validation repeats.
const maxHoldouts = 4

// holdouts returns the hold-outs validation measures on: one of up to n
// users, and, when the shop has fewer eligible users than n, fresh draws
// (seeds seed+1, …) until about n users are measured, at most
// maxHoldouts: on a shop of a thousand users one draw is too noisy to
// choose between models (ML-100k: the winner changed with the seed;
// docs/recommendation-quality.md). The first is holdout(ds, n, seed).
func holdouts(ds *model.Dataset, n int, seed uint64) []*Split {
	first := holdout(ds, n, seed)
	if first == nil || len(first.Users) == 0 {
		return nil
	}
	out := []*Split{first}
	for k := 1; k < maxHoldouts && k*len(first.Users) < n; k++ {
		out = append(out, holdout(ds, n, seed+uint64(k)))
	}
	return out
}

// meanMetrics averages metrics key by key.
func meanMetrics(ms []map[string]float64) map[string]float64 {
	if len(ms) == 1 {
		return ms[0]
	}
	out := map[string]float64{}
	for _, m := range ms {
		for k, v := range m {
			out[k] += v / float64(len(ms))
		}
	}
	return out
}

// holdout builds the split; users need at least 3 interactions to lend
// some (they keep at least 2).
func holdout(ds *model.Dataset, n int, seed uint64) *Split {
	if n < 0 || ds.NumUsers() == 0 {
		return nil
	}
	var eligible []int32
	for u := 0; u < ds.NumUsers(); u++ {
		if len(ds.Row(u)) >= 3 {
			eligible = append(eligible, int32(u))
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	rng.Shuffle(len(eligible), func(i, j int) { eligible[i], eligible[j] = eligible[j], eligible[i] })
	if len(eligible) > n {
		eligible = eligible[:n]
	}
	newest := make(map[int32]bool, len(eligible)) // else a random fifth
	for k, u := range eligible {
		newest[u] = k%2 == 0
	}
	tr := &model.Dataset{
		UserIDs: ds.UserIDs, ItemIDs: ds.ItemIDs, ItemText: ds.ItemText, ItemAttrs: ds.ItemAttrs, NumAttrs: ds.NumAttrs,
		UserPtr: make([]int, 1, ds.NumUsers()+1),
	}
	sp := &Split{Train: tr}
	keep := func(ds *model.Dataset, j int) {
		tr.Items = append(tr.Items, ds.Items[j])
		if ds.Weights != nil {
			tr.Weights = append(tr.Weights, ds.Weights[j])
		}
		if ds.Times != nil {
			tr.Times = append(tr.Times, ds.Times[j])
		}
		if ds.Ratings != nil {
			tr.Ratings = append(tr.Ratings, ds.Ratings[j])
		}
	}
	for u := 0; u < ds.NumUsers(); u++ {
		lo, hi := ds.UserPtr[u], ds.UserPtr[u+1]
		isNewest, held := newest[int32(u)]
		if !held {
			for j := lo; j < hi; j++ {
				keep(ds, j)
			}
			tr.UserPtr = append(tr.UserPtr, len(tr.Items))
			continue
		}
		frac := holdoutFraction
		if !isNewest {
			frac = randomShareMin + (randomShareMax-randomShareMin)*rng.Float64()
		}
		k := max(1, min(hi-lo-2, int(math.Round(frac*float64(hi-lo)))))
		out := make([]bool, hi-lo)
		if isNewest {
			for j := hi - lo - k; j < hi-lo; j++ {
				out[j] = true
			}
		} else {
			for _, j := range rng.Perm(hi - lo)[:k] {
				out[j] = true
			}
		}
		var targets []int32
		for j := lo; j < hi; j++ {
			if out[j-lo] {
				targets = append(targets, ds.Items[j])
			} else {
				keep(ds, j)
			}
		}
		sp.Users = append(sp.Users, int32(u))
		sp.Targets = append(sp.Targets, targets)
		sp.Newest = append(sp.Newest, isNewest)
		tr.UserPtr = append(tr.UserPtr, len(tr.Items))
	}
	return sp
}

// Evaluate queries m for each sampled user as the server does (the user's
// index and their whole training history, weighed by w), ranks all items
// except those in the history, and returns NDCG@k, Recall@k, HR@k and MRR
// (of the first held-out item found) averaged over users, NDCG@k of each
// half (keys suffixed :random and :newest), with ServedValidationKey set.
// It uses Workers goroutines (every core when 0).
func (sp *Split) Evaluate(m model.Model, k int, w Weighting) map[string]float64 {
	met, _ := sp.evaluate(k, w, 1, func(q model.Query, out [][]float32) { m.Score(q, out[0]) })
	return met[0]
}

// evaluateUsers is Evaluate at cut-off 10 that also returns each sampled
// user's NDCG@10 (in Users order).
func (sp *Split) evaluateUsers(m model.Model, w Weighting) (map[string]float64, []float64) {
	met, users := sp.evaluate(10, w, 1, func(q model.Query, out [][]float32) { m.Score(q, out[0]) })
	return met[0], users[0]
}

// evaluate measures variants score vectors per sampled user at once (score
// writes one vector per variant into out, each as long as the catalogue),
// as Evaluate measures one model, so that variants that share expensive
// scoring (the weights of a blend) are scored once per user. It also
// returns each variant's NDCG@k per sampled user (in Users order).
func (sp *Split) evaluate(k int, w Weighting, variants int, score func(q model.Query, out [][]float32)) ([]map[string]float64, [][]float64) {
	nItems := sp.Train.NumItems()
	workers := runtime.GOMAXPROCS(0)
	if sp.Workers > 0 {
		workers = sp.Workers
	}
	type sums struct {
		ndcg, recall, hr, mrr float64
		half                  [2]float64 // NDCG of the random and the newest half
		halfN                 [2]int
	}
	total := make([]sums, variants)
	perUser := make([][]float64, variants)
	for v := range perUser {
		perUser[v] = make([]float64, len(sp.Users))
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for wk := 0; wk < workers; wk++ {
		wg.Add(1)
		go func(wk int) {
			defer wg.Done()
			out := make([][]float32, variants)
			for v := range out {
				out[v] = make([]float32, nItems)
			}
			seen := make([]bool, nItems)
			target := make([]bool, nItems)
			local := make([]sums, variants)
			for i := wk; i < len(sp.Users); i += workers {
				u := sp.Users[i]
				row := sp.Train.Row(int(u))
				raw := sp.Train.RowWeights(int(u))
				if raw == nil {
					raw = make([]float32, len(row))
					for j := range raw {
						raw[j] = 1
					}
				}
				score(model.Query{User: u, History: row, HistoryWeights: w.QueryWeights(raw)}, out)
				for _, it := range row {
					seen[it] = true
				}
				for _, t := range sp.Targets[i] {
					target[t] = true
				}
				h := 0
				if sp.Newest[i] {
					h = 1
				}
				nRel := len(sp.Targets[i])
				for v := range out {
					top := topAllowed(out[v], seen, k)
					hits := make([]bool, len(top))
					for r, it := range top {
						hits[r] = target[it]
					}
					l := &local[v]
					nd := eval.NDCG(hits, k, nRel)
					perUser[v][i] = nd
					l.ndcg += nd
					l.half[h] += nd
					l.halfN[h]++
					l.recall += eval.Recall(hits, k, nRel)
					l.hr += eval.HR(hits, k)
					if r := slices.Index(hits, true); r >= 0 {
						l.mrr += 1 / float64(r+1)
					}
				}
				for _, it := range row {
					seen[it] = false
				}
				for _, t := range sp.Targets[i] {
					target[t] = false
				}
			}
			mu.Lock()
			for v, l := range local {
				t := &total[v]
				t.ndcg, t.recall, t.hr, t.mrr = t.ndcg+l.ndcg, t.recall+l.recall, t.hr+l.hr, t.mrr+l.mrr
				for h := range t.half {
					t.half[h] += l.half[h]
					t.halfN[h] += l.halfN[h]
				}
			}
			mu.Unlock()
		}(wk)
	}
	wg.Wait()
	res := make([]map[string]float64, variants)
	n := float64(len(sp.Users))
	if n == 0 {
		return res, perUser
	}
	for v, t := range total {
		res[v] = map[string]float64{
			fmt.Sprintf("NDCG@%d", k):        t.ndcg / n,
			fmt.Sprintf("Recall@%d", k):      t.recall / n,
			fmt.Sprintf("HR@%d", k):          t.hr / n,
			fmt.Sprintf("MRR@%d", k):         t.mrr / n,
			fmt.Sprintf("NDCG@%d:random", k): t.half[0] / float64(max(1, t.halfN[0])),
			fmt.Sprintf("NDCG@%d:newest", k): t.half[1] / float64(max(1, t.halfN[1])),
			ServedValidationKey:              1,
		}
	}
	return res, perUser
}

// recencyTolerance is how much NDCG@10 on the users who lent random
// interactions a recent-event boost may cost and still be chosen (none): a boost
// must help what users do next without losing the taste their whole
// history shows.
const recencyTolerance = 0

// preferWeighting reports whether metrics cand (with recency boost
// candBoost) should replace best, measured with the same base weighting
// and no boost as base.
func preferWeighting(cand, best, base map[string]float64, candBoost float64) bool {
	if cand["NDCG@10"] <= best["NDCG@10"] {
		return false
	}
	if candBoost > 0 && base != nil && cand["NDCG@10:random"] < base["NDCG@10:random"]*(1-recencyTolerance) {
		return false
	}
	return true
}

// topAllowed returns the k best-scored items not excluded, best first
// (ties by lower index; NaN scores never rank).
func topAllowed(scores []float32, excluded []bool, k int) []int32 {
	type c struct {
		i int32
		s float32
	}
	h := make([]c, 0, k+1)
	less := func(a, b c) bool { return a.s < b.s || (a.s == b.s && a.i > b.i) }
	for i, s := range scores {
		if excluded[i] || math.IsNaN(float64(s)) {
			continue
		}
		x := c{int32(i), s}
		if len(h) == k {
			if !less(h[0], x) {
				continue
			}
			h[0] = x
			for j := 0; ; { // sift down
				l, r, m := 2*j+1, 2*j+2, j
				if l < len(h) && less(h[l], h[m]) {
					m = l
				}
				if r < len(h) && less(h[r], h[m]) {
					m = r
				}
				if m == j {
					break
				}
				h[j], h[m] = h[m], h[j]
				j = m
			}
			continue
		}
		h = append(h, x)
		for j := len(h) - 1; j > 0; { // sift up
			p := (j - 1) / 2
			if !less(h[j], h[p]) {
				break
			}
			h[j], h[p] = h[p], h[j]
			j = p
		}
	}
	slices.SortFunc(h, func(a, b c) int {
		if a.s != b.s {
			return cmp.Compare(b.s, a.s)
		}
		return cmp.Compare(a.i, b.i)
	})
	out := make([]int32, len(h))
	for j, x := range h {
		out[j] = x.i
	}
	return out
}
