package knn_test

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/internal/gram"
	"github.com/aisle-dev/aisle/model/knn"
	"github.com/aisle-dev/aisle/model/modeltest"
)

// TestMatchesDenseGram checks every item's neighbour list against the
// shrunk cosine computed from the dense Gram matrix: the k largest values
// of each row, the same to float32 rounding.
func TestMatchesDenseGram(t *testing.T) {
	ds := modeltest.SyntheticWith(modeltest.Config{Users: 500, Items: 150, Clusters: 5, MinPer: 3, MaxPer: 30, Focus: 0.7, Seed: 11}).DS
	for _, tc := range []struct {
		name string
		p    model.Params
	}{
		{"weighted", model.Params{"k": 10, "shrink": 10}},
		{"unweighted", model.Params{"k": 25, "shrink": 0, "use_weights": 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := knn.New(tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Fit(context.Background(), ds, nil); err != nil {
				t.Fatal(err)
			}
			uw, set := tc.p["use_weights"]
			weights := !set || uw == 1
			n := ds.NumItems()
			g, err := gram.Of(context.Background(), ds, weights, nil)
			if err != nil {
				t.Fatal(err)
			}
			k := int(tc.p["k"])
			got := make([]float32, n)
			for i := range n {
				want := make([]float32, 0, n)
				for j := range n {
					if v := g[i*n+j]; j != i && v != 0 {
						want = append(want, float32(v/(math.Sqrt(g[i*n+i])*math.Sqrt(g[j*n+j])+tc.p["shrink"])))
					}
				}
				slices.Sort(want)
				slices.Reverse(want)
				want = want[:min(k, len(want))]
				m.Similar(int32(i), got)
				var have []float32
				for _, v := range got {
					if v != 0 {
						have = append(have, v)
					}
				}
				slices.Sort(have)
				slices.Reverse(have)
				if len(have) != len(want) {
					t.Fatalf("item %d: %d neighbours, want %d", i, len(have), len(want))
				}
				for p := range want {
					if d := math.Abs(float64(have[p] - want[p])); d > 1e-6*float64(want[p]) {
						t.Fatalf("item %d: neighbour %d similarity %v, want %v", i, p, have[p], want[p])
					}
				}
			}
		})
	}
}
