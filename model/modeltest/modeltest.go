// Package modeltest holds test helpers shared by every recommendation model:
// a deterministic synthetic Dataset with planted structure, a leave-last-out
// split and recall check, an assertion that a model beats popularity, a
// save/load round trip asserting identical scores, a concurrent-scoring check
// and a fold-in check. It is imported only from tests.
package modeltest

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"

	"github.com/aisle-dev/aisle/model"
)

// Config shapes a synthetic data set.
type Config struct {
	Users    int     // number of users
	Items    int     // number of items
	Clusters int     // user clusters = item clusters
	MinPer   int     // fewest interactions per user
	MaxPer   int     // most interactions per user
	Focus    float64 // probability that an interaction is in the user's own cluster
	Seed     uint64
}

// DefaultConfig is small enough for unit tests that train in well under a second.
var DefaultConfig = Config{Users: 400, Items: 240, Clusters: 6, MinPer: 8, MaxPer: 24, Focus: 0.8, Seed: 1}

// Synth is a synthetic data set and its planted structure.
type Synth struct {
	DS          *model.Dataset
	UserCluster []int // cluster of each user
	ItemCluster []int // cluster of each item
	Clusters    int
}

// Synthetic builds a deterministic data set with DefaultConfig.
func Synthetic() *Synth { return SyntheticWith(DefaultConfig) }

// SyntheticWith builds a deterministic data set: user u belongs to cluster
// u%Clusters and item i to cluster i%Clusters; each interaction is, with
// probability Focus, an item of the user's cluster and otherwise any item,
// both drawn with a Zipf-like global popularity so that popularity is a
// reasonable but beatable baseline. Rows are in time order, with weights in
// {1, 2, 4} and increasing timestamps.
func SyntheticWith(c Config) *Synth {
	rng := rand.New(rand.NewPCG(c.Seed, 0x5eed))
	pop := make([]float64, c.Items)
	perm := rng.Perm(c.Items)
	for i := range pop {
		pop[perm[i]] = 1 / math.Pow(float64(i+1), 0.7)
	}
	// cumulative popularity, overall and per cluster
	cum := func(items []int) ([]int, []float64) {
		cs := make([]float64, len(items))
		s := 0.0
		for j, it := range items {
			s += pop[it]
			cs[j] = s
		}
		return items, cs
	}
	draw := func(items []int, cs []float64) int {
		x := rng.Float64() * cs[len(cs)-1]
		return items[sort.SearchFloat64s(cs, x)]
	}
	all := make([]int, c.Items)
	for i := range all {
		all[i] = i
	}
	allItems, allCum := cum(all)
	clItems := make([][]int, c.Clusters)
	clCum := make([][]float64, c.Clusters)
	for i := 0; i < c.Items; i++ {
		clItems[i%c.Clusters] = append(clItems[i%c.Clusters], i)
	}
	for k := range clItems {
		clItems[k], clCum[k] = cum(clItems[k])
	}

	s := &Synth{DS: &model.Dataset{UserPtr: []int{0}}, Clusters: c.Clusters}
	ds := s.DS
	for i := 0; i < c.Items; i++ {
		ds.ItemIDs = append(ds.ItemIDs, fmt.Sprintf("i%d", i))
		s.ItemCluster = append(s.ItemCluster, i%c.Clusters)
	}
	t0 := int64(1_700_000_000)
	for u := 0; u < c.Users; u++ {
		ds.UserIDs = append(ds.UserIDs, fmt.Sprintf("u%d", u))
		k := u % c.Clusters
		s.UserCluster = append(s.UserCluster, k)
		n := c.MinPer + rng.IntN(c.MaxPer-c.MinPer+1)
		seen := map[int]bool{}
		t := t0 + int64(rng.IntN(86400*30))
		for len(seen) < n {
			var it int
			if rng.Float64() < c.Focus {
				it = draw(clItems[k], clCum[k])
			} else {
				it = draw(allItems, allCum)
			}
			if seen[it] {
				continue
			}
			seen[it] = true
			t += int64(60 + rng.IntN(86400))
			ds.Items = append(ds.Items, int32(it))
			ds.Weights = append(ds.Weights, float32(int(1)<<rng.IntN(3)))
			ds.Times = append(ds.Times, t)
		}
		ds.UserPtr = append(ds.UserPtr, len(ds.Items))
	}
	return s
}

// LeaveLastOut removes the last interaction of every user with at least two
// and returns the training set and, per user, the held-out item (-1 if none).
func LeaveLastOut(ds *model.Dataset) (train *model.Dataset, test []int32) {
	train = &model.Dataset{UserIDs: ds.UserIDs, ItemIDs: ds.ItemIDs, UserPtr: []int{0},
		ItemText: ds.ItemText, ItemAttrs: ds.ItemAttrs, NumAttrs: ds.NumAttrs}
	test = make([]int32, ds.NumUsers())
	for u := 0; u < ds.NumUsers(); u++ {
		lo, hi := ds.UserPtr[u], ds.UserPtr[u+1]
		test[u] = -1
		if hi-lo >= 2 {
			test[u] = ds.Items[hi-1]
			hi--
		}
		train.Items = append(train.Items, ds.Items[lo:hi]...)
		if ds.Weights != nil {
			train.Weights = append(train.Weights, ds.Weights[lo:hi]...)
		}
		if ds.Times != nil {
			train.Times = append(train.Times, ds.Times[lo:hi]...)
		}
		if ds.Ratings != nil {
			train.Ratings = append(train.Ratings, ds.Ratings[lo:hi]...)
		}
		train.UserPtr = append(train.UserPtr, len(train.Items))
	}
	return train, test
}

// Mode says how Recall queries the model.
type Mode int

const (
	// Known queries with the user's training index and no history.
	Known Mode = iota
	// FoldIn queries as an unknown user (-1) whose history is the training row.
	FoldIn
)

func (m Mode) String() string {
	if m == FoldIn {
		return "fold-in"
	}
	return "known-user"
}

// Query builds the query of user u of train in mode m.
func Query(train *model.Dataset, u int, m Mode) model.Query {
	if m == FoldIn {
		return model.Query{User: -1, History: train.Row(u), HistoryWeights: train.RowWeights(u)}
	}
	return model.Query{User: int32(u)}
}

// Recall is the fraction of users whose held-out item is among the k best
// scored items, training items excluded (hit rate with one test item).
func Recall(m model.Model, train *model.Dataset, test []int32, k int, mode Mode) float64 {
	return recallOf(func(u int, s []float32) { m.Score(Query(train, u, mode), s) }, train, test, k)
}

func recallOf(score func(u int, s []float32), train *model.Dataset, test []int32, k int) float64 {
	scores := make([]float32, train.NumItems())
	hits, n := 0, 0
	for u, target := range test {
		if target < 0 {
			continue
		}
		n++
		score(u, scores)
		for _, it := range train.Row(u) {
			scores[it] = float32(math.Inf(-1))
		}
		t := scores[target]
		if math.IsNaN(float64(t)) {
			continue
		}
		// rank = number of items scored strictly higher, ties counted against the target
		better := 0
		for i, s := range scores {
			if i != int(target) && s >= t {
				better++
			}
		}
		if better < k {
			hits++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(hits) / float64(n)
}

// PopularityRecall is the Recall of a plain interaction-count popularity list.
func PopularityRecall(train *model.Dataset, test []int32, k int) float64 {
	counts := make([]float32, train.NumItems())
	for _, it := range train.Items {
		counts[it]++
	}
	return recallOf(func(_ int, s []float32) { copy(s, counts) }, train, test, k)
}

// Fit trains m on ds, failing the test on error, and returns the statuses
// the model reported.
func Fit(t testing.TB, m model.Model, ds *model.Dataset) []model.Status {
	t.Helper()
	var st []model.Status
	if err := m.Fit(context.Background(), ds, func(s model.Status) { st = append(st, s) }); err != nil {
		t.Fatalf("%s: fit: %v", m.Name(), err)
	}
	return st
}

// AssertBeatsPopularity fits m on the leave-last-out training part of s and
// asserts its Recall@10 in every given mode exceeds the popularity list's by
// at least margin (absolute). It returns the fitted model's recalls.
func AssertBeatsPopularity(t *testing.T, m model.Model, s *Synth, margin float64, modes ...Mode) map[Mode]float64 {
	t.Helper()
	train, test := LeaveLastOut(s.DS)
	Fit(t, m, train)
	pop := PopularityRecall(train, test, 10)
	if len(modes) == 0 {
		modes = []Mode{Known}
	}
	out := map[Mode]float64{}
	for _, mode := range modes {
		r := Recall(m, train, test, 10, mode)
		out[mode] = r
		t.Logf("%s %s: Recall@10 %.3f, popularity %.3f", m.Name(), mode, r, pop)
		if r < pop+margin {
			t.Errorf("%s %s: Recall@10 %.3f does not beat popularity %.3f by %.3f", m.Name(), mode, r, pop, margin)
		}
	}
	return out
}

// Queries lists a spread of queries over ds: known users without history,
// known users with their rows as history, and unknown users with history.
func Queries(ds *model.Dataset, n int) []model.Query {
	var qs []model.Query
	step := max(1, ds.NumUsers()/n)
	for u := 0; u < ds.NumUsers(); u += step {
		row := ds.Row(u)
		qs = append(qs,
			model.Query{User: int32(u)},
			model.Query{User: int32(u), History: row, HistoryWeights: ds.RowWeights(u)},
			model.Query{User: -1, History: row[:len(row)/2+1]},
		)
	}
	qs = append(qs, model.Query{User: -1})
	return qs
}

// AssertRoundTrip saves the fitted model, loads it into fresh (an unfitted
// model of the same kind) and asserts both give bit-identical scores for a
// spread of queries, and that loading into a model of another kind fails
// when other is not nil.
func AssertRoundTrip(t *testing.T, fitted, fresh model.Model, ds *model.Dataset) {
	t.Helper()
	var buf bytes.Buffer
	if err := fitted.Save(&buf); err != nil {
		t.Fatalf("%s: save: %v", fitted.Name(), err)
	}
	data := buf.Bytes()
	if err := fresh.Load(bytes.NewReader(data)); err != nil {
		t.Fatalf("%s: load: %v", fitted.Name(), err)
	}
	if fresh.Name() != fitted.Name() {
		t.Errorf("name after load %q, want %q", fresh.Name(), fitted.Name())
	}
	a := make([]float32, ds.NumItems())
	b := make([]float32, ds.NumItems())
	for _, q := range Queries(ds, 20) {
		fitted.Score(q, a)
		fresh.Score(q, b)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s: query %+v item %d: score %v before save, %v after load", fitted.Name(), q, i, a[i], b[i])
			}
		}
	}
	if err := fresh.Load(bytes.NewReader(data[:len(data)/2])); err == nil {
		t.Errorf("%s: loading a truncated model succeeded", fitted.Name())
	}
}

// AssertConcurrentScore scores the same queries from several goroutines and
// asserts every answer equals the sequential one (run it under -race).
func AssertConcurrentScore(t *testing.T, m model.Model, ds *model.Dataset) {
	t.Helper()
	qs := Queries(ds, 10)
	want := make([][]float32, len(qs))
	for i, q := range qs {
		want[i] = make([]float32, ds.NumItems())
		m.Score(q, want[i])
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := make([]float32, ds.NumItems())
			for i, q := range qs {
				m.Score(q, s)
				for j := range s {
					if math.Float32bits(s[j]) != math.Float32bits(want[i][j]) {
						errs <- fmt.Sprintf("query %d item %d: %v concurrently, %v alone", i, j, s[j], want[i][j])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("%s: %s", m.Name(), e)
	}
}

// clusterMean is the mean score of the items of cluster k not in skip,
// minus the mean score of all items not in skip.
func clusterMean(s *Synth, scores []float32, k int, skip map[int32]bool) float64 {
	var in, all float64
	var nin, nall int
	for i, v := range scores {
		if skip[int32(i)] {
			continue
		}
		all += float64(v)
		nall++
		if s.ItemCluster[i] == k {
			in += float64(v)
			nin++
		}
	}
	return in/float64(nin) - all/float64(nall)
}

// AssertFoldIn checks that a fitted model reads Query.History: for an
// unknown user and for a known user of cluster a, adding several items of
// another cluster b to the history raises the (centred) mean score of
// cluster b's other items, and an unknown user whose history lies in cluster
// a scores cluster a above the rest. m must have been fitted on s.DS or on
// a split of it with the same items.
func AssertFoldIn(t *testing.T, m model.Model, s *Synth) {
	t.Helper()
	ds := s.DS
	const a, b = 0, 1
	var hist []int32 // the first 4 items of cluster a, the first 4 of cluster b
	var histB []int32
	for i := 0; i < ds.NumItems(); i++ {
		if s.ItemCluster[i] == a && len(hist) < 4 {
			hist = append(hist, int32(i))
		}
		if s.ItemCluster[i] == b && len(histB) < 4 {
			histB = append(histB, int32(i))
		}
	}
	skip := map[int32]bool{}
	for _, it := range append(append([]int32{}, hist...), histB...) {
		skip[it] = true
	}
	before := make([]float32, ds.NumItems())
	after := make([]float32, ds.NumItems())

	m.Score(model.Query{User: -1, History: hist}, before)
	if ca, cb := clusterMean(s, before, a, skip), clusterMean(s, before, b, skip); ca <= cb {
		t.Errorf("%s: unknown user with cluster-%d history: cluster %d mean %.4g not above cluster %d mean %.4g", m.Name(), a, a, ca, b, cb)
	}
	m.Score(model.Query{User: -1, History: append(append([]int32{}, hist...), histB...)}, after)
	if x, y := clusterMean(s, before, b, skip), clusterMean(s, after, b, skip); y <= x {
		t.Errorf("%s: unknown user: adding cluster-%d items did not raise that cluster (%.4g → %.4g)", m.Name(), b, x, y)
	}

	// a known user of cluster a
	u := -1
	for v := 0; v < ds.NumUsers(); v++ {
		if s.UserCluster[v] == a {
			u = v
			break
		}
	}
	row := ds.Row(u)
	for _, it := range row {
		skip[it] = true
	}
	m.Score(model.Query{User: int32(u), History: row}, before)
	m.Score(model.Query{User: int32(u), History: append(append([]int32{}, row...), histB...)}, after)
	if x, y := clusterMean(s, before, b, skip), clusterMean(s, after, b, skip); y <= x {
		t.Errorf("%s: known user %d: adding cluster-%d items to the history did not raise that cluster (%.4g → %.4g)", m.Name(), u, b, x, y)
	}
}

// AssertSimilarClusters checks a fitted SimilarItems model on s: for the
// first items of every cluster, the mean similarity to the other items of
// its cluster exceeds the mean similarity to the items of other clusters.
func AssertSimilarClusters(t *testing.T, m model.SimilarItems, s *Synth) {
	t.Helper()
	n := s.DS.NumItems()
	scores := make([]float32, n)
	for item := 0; item < 2*s.Clusters && item < n; item++ {
		m.Similar(int32(item), scores)
		var in, out float64
		var nin, nout int
		for j, v := range scores {
			if j == item {
				continue
			}
			if s.ItemCluster[j] == s.ItemCluster[item] {
				in += float64(v)
				nin++
			} else {
				out += float64(v)
				nout++
			}
		}
		if in/float64(nin) <= out/float64(nout) {
			t.Errorf("item %d: mean similarity to its cluster %.4g, to the others %.4g", item, in/float64(nin), out/float64(nout))
		}
	}
}
