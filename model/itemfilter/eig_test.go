package itemfilter

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestTopEigen compares the subspace iteration with a full decomposition.
func TestTopEigen(t *testing.T) {
	const n, k = 60, 5
	rng := rand.New(rand.NewPCG(1, 2))
	x := mat.NewDense(200, n, nil)
	for i := range 200 {
		for j := range n {
			if rng.Float64() < 0.2 {
				x.Set(i, j, 1)
			}
		}
	}
	var g mat.Dense
	g.Mul(x.T(), x)
	a := make([]float64, n*n)
	for i := range n {
		for j := range n {
			a[i*n+j] = g.At(i, j)
		}
	}
	v, err := topEigen(context.Background(), append([]float64(nil), a...), n, k, 30, 1)
	if err != nil {
		t.Fatal(err)
	}
	var eig mat.EigenSym
	eig.Factorize(mat.NewSymDense(n, a), true)
	var w mat.Dense
	eig.VectorsTo(&w)
	for c := 0; c < k; c++ {
		dot := 0.0
		for i := range n {
			dot += v.At(i, c) * w.At(i, n-1-c)
		}
		if math.Abs(math.Abs(dot)-1) > 1e-6 {
			t.Errorf("eigenvector %d: |cos| = %v, want 1", c, math.Abs(dot))
		}
	}
}
