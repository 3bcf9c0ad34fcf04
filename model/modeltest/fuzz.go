package modeltest

import (
	"bytes"
	"context"
	"testing"

	"github.com/aisle-dev/aisle/model"
)

// Tiny is the smallest data set with structure: items a, b, c; user u has
// a and b, user v has c. Fuzz tests fit their seed models on it.
func Tiny() *model.Dataset {
	return &model.Dataset{ItemIDs: []string{"a", "b", "c"}, UserIDs: []string{"u", "v"},
		UserPtr: []int{0, 2, 3}, Items: []int32{0, 1, 2}}
}

// LoadCase is one model type under FuzzLoad: how to make an empty one to
// Load into, and how many items a loaded one scores.
type LoadCase struct {
	Fresh    func() model.Model
	NumItems func(model.Model) int
}

// fuzzQueries are the queries every loaded model must score without
// panicking: a known user, a second user with a history holding an unknown
// and a negative item, and an anonymous history whose weights are shorter
// than the history.
var fuzzQueries = []model.Query{
	{User: 0},
	{User: 1, History: []int32{0, 5, -1}},
	{User: -1, History: []int32{0, 5, -1}, HistoryWeights: []float32{1}},
}

// FuzzLoad is the body of every model's FuzzLoad. It fits each seed model on
// ds and adds its saved form (and the empty input) to the corpus; then, for
// arbitrary bytes, Load into a fresh model of each case either fails or gives
// a model whose Score (and Similar, where the model has it) does not panic.
func FuzzLoad(f *testing.F, ds *model.Dataset, seeds []model.Model, cases ...LoadCase) {
	f.Helper()
	for _, m := range seeds {
		if err := m.Fit(context.Background(), ds, nil); err != nil {
			f.Fatalf("fit %s: %v", m.Name(), err)
		}
		var buf bytes.Buffer
		if err := m.Save(&buf); err != nil {
			f.Fatalf("save %s: %v", m.Name(), err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range cases {
			m := c.Fresh()
			if m.Load(bytes.NewReader(data)) != nil {
				continue
			}
			s := make([]float32, c.NumItems(m))
			for _, q := range fuzzQueries {
				m.Score(q, s)
			}
			if sim, ok := m.(model.SimilarItems); ok {
				sim.Similar(0, s)
			}
		}
	})
}
