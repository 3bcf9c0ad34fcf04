package itemfilter_test

import (
	"math"
	"slices"
	"testing"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/blend"
	"github.com/aisle-dev/aisle/model/itemfilter"
	"github.com/aisle-dev/aisle/model/modeltest"
)

// neighbourVotes is the user-neighbour part computed the slow way: every
// training user's similarity Σ_{i ∈ hist ∩ r_v} deg_i^-¼ · |r_v|^-½, the
// k best other than self vote for their items with it, votes × deg_j^-0.1.
// ok is false when the k-th and the next similarity tie (either could vote).
func neighbourVotes(ds *model.Dataset, hist []int32, self int32, k int) (votes []float32, ok bool) {
	n := ds.NumItems()
	deg := make([]float64, n)
	for _, it := range ds.Items {
		deg[it]++
	}
	type nb struct {
		u int
		s float64
	}
	var all []nb
	for v := range ds.NumUsers() {
		row := ds.Row(v)
		if int32(v) == self || len(row) == 0 {
			continue
		}
		o := 0.0
		for _, h := range hist {
			for _, it := range row {
				if it == h {
					o += math.Pow(deg[h], -0.25)
				}
			}
		}
		if o > 0 {
			all = append(all, nb{v, o / math.Sqrt(float64(len(row)))})
		}
	}
	slices.SortStableFunc(all, func(a, b nb) int {
		switch {
		case a.s > b.s:
			return -1
		case a.s < b.s:
			return 1
		}
		return 0
	})
	if len(all) > k && math.Abs(all[k].s-all[k-1].s) < 1e-6*all[k].s {
		return nil, false
	}
	votes = make([]float32, n)
	for _, x := range all[:min(k, len(all))] {
		for _, it := range ds.Row(x.u) {
			votes[it] += float32(x.s)
		}
	}
	for j := range votes {
		if deg[j] > 0 {
			votes[j] *= float32(math.Pow(deg[j], -0.1))
		}
	}
	return votes, true
}

// TestUserNeighbourPart: with uknn_weight w the scores are the filter's
// (and iALS's) mixed with the k nearest training users' votes,
// (1−w)·z(filter) + w·z(votes), for known users (never their own
// neighbour) and fold-in queries, after a save and load too; Adjust to 0
// gives the model without the part, and the default fits it at
// DefaultUKNNWeight with DefaultUKNNK neighbours.
func TestUserNeighbourPart(t *testing.T) {
	s := modeltest.Synthetic()
	n := s.DS.NumItems()
	alone, _ := itemfilter.New(model.Params{"lambda": 20, "ials_factors": 8, "uknn_weight": 0})
	modeltest.Fit(t, alone, s.DS)
	const w, k = 0.3, 7
	m, err := itemfilter.New(model.Params{"lambda": 20, "ials_factors": 8, "uknn_weight": w, "uknn_k": k})
	if err != nil {
		t.Fatal(err)
	}
	modeltest.Fit(t, m, s.DS)
	loaded := reloaded(t, m)
	got, want := make([]float32, n), make([]float32, n)
	checked := 0
	for _, q := range modeltest.Queries(s.DS, 30) {
		hist, self := q.History, int32(-1)
		if q.User >= 0 {
			self = q.User
			if len(hist) == 0 {
				hist = s.DS.Row(int(q.User))
			}
		}
		votes, ok := neighbourVotes(s.DS, hist, self, k)
		if !ok {
			continue
		}
		checked++
		alone.Score(q, want)
		blend.Mix(want, votes, w)
		for _, mm := range []*itemfilter.Filter{m, loaded} {
			mm.Score(q, got)
			for i := range got {
				if math.Abs(float64(got[i]-want[i])) > 1e-4 {
					t.Fatalf("query %+v item %d: %v, want %v", q, i, got[i], want[i])
				}
			}
		}
	}
	if checked < 40 {
		t.Fatalf("only %d queries without a tie at the k-th neighbour", checked)
	}
	if err := m.Adjust(model.Params{"uknn_weight": 0}); err != nil {
		t.Fatal(err)
	}
	for _, q := range modeltest.Queries(s.DS, 10) {
		m.Score(q, got)
		alone.Score(q, want)
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-5 {
				t.Fatalf("uknn_weight adjusted to 0, query %+v item %d: %v, want %v", q, i, got[i], want[i])
			}
		}
	}
	if err := alone.Adjust(model.Params{"uknn_weight": 0.2}); err == nil {
		t.Error("uknn_weight accepted by a model fitted without the part")
	}
	def, _ := itemfilter.New(nil)
	if p := def.Params(); p["uknn_weight"] != itemfilter.DefaultUKNNWeight || p["uknn_k"] != itemfilter.DefaultUKNNK {
		t.Errorf("default params %v, want uknn_weight %v and uknn_k %v", p, itemfilter.DefaultUKNNWeight, itemfilter.DefaultUKNNK)
	}
	for _, bad := range []model.Params{{"uknn_weight": 1.5}, {"uknn_weight": -0.1}, {"uknn_k": 0}} {
		if _, err := itemfilter.New(bad); err == nil {
			t.Errorf("New(%v) accepted", bad)
		}
	}
}
