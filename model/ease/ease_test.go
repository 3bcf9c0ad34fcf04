package ease_test

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/ease"
	"github.com/aisle-dev/aisle/model/modeltest"
)

// TestClosedForm checks B against a direct dense computation on a tiny set,
// and the scores against history · B.
func TestClosedForm(t *testing.T) {
	ds := &model.Dataset{
		UserIDs: []string{"a", "b", "c", "d"}, ItemIDs: []string{"x", "y", "z"},
		UserPtr: []int{0, 2, 5, 6, 8},
		Items:   []int32{0, 1, 0, 1, 2, 2, 1, 2},
		Weights: []float32{1, 2, 1, 1, 1, 3, 1, 1},
	}
	for _, tc := range []struct {
		name    string
		lambda  float64
		weights bool
	}{{"weighted", 1, true}, {"binary", 0.5, false}} {
		t.Run(tc.name, func(t *testing.T) {
			uw := 0.0
			if tc.weights {
				uw = 1
			}
			m, err := ease.New(model.Params{"lambda": tc.lambda, "use_weights": uw})
			if err != nil {
				t.Fatal(err)
			}
			modeltest.Fit(t, m, ds)
			x := mat.NewDense(4, 3, nil)
			for u := 0; u < 4; u++ {
				for j := ds.UserPtr[u]; j < ds.UserPtr[u+1]; j++ {
					v := 1.0
					if tc.weights {
						v = float64(ds.Weights[j])
					}
					x.Set(u, int(ds.Items[j]), v)
				}
			}
			var g, p mat.Dense
			g.Mul(x.T(), x)
			for i := 0; i < 3; i++ {
				g.Set(i, i, g.At(i, i)+tc.lambda)
			}
			if err := p.Inverse(&g); err != nil {
				t.Fatal(err)
			}
			got := make([]float32, 3)
			for i := int32(0); i < 3; i++ {
				m.Similar(i, got)
				for j := 0; j < 3; j++ {
					want := 0.0
					if int(i) != j {
						want = -p.At(int(i), j) / p.At(j, j)
					}
					if math.Abs(float64(got[j])-want) > 1e-5 {
						t.Errorf("B[%d][%d] = %v, want %v", i, j, got[j], want)
					}
				}
			}
			// every user's scores = Σ_h w_h·B[h,:]
			row := make([]float32, 3)
			for u := 0; u < 4; u++ {
				want := make([]float32, 3)
				for j := ds.UserPtr[u]; j < ds.UserPtr[u+1]; j++ {
					w := float32(1)
					if tc.weights {
						w = ds.Weights[j]
					}
					m.Similar(ds.Items[j], row)
					for i := range want {
						want[i] += w * row[i]
					}
				}
				m.Score(model.Query{User: int32(u)}, got)
				for i := range got {
					if math.Abs(float64(got[i]-want[i])) > 1e-5 {
						t.Errorf("user %d score[%d] = %v, want %v", u, i, got[i], want[i])
					}
				}
			}
		})
	}
}

// TestSparseMatchesDense: when every pair of items co-occurs and the
// neighbourhoods hold every other item, the sparse fit solves the same
// regressions as the dense inverse, so B must agree.
func TestSparseMatchesDense(t *testing.T) {
	ds := &model.Dataset{
		UserIDs: []string{"a", "b", "c", "d", "e"}, ItemIDs: []string{"w", "x", "y", "z"},
		UserPtr: []int{0, 4, 6, 9, 11, 13},
		Items:   []int32{0, 1, 2, 3, 0, 1, 1, 2, 3, 0, 3, 2, 0},
		Weights: []float32{1, 2, 1, 1, 3, 1, 1, 2, 1, 1, 1, 2, 1},
	}
	for _, lambda := range []float64{0.5, 3, 50} {
		dense, _ := ease.New(model.Params{"lambda": lambda})
		sparse, _ := ease.New(model.Params{"lambda": lambda, "max_items": 1, "neighbours": 10})
		modeltest.Fit(t, dense, ds)
		modeltest.Fit(t, sparse, ds)
		if dense.Sparse() || !sparse.Sparse() {
			t.Fatalf("lambda %v: dense.Sparse()=%v sparse.Sparse()=%v", lambda, dense.Sparse(), sparse.Sparse())
		}
		a, b := make([]float32, 4), make([]float32, 4)
		for i := int32(0); i < 4; i++ {
			dense.Similar(i, a)
			sparse.Similar(i, b)
			for j := range a {
				if math.Abs(float64(a[j]-b[j])) > 1e-4 {
					t.Errorf("lambda %v: B[%d][%d] dense %v, sparse %v", lambda, i, j, a[j], b[j])
				}
			}
		}
	}
}

// TestSparseBounded: the sparse fit keeps at most neighbours weights per
// item, and an item's row never holds the item itself.
func TestSparseBounded(t *testing.T) {
	s := modeltest.Synthetic()
	for _, k := range []int{1, 5, 20} {
		m, _ := ease.New(model.Params{"lambda": 20, "max_items": 10, "neighbours": float64(k)})
		modeltest.Fit(t, m, s.DS)
		n := s.DS.NumItems()
		rows := int64(8*len(s.DS.UserPtr) + 4*len(s.DS.Items) + 4*len(s.DS.Weights))
		if got, limit := m.Bytes()-rows, int64(8*(n+1)+8*n*k); got > limit {
			t.Errorf("k=%d: B holds %d bytes, more than %d", k, got, limit)
		}
		row := make([]float32, n)
		for i := int32(0); i < int32(n); i++ {
			m.Similar(i, row)
			if row[i] != 0 {
				t.Fatalf("k=%d: item %d votes %v for itself", k, i, row[i])
			}
		}
	}
}

func TestSparseQuality(t *testing.T) {
	s := modeltest.Synthetic()
	m, _ := ease.New(model.Params{"lambda": 20, "max_items": 100, "neighbours": 40})
	modeltest.AssertBeatsPopularity(t, m, s, 0.05, modeltest.Known, modeltest.FoldIn)
	modeltest.AssertFoldIn(t, m, s)
	modeltest.AssertSimilarClusters(t, m, s)
	fresh, _ := ease.New(nil)
	modeltest.AssertRoundTrip(t, m, fresh, s.DS)
	modeltest.AssertConcurrentScore(t, m, s.DS)
}

func TestQuality(t *testing.T) {
	s := modeltest.Synthetic()
	m, _ := ease.New(model.Params{"lambda": 20})
	modeltest.AssertBeatsPopularity(t, m, s, 0.05, modeltest.Known, modeltest.FoldIn)
	modeltest.AssertFoldIn(t, m, s)
	modeltest.AssertSimilarClusters(t, m, s)
	fresh, _ := ease.New(nil)
	modeltest.AssertRoundTrip(t, m, fresh, s.DS)
	modeltest.AssertConcurrentScore(t, m, s.DS)
}

func BenchmarkScore(b *testing.B) {
	s := modeltest.SyntheticWith(modeltest.Config{Users: 2000, Items: 3000, Clusters: 20, MinPer: 20, MaxPer: 100, Focus: 0.8, Seed: 3})
	m, _ := ease.New(nil)
	modeltest.Fit(b, m, s.DS)
	scores := make([]float32, s.DS.NumItems())
	hist := s.DS.Items[:50]
	b.ResetTimer()
	for b.Loop() {
		m.Score(model.Query{User: -1, History: hist}, scores)
	}
}

var _ model.SimilarItems = (*ease.EASE)(nil)
