package mf

import (
	"context"
	"math"
	"testing"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/modeltest"
)

// UserVector·ItemVectors (+ bias) must reproduce Score, for known users and
// for fold-in from a history.
func TestUserVectorMatchesScore(t *testing.T) {
	ds := modeltest.Synthetic().DS
	for _, m := range []interface {
		model.Model
		model.UserEmbedder
	}{mustIALS(t), mustBPR(t)} {
		if err := m.Fit(context.Background(), ds, nil); err != nil {
			t.Fatal(err)
		}
		dim, vecs := m.ItemVectors()
		bias := m.ItemBias()
		for _, q := range []model.Query{{User: 3}, {User: -1, History: []int32{1, 5, 9}}, {User: 2, History: []int32{4}, HistoryWeights: []float32{2}}} {
			x := make([]float32, dim)
			if !m.UserVector(q, x) {
				t.Fatalf("%s: no user vector for %+v", m.Name(), q)
			}
			scores := make([]float32, ds.NumItems())
			m.Score(q, scores)
			for i := range scores {
				var d float32
				for k := 0; k < dim; k++ {
					d += x[k] * vecs[i*dim+k]
				}
				if bias != nil {
					d += bias[i]
				}
				if math.Abs(float64(d-scores[i])) > 1e-4*(1+math.Abs(float64(d))) {
					t.Fatalf("%s %+v item %d: vector gives %g, Score %g", m.Name(), q, i, d, scores[i])
				}
			}
		}
		if m.UserVector(model.Query{User: -1}, make([]float32, dim)) {
			t.Fatalf("%s: a vector for an empty query", m.Name())
		}
	}
}

func mustIALS(t *testing.T) *IALS {
	m, err := NewIALS(model.Params{"iterations": 3, "factors": 8})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustBPR(t *testing.T) *BPR {
	m, err := NewBPR(model.Params{"epochs": 3, "factors": 8})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNewIALSFromFactors(t *testing.T) {
	m, err := NewIALSFromFactors(nil, 2, []string{"u"}, []string{"a", "b"}, []float32{1, 0}, []float32{2, 0, 0, 3})
	if err != nil {
		t.Fatal(err)
	}
	s := make([]float32, 2)
	m.Score(model.Query{User: 0}, s)
	if s[0] != 2 || s[1] != 0 {
		t.Fatalf("scores %v", s)
	}
	if _, err := NewIALSFromFactors(nil, 2, []string{"u"}, []string{"a"}, []float32{1}, []float32{2, 0}); err == nil {
		t.Fatal("bad shapes accepted")
	}
}
