package popular

import (
	"testing"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/modeltest"
)

// FuzzLoad: Load of arbitrary bytes either fails or yields a model whose
// Score does not panic.
func FuzzLoad(f *testing.F) {
	m, _ := New(nil)
	modeltest.FuzzLoad(f, modeltest.Tiny(), []model.Model{m}, modeltest.LoadCase{
		Fresh:    func() model.Model { return new(Popular) },
		NumItems: func(m model.Model) int { return len(m.(*Popular).state.Scores) },
	})
}
