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
		name  string
		keys  []float64
		moved []bool
		want  []string // ids are the keys' indexes
	}{
		{"empty", nil, nil, nil},
		{"already in order", []float64{0.9, 0.5, 0.5, 0.1}, []bool{false, true, false, false}, []string{"0", "1", "2", "3"}},
		{"buried run merged", []float64{0.9, 0.6, 0.8, 0.3, 0.5}, []bool{false, true, false, true, false}, []string{"0", "2", "1", "4", "3"}},
		{"boosted run merged", []float64{1, 0.8, 1.5, 0.6, 1.2}, []bool{false, false, true, false, true}, []string{"2", "4", "0", "1", "3"}},
		{"tie keeps the earlier item", []float64{0.9, 0.5, 0.7, 0.5}, []bool{false, false, true, true}, []string{"0", "2", "1", "3"}},
		{"runs out of order: sorted", []float64{0.2, 0.9, 0.4, 1.3, 0.1}, []bool{false, false, true, true, false}, []string{"3", "1", "2", "0", "4"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			items := make([]Placed, len(c.keys))
			for k := range items {
				items[k] = Placed{ID: fmt.Sprint(k), From: k}
			}
			var got []string
			orderByKey(items, c.keys, c.moved, make([]Placed, 1)) // in place
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
		moved := make([]bool, n)
		strengths := []float64{0.3, -0.2, 1, 0.3 - 0.2}
		for k := range n {
			items[k] = Placed{ID: fmt.Sprint(k), From: k}
			base := 1 - float64(k/2)/float64(max(n, 1)) // non-increasing, with ties
			if trial%3 == 0 {
				base = float64(r.IntN(5)) / 4 // arbitrary order
			}
			keys[k] = base
			if r.IntN(3) == 0 {
				moved[k] = true
				keys[k] += strengths[r.IntN(len(strengths))]
			}
		}
		want := stableOrder(items, keys)
		got := slices.Clone(items)
		buf = orderByKey(got, keys, moved, buf) // storage reused across trials
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d keys %v moved %v: got %v, want %v", trial, keys, moved, got, want)
		}
	}
}
