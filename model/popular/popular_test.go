package popular_test

import (
	"context"
	"math"
	"testing"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/modeltest"
	"github.com/aisle-dev/aisle/model/popular"
)

func TestScores(t *testing.T) {
	day := int64(86400)
	ds := &model.Dataset{
		UserIDs: []string{"a", "b"}, ItemIDs: []string{"x", "y", "z"},
		UserPtr: []int{0, 2, 4},
		Items:   []int32{0, 1, 0, 2},
		Weights: []float32{1, 2, 1, 4},
		Times:   []int64{10 * day, 10 * day, 8 * day, 9 * day},
	}
	tests := []struct {
		name string
		p    model.Params
		want []float64
	}{
		{"no decay", nil, []float64{2, 2, 4}},
		{"half-life one day", model.Params{"half_life": 1}, []float64{1 + 0.25, 2, 4 * 0.5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := popular.New(tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Fit(context.Background(), ds, nil); err != nil {
				t.Fatal(err)
			}
			got := make([]float32, 3)
			m.Score(model.Query{User: -1}, got)
			for i := range got {
				if math.Abs(float64(got[i])-tc.want[i]) > 1e-5 {
					t.Errorf("item %d: %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestRejectsBadParams(t *testing.T) {
	for _, p := range []model.Params{{"half_life": -1}, {"halflife": 3}} {
		if _, err := popular.New(p); err == nil {
			t.Errorf("New(%v) succeeded", p)
		}
	}
}

func TestRoundTripAndConcurrency(t *testing.T) {
	s := modeltest.Synthetic()
	m, _ := popular.New(model.Params{"half_life": 7})
	modeltest.Fit(t, m, s.DS)
	fresh, _ := popular.New(nil)
	modeltest.AssertRoundTrip(t, m, fresh, s.DS)
	modeltest.AssertConcurrentScore(t, m, s.DS)
}
