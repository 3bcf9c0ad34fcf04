package rules

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// stableOrder is the reference orderByKey must equal: a stable sort by
// key, highest first.
func stableOrder(items []Placed, keys []float64) []Placed {
	idx := make([]int, len(items))
	for k := range idx {
		idx[k] = k
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(keys[b], keys[a]) })
	out := make([]Placed, len(items))
	for k, i := range idx {
		out[k] = items[i]
	}
	return out
}

func TestOrderByKeyIsAStableSort(t *testing.T) {
	cases := []struct {
		name string
		keys []float64
		by   []float64 // what moves added (0: none)
		want []string  // ids are the keys' indexes
	}{
		{"empty", nil, nil, nil},
		{"already in order", []float64{0.9, 0.5, 0.5, 0.1}, []float64{0, 0.3, 0, 0}, []string{"0", "1", "2", "3"}},
		{"buried run merged", []float64{0.9, 0.6, 0.8, 0.3, 0.5}, []float64{0, -0.2, 0, -0.2, 0}, []string{"0", "2", "1", "4", "3"}},
		{"boosted run merged", []float64{1, 0.8, 1.5, 0.6, 1.2}, []float64{0, 0, 0.6, 0, 0.6}, []string{"2", "4", "0", "1", "3"}},
		{"tie keeps the earlier item", []float64{0.9, 0.5, 0.7, 0.5}, []float64{0, 0, 0.2, 0.2}, []string{"0", "2", "1", "3"}},
		{"runs out of order: sorted", []float64{0.2, 0.9, 0.4, 1.3, 0.1}, []float64{0, 0, 1, 1, 0}, []string{"3", "1", "2", "0", "4"}},
		{"boosted and buried runs merged", []float64{0.9, 0.5, 1.1, 0.6, 0.2, 0.85}, []float64{0, -0.4, 0.3, 0, -0.4, 0.3}, []string{"2", "0", "5", "3", "1", "4"}},
		{"tie across three runs keeps the earliest", []float64{0.5, 0.7, 0.7, 0.7}, []float64{0, 0.2, -0.1, 0.2}, []string{"1", "2", "3", "0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			items := make([]Placed, len(c.keys))
			for k := range items {
				items[k] = Placed{ID: fmt.Sprint(k), From: k}
			}
			var got []string
			orderByKey(items, c.keys, c.by, make([]Placed, 1)) // in place
			for _, p := range items {
				got = append(got, p.ID)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

// TestOrderByKeyMatchesStableSort compares it with the stable sort on
// random windows: descending model scores with a few move strengths (the
// merge) and arbitrary keys (the sort), ties included.
func TestOrderByKeyMatchesStableSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var buf []Placed
	for trial := range 2000 {
		n := r.IntN(50)
		items := make([]Placed, n)
		keys := make([]float64, n)
		by := make([]float64, n)
		strengths := []float64{0.3, -0.2, 1, 0.3 - 0.2}
		for k := range n {
			items[k] = Placed{ID: fmt.Sprint(k), From: k}
			base := 1 - float64(k/2)/float64(max(n, 1)) // non-increasing, with ties
			if trial%3 == 0 {
				base = float64(r.IntN(5)) / 4 // arbitrary order
			}
			keys[k] = base
			if r.IntN(3) == 0 {
				by[k] = strengths[r.IntN(len(strengths))]
				if trial%5 == 1 { // more sums than orderByKey merges
					by[k] = float64(r.IntN(2*maxRuns)+1) / 10
				}
				keys[k] += by[k]
			}
		}
		want := stableOrder(items, keys)
		got := slices.Clone(items)
		buf = orderByKey(got, keys, by, buf) // storage reused across trials
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d keys %v by %v: got %v, want %v", trial, keys, by, got, want)
		}
	}
}

// TestOrderByKeyMergesBoostsAndBuries checks that a window with a boost
// and a bury (three runs: untouched, boosted, buried, each in the model's
// order) is merged in the reused storage, not sorted: nothing allocated
// once the storage has grown (the sort allocates its order).
func TestOrderByKeyMergesBoostsAndBuries(t *testing.T) {
	const n = MoveWindow
	items := make([]Placed, n)
	keys := make([]float64, n)
	by := make([]float64, n)
	for k := range n {
		items[k] = Placed{ID: fmt.Sprint(k), From: k}
		by[k] = []float64{0, 0.3, -0.2}[k%3]
		keys[k] = (1-float64(k)/n)*(1-1e-9) + by[k]
	}
	want := stableOrder(items, keys)
	got := slices.Clone(items)
	buf := orderByKey(got, keys, by, nil)
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if allocs := testing.AllocsPerRun(20, func() {
		copy(got, items)
		buf = orderByKey(got, keys, by, buf)
	}); allocs != 0 {
		t.Errorf("ordering a window with a boost and a bury allocated %v times, want 0 (merged in buf)", allocs)
	}
}
