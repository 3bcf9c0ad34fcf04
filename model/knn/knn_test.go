package knn_test

import (
	"math"
	"testing"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/knn"
	"github.com/aisle-dev/aisle/model/modeltest"
)

// tiny: users a{0,1}, b{0,1,2}, c{2}; unit weights.
// norms: |0|=√2, |1|=√2, |2|=√2; co(0,1)=2, co(0,2)=1, co(1,2)=1.
func tiny() *model.Dataset {
	return &model.Dataset{
		UserIDs: []string{"a", "b", "c"}, ItemIDs: []string{"x", "y", "z"},
		UserPtr: []int{0, 2, 5, 6},
		Items:   []int32{0, 1, 0, 1, 2, 2},
	}
}

func TestSimilarities(t *testing.T) {
	tests := []struct {
		name   string
		p      model.Params
		item   int32
		want   []float64
		scoreQ model.Query
		scores []float64
	}{
		{"cosine", model.Params{"shrink": 0}, 0, []float64{0, 1, 0.5},
			model.Query{User: 2}, []float64{0.5, 0.5, 0}},
		{"shrunk", model.Params{"shrink": 2}, 0, []float64{0, 0.5, 0.25},
			model.Query{User: -1, History: []int32{0, 1}, HistoryWeights: []float32{1, 2}}, []float64{1, 0.5, 0.25 + 0.5}},
		{"k=1", model.Params{"shrink": 0, "k": 1}, 0, []float64{0, 1, 0},
			model.Query{User: 0}, []float64{1, 1, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := knn.New(tc.p)
			if err != nil {
				t.Fatal(err)
			}
			modeltest.Fit(t, m, tiny())
			got := make([]float32, 3)
			m.Similar(tc.item, got)
			for i := range got {
				if math.Abs(float64(got[i])-tc.want[i]) > 1e-6 {
					t.Errorf("Similar(%d)[%d] = %v, want %v", tc.item, i, got[i], tc.want[i])
				}
			}
			m.Score(tc.scoreQ, got)
			for i := range got {
				if math.Abs(float64(got[i])-tc.scores[i]) > 1e-6 {
					t.Errorf("Score(%+v)[%d] = %v, want %v", tc.scoreQ, i, got[i], tc.scores[i])
				}
			}
		})
	}
}

func TestQuality(t *testing.T) {
	s := modeltest.Synthetic()
	m, _ := knn.New(nil)
	modeltest.AssertBeatsPopularity(t, m, s, 0.05, modeltest.Known, modeltest.FoldIn)
	modeltest.AssertFoldIn(t, m, s)
	modeltest.AssertSimilarClusters(t, m, s)
	fresh, _ := knn.New(nil)
	modeltest.AssertRoundTrip(t, m, fresh, s.DS)
	modeltest.AssertConcurrentScore(t, m, s.DS)
}

func BenchmarkFitAndScore(b *testing.B) {
	s := modeltest.SyntheticWith(modeltest.Config{Users: 2000, Items: 3000, Clusters: 20, MinPer: 20, MaxPer: 100, Focus: 0.8, Seed: 3})
	b.Run("fit", func(b *testing.B) {
		for b.Loop() {
			m, _ := knn.New(nil)
			modeltest.Fit(b, m, s.DS)
		}
	})
	m, _ := knn.New(nil)
	modeltest.Fit(b, m, s.DS)
	scores := make([]float32, s.DS.NumItems())
	hist := s.DS.Items[:50]
	b.Run("score50", func(b *testing.B) {
		for b.Loop() {
			m.Score(model.Query{User: -1, History: hist}, scores)
		}
	})
}

var _ model.SimilarItems = (*knn.ItemKNN)(nil)
