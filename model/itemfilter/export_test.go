package itemfilter

import (
	"context"

	"github.com/aisle-dev/aisle/model"
)

// Internals for the external experiment harness (experiment_test.go).

// GraphFilterParts returns GF-CF's linear filter P̃ and its ideal low-pass
// part L (so graphFilter = P̃ + alpha·L) and the item degrees.
func GraphFilterParts(ctx context.Context, ds *model.Dataset, k int) (p, l []float32, err error) {
	p, err = graphFilter(ctx, ds, true, k, 0)
	if err != nil {
		return nil, nil, err
	}
	pl, err := graphFilter(ctx, ds, true, k, 1)
	if err != nil {
		return nil, nil, err
	}
	for i := range pl {
		pl[i] -= p[i]
	}
	return p, pl, nil
}

// Matrix returns the fitted B (n×n, row-major) and output scales.
func (m *Filter) Matrix() (int, []float32, []float32) { return m.st.N, m.st.B, m.st.Out }

// TopEigen exposes topEigen to the harness.
func TopEigen(ctx context.Context, a []float64, n, k int) ([]float64, error) {
	v, err := topEigen(ctx, a, n, k, 6, 1)
	if err != nil {
		return nil, err
	}
	raw := v.RawMatrix()
	out := make([]float64, n*k)
	for i := range n {
		copy(out[i*k:(i+1)*k], raw.Data[i*raw.Stride:i*raw.Stride+k])
	}
	return out, nil
}
