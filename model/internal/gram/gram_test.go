package gram

import (
	"context"
	"fmt"
	"testing"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/modeltest"
)

// TestCooccurrenceIsTheGram checks every sparse row against the dense Gram
// matrix: the same non-zero entries off the diagonal, bit for bit (the sums
// run in the same order), each visited once.
func TestCooccurrenceIsTheGram(t *testing.T) {
	synth := modeltest.SyntheticWith(modeltest.Config{Users: 300, Items: 90, Clusters: 4, MinPer: 2, MaxPer: 20, Focus: 0.7, Seed: 5}).DS
	unweighted := *synth
	unweighted.Weights = nil
	for _, tc := range []struct {
		name    string
		ds      *model.Dataset
		weights bool
	}{
		{"weighted", synth, true},
		{"weights-ignored", synth, false},
		{"no-weights", &unweighted, true},
		{"tiny", modeltest.Tiny(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.ds.NumItems()
			g, err := Of(context.Background(), tc.ds, tc.weights, nil)
			if err != nil {
				t.Fatal(err)
			}
			co, err := NewCooccurrence(tc.ds, tc.weights)
			if err != nil {
				t.Fatal(err)
			}
			row := co.NewRow()
			for i := range n {
				seen := map[int32]bool{}
				co.Row(row, i, func(j int32, v float64) {
					if seen[j] || int(j) == i {
						t.Fatalf("row %d: item %d visited twice or on the diagonal", i, j)
					}
					seen[j] = true
					if v != g[i*n+int(j)] {
						t.Fatalf("G[%d,%d] = %v, want %v", i, j, v, g[i*n+int(j)])
					}
				})
				for j := range n {
					if j != i && g[i*n+j] != 0 && !seen[int32(j)] {
						t.Fatalf("row %d: item %d (G = %v) not visited", i, j, g[i*n+j])
					}
				}
			}
		})
	}
}

func TestCooccurrenceRejectsBadItems(t *testing.T) {
	ds := &model.Dataset{UserPtr: []int{0, 2}, Items: []int32{0, 5}, Weights: []float32{1, 1}, ItemIDs: []string{"a", "b"}}
	ds2 := *ds
	ds2.Items = []int32{0, -1}
	for i, d := range []*model.Dataset{ds, &ds2} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if _, err := NewCooccurrence(d, true); err == nil {
				t.Fatal("no error for an out-of-range item")
			}
		})
	}
}
