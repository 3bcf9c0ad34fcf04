package mf

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestCholSolve(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, k := range []int{1, 3, 8, 33} {
		x := mat.NewDense(k+5, k, nil)
		for i := 0; i < k+5; i++ {
			for j := 0; j < k; j++ {
				x.Set(i, j, rng.NormFloat64())
			}
		}
		var a mat.Dense
		a.Mul(x.T(), x)
		b := make([]float64, k)
		for i := range b {
			b[i] = rng.NormFloat64()
		}
		var want mat.VecDense
		if err := want.SolveVec(&a, mat.NewVecDense(k, append([]float64(nil), b...))); err != nil {
			t.Fatal(err)
		}
		raw := append([]float64(nil), a.RawMatrix().Data...)
		if !cholSolve(raw, b, k) {
			t.Fatalf("k=%d: not positive definite", k)
		}
		for i := range b {
			if math.Abs(b[i]-want.AtVec(i)) > 1e-6*(1+math.Abs(want.AtVec(i))) {
				t.Errorf("k=%d x[%d] = %v, want %v", k, i, b[i], want.AtVec(i))
			}
		}
	}
	if cholSolve([]float64{-1}, []float64{1}, 1) {
		t.Error("a negative matrix was accepted")
	}
}

// TestFoldInNormalEquations checks the fold-in against a dense solve of
// (w0·YᵀY + Σ_h (c_h − w0) y_h y_hᵀ + λI) x = Σ_h c_h y_h.
func TestFoldInNormalEquations(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, k = 20, 5
	f := &factors{Dim: k, NumItems: n, V: make([]float32, n*k)}
	initFactors(rng, f.V, 1)
	fi := foldIn{alpha: 3, w0: 0.5, lambda: 0.7, gram: gram(f.V, k)}
	hist, hw := []int32{2, 7, 7, 11}, []float32{1, 2, 0.5, 4}
	x := make([]float32, k)
	fi.solve(f, hist, hw, x)

	a := mat.NewDense(k, k, nil)
	b := mat.NewVecDense(k, nil)
	for i := 0; i < n; i++ {
		for r := 0; r < k; r++ {
			for q := 0; q < k; q++ {
				a.Set(r, q, a.At(r, q)+fi.w0*float64(f.V[i*k+r])*float64(f.V[i*k+q]))
			}
		}
	}
	for r := 0; r < k; r++ {
		a.Set(r, r, a.At(r, r)+fi.lambda)
	}
	for j, h := range hist {
		c := 1 + fi.alpha*float64(hw[j])
		y := f.item(int(h))
		for r := 0; r < k; r++ {
			b.SetVec(r, b.AtVec(r)+c*float64(y[r]))
			for q := 0; q < k; q++ {
				a.Set(r, q, a.At(r, q)+(c-fi.w0)*float64(y[r])*float64(y[q]))
			}
		}
	}
	var want mat.VecDense
	if err := want.SolveVec(a, b); err != nil {
		t.Fatal(err)
	}
	for d := 0; d < k; d++ {
		if math.Abs(float64(x[d])-want.AtVec(d)) > 1e-4 {
			t.Errorf("x[%d] = %v, want %v", d, x[d], want.AtVec(d))
		}
	}
}
