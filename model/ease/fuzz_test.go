package ease

import (
	"testing"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/modeltest"
)

// FuzzLoad: Load of arbitrary bytes either fails or yields a model whose
// Score and Similar do not panic. The seeds are a dense and a sparse
// (max_items exceeded) model.
func FuzzLoad(f *testing.F) {
	dense, _ := New(nil)
	sparse, _ := New(model.Params{"max_items": 1, "neighbours": 2})
	modeltest.FuzzLoad(f, modeltest.Tiny(), []model.Model{dense, sparse}, modeltest.LoadCase{
		Fresh:    func() model.Model { return new(EASE) },
		NumItems: func(m model.Model) int { return m.(*EASE).st.N },
	})
}
