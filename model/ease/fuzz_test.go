package ease

import (
	"testing"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/modeltest"
)

// FuzzLoad: Load of arbitrary bytes either fails or yields a model whose
// Score and Similar do not panic.
func FuzzLoad(f *testing.F) {
	m, _ := New(nil)
	modeltest.FuzzLoad(f, modeltest.Tiny(), []model.Model{m}, modeltest.LoadCase{
		Fresh:    func() model.Model { return new(EASE) },
		NumItems: func(m model.Model) int { return m.(*EASE).st.N },
	})
}
