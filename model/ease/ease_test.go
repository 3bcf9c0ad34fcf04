package ease_test

import (
	"math"
	"strings"
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

func TestRefusesLargeCatalogue(t *testing.T) {
	s := modeltest.Synthetic()
	m, _ := ease.New(model.Params{"max_items": 100})
	err := m.Fit(t.Context(), s.DS, nil)
	if err == nil || !strings.Contains(err.Error(), "max_items=100") {
		t.Fatalf("err = %v, want a max_items refusal", err)
	}
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
