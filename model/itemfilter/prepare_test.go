package itemfilter_test

import (
	"math"
	"testing"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/itemfilter"
	"github.com/aisle-dev/aisle/model/modeltest"
)

// TestPrepareMatchesAdjust: a prepared query scores every setting bit for
// bit as Adjust then Score does (the chooser relies on it to score each
// user's parts once), for known users and fold-in queries, with and
// without the iALS and neighbour parts, whatever settings were in force
// at Prepare; it rejects what Adjust rejects.
func TestPrepareMatchesAdjust(t *testing.T) {
	s := modeltest.Synthetic()
	n := s.DS.NumItems()
	var settings []model.Params
	for _, r := range []float64{0, 1, 8} {
		for _, d := range []float64{0.5, 0.25} {
			for _, w := range []float64{0.3, 0.8} {
				for _, pop := range []float64{0, 0.3, -0.5} {
					for _, u := range []float64{0, 0.2} {
						settings = append(settings, model.Params{"recency": r, "decay": d, "ials_weight": w, "pop": pop, "uknn_weight": u})
					}
				}
			}
		}
	}
	for _, tc := range []struct {
		name     string
		params   model.Params
		settings []model.Params
	}{
		{"iALS and neighbour parts", model.Params{"lambda": 20, "ials_factors": 8, "ials_weight": 0.4, "uknn_weight": 0.1, "uknn_k": 5}, settings},
		{"filter alone", model.Params{"lambda": 20, "ials_weight": 0, "uknn_weight": 0},
			[]model.Params{{"recency": 0, "pop": 0}, {"recency": 8, "pop": 0.5}, {"recency": 1, "decay": 0.75, "pop": -0.1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := itemfilter.New(tc.params)
			if err != nil {
				t.Fatal(err)
			}
			modeltest.Fit(t, m, s.DS)
			fitted := m.Params()
			want, got := make([]float32, n), make([]float32, n)
			for qi, q := range modeltest.Queries(s.DS, 8) {
				// the settings in force at Prepare are the last query's
				// last, so a prepared query must not lean on them
				prep := m.Prepare(q)
				for _, p := range tc.settings {
					if err := prep.Score(p, got); err != nil {
						t.Fatalf("prepared %v: %v", p, err)
					}
					if err := m.Adjust(p); err != nil {
						t.Fatal(err)
					}
					m.Score(q, want)
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("query %d %+v settings %v item %d: prepared %v, adjusted %v", qi, q, p, i, got[i], want[i])
						}
					}
				}
				prep.Release() // the next query reuses its buffers
			}
			// released buffers from before a refit on another catalogue
			// are not reused
			small := tiny()
			modeltest.Fit(t, m, small)
			for _, q := range modeltest.Queries(small, 5) {
				prep := m.Prepare(q)
				p := tc.settings[len(tc.settings)-1]
				short := make([]float32, small.NumItems())
				if err := prep.Score(p, short); err != nil {
					t.Fatal(err)
				}
				if err := m.Adjust(p); err != nil {
					t.Fatal(err)
				}
				wantShort := make([]float32, small.NumItems())
				m.Score(q, wantShort)
				for i := range short {
					if math.Float32bits(short[i]) != math.Float32bits(wantShort[i]) {
						t.Fatalf("after a refit, query %+v item %d: prepared %v, adjusted %v", q, i, short[i], wantShort[i])
					}
				}
				prep.Release()
			}
			restore := model.Params{"recency": fitted["recency"], "decay": fitted["decay"], "pop": fitted["pop"]}
			if err := m.Adjust(restore); err != nil {
				t.Fatal(err)
			}
			prep := m.Prepare(model.Query{User: 0})
			for _, bad := range []model.Params{{"lambda": 5}, {"recency": -1}, {"ials_weight": 1.5}, {"decay": 2}, {"pop": 11}} {
				if err := prep.Score(bad, got); err == nil {
					t.Errorf("prepared Score(%v) accepted", bad)
				}
				if err := m.Adjust(bad); err == nil {
					t.Errorf("Adjust(%v) accepted", bad)
				}
			}
		})
	}
}
