package pipeline

import (
	"math"
	"slices"
	"testing"

	"github.com/aisle-dev/aisle/model"
)

// rowsDataset builds a Dataset with user u's row rows[u] (time order) and
// weights equal to the item index + 1.
func rowsDataset(nItems int, rows [][]int32) *model.Dataset {
	ds := &model.Dataset{UserPtr: []int{0}, ItemIDs: make([]string, nItems)}
	for _, r := range rows {
		ds.UserIDs = append(ds.UserIDs, "u")
		for _, it := range r {
			ds.Items = append(ds.Items, it)
			ds.Weights = append(ds.Weights, float32(it+1))
		}
		ds.UserPtr = append(ds.UserPtr, len(ds.Items))
	}
	return ds
}

func TestHoldoutHalfNewestHalfRandom(t *testing.T) {
	var rows [][]int32
	for u := 0; u < 40; u++ {
		var r []int32
		for k := 0; k < 10+u%7; k++ {
			r = append(r, int32(k))
		}
		rows = append(rows, r)
	}
	rows = append(rows, []int32{0, 1}) // too short to lend any
	ds := rowsDataset(20, rows)
	sp := holdout(ds, 30, 7)
	if len(sp.Users) != 30 {
		t.Fatalf("%d users held out, want 30", len(sp.Users))
	}
	newest := 0
	shares := map[int]bool{}
	for i, u := range sp.Users {
		n := len(rows[u])
		want := int(math.Round(0.2 * float64(n)))
		if !sp.Newest[i] {
			// a random share of 10–50 %, at least one, keeping two
			want = len(sp.Targets[i])
			lo, hi := max(1, int(math.Round(0.1*float64(n)))), min(n-2, int(math.Round(0.5*float64(n))))
			if want < lo || want > hi {
				t.Fatalf("user %d with %d items lent %d at random, want %d..%d", u, n, want, lo, hi)
			}
			shares[want*100/n] = true
		} else if len(sp.Targets[i]) != want {
			t.Fatalf("user %d with %d items lent %d of the newest, want %d", u, n, len(sp.Targets[i]), want)
		}
		kept := sp.Train.Row(int(u))
		if len(kept)+want != n {
			t.Fatalf("user %d keeps %d of %d with %d held out", u, len(kept), n, want)
		}
		for _, it := range sp.Targets[i] {
			if slices.Contains(kept, it) {
				t.Fatalf("user %d: held-out item %d also in training", u, it)
			}
		}
		if sp.Newest[i] {
			newest++
			if !slices.Equal(sp.Targets[i], rows[u][n-want:]) {
				t.Fatalf("user %d lent %v, want the newest %v", u, sp.Targets[i], rows[u][n-want:])
			}
		}
		if w := sp.Train.RowWeights(int(u)); w[0] != float32(kept[0]+1) {
			t.Fatalf("weights not carried with the items")
		}
	}
	if newest != 15 {
		t.Fatalf("%d users lent their newest items, want half of 30", newest)
	}
	if len(shares) < 4 {
		t.Fatalf("random-half users lent only the shares %v (percent), want a spread", shares)
	}
	if sp.Train.NumUsers() != ds.NumUsers() || len(sp.Train.Row(40)) != 2 {
		t.Fatalf("users not held out keep their rows")
	}
}

func TestWeighting(t *testing.T) {
	cases := []struct {
		name string
		w    Weighting
		raw  []float32
		want []float32
	}{
		{"raw", Weighting{}, []float32{8, 1}, []float32{8, 1}},
		{"binary", Weighting{Binary: true}, []float32{8, 1}, []float32{1, 1}},
		{"scaled", Weighting{Scale: 0.25}, []float32{8, 1}, []float32{2, 0.25}},
		{"recent boost", Weighting{Binary: true, RecentBoost: 1, RecentHalfLife: 1}, []float32{3, 3, 3}, []float32{1.25, 1.5, 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.w.QueryWeights(c.raw); !slices.Equal(got, c.want) {
				t.Fatalf("QueryWeights(%v) = %v, want %v", c.raw, got, c.want)
			}
		})
	}
	// The scaled choice brings the mean weight to 1; equal weights offer
	// binary only.
	ds := rowsDataset(4, [][]int32{{0, 1, 2, 3}})
	ws := weightings(ds)
	if len(ws) != 2 || ws[1] != (Weighting{Binary: true}) {
		t.Fatalf("weightings %v", ws)
	}
	var sum float32
	for _, v := range ws[0].apply(ds).Weights {
		sum += v
	}
	if math.Abs(float64(sum)/4-1) > 1e-6 {
		t.Fatalf("scaled mean weight %v, want 1", sum/4)
	}
	ds.Weights = []float32{2, 2, 2, 2}
	if ws := weightings(ds); len(ws) != 1 || !ws[0].Binary {
		t.Fatalf("equal weights: %v", ws)
	}
}

func TestPreferWeighting(t *testing.T) {
	base := map[string]float64{"NDCG@10": 0.20, "NDCG@10:random": 0.30}
	cases := []struct {
		name  string
		cand  map[string]float64
		boost float64
		want  bool
	}{
		{"not better", map[string]float64{"NDCG@10": 0.19, "NDCG@10:random": 0.35}, 1, false},
		{"better without a boost", map[string]float64{"NDCG@10": 0.21, "NDCG@10:random": 0.29}, 0, true},
		{"boost helps both halves", map[string]float64{"NDCG@10": 0.22, "NDCG@10:random": 0.30}, 1, true},
		{"boost costs the taste half", map[string]float64{"NDCG@10": 0.25, "NDCG@10:random": 0.29}, 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := preferWeighting(c.cand, base, base, c.boost); got != c.want {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

// TestHoldoutsRepeatOnSmallShops: a shop with fewer eligible users than
// the validation asks for is measured on fresh draws, at most maxHoldouts;
// the first draw is the single hold-out's.
func TestHoldoutsRepeatOnSmallShops(t *testing.T) {
	var rows [][]int32
	for u := 0; u < 30; u++ {
		rows = append(rows, []int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	}
	ds := rowsDataset(10, rows)
	tests := []struct {
		n, want int
	}{{30, 1}, {20, 1}, {60, 2}, {61, 3}, {1000, maxHoldouts}}
	for _, tc := range tests {
		sps := holdouts(ds, tc.n, 3)
		if len(sps) != tc.want {
			t.Fatalf("n=%d: %d hold-outs, want %d", tc.n, len(sps), tc.want)
		}
		if first := holdout(ds, tc.n, 3); !slices.Equal(sps[0].Users, first.Users) {
			t.Fatalf("n=%d: the first hold-out is not holdout's", tc.n)
		}
		if len(sps) > 1 && slices.EqualFunc(sps[0].Targets, sps[1].Targets, slices.Equal) && slices.Equal(sps[0].Newest, sps[1].Newest) {
			t.Fatalf("n=%d: the second draw repeats the first", tc.n)
		}
	}
	if got := meanMetrics([]map[string]float64{{"a": 1, "b": 2}, {"a": 3, "b": 2}}); got["a"] != 2 || got["b"] != 2 {
		t.Fatalf("meanMetrics = %v", got)
	}
}
