package linalg

import (
	"context"
	"fmt"
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// gonumInverse is the reference: gonum's Cholesky then InverseTo.
func gonumInverse(t testing.TB, a []float64, n int) []float64 {
	t.Helper()
	var ch mat.Cholesky
	if !ch.Factorize(mat.NewSymDense(n, append([]float64(nil), a...))) {
		t.Fatal("reference: not positive definite")
	}
	var p mat.SymDense
	if err := ch.InverseTo(&p); err != nil {
		t.Fatal(err)
	}
	out := make([]float64, n*n)
	for i := range n {
		for j := range n {
			out[i*n+j] = p.At(i, j)
		}
	}
	return out
}

func TestInvertMatchesCholesky(t *testing.T) {
	for _, tc := range []struct{ n, nb int }{
		{1, 256}, {2, 1}, {5, 2}, {7, 3}, {13, 6}, {40, 8}, {50, 7}, {97, 16}, {130, 13}, {300, 256}, {520, 256},
	} {
		t.Run(fmt.Sprintf("n=%d/nb=%d", tc.n, tc.nb), func(t *testing.T) {
			a := testSPD(tc.n, uint64(tc.n))
			want := gonumInverse(t, a, tc.n)
			got := append([]float64(nil), a...)
			// the upper triangle must not be read
			for i := range tc.n {
				for j := i + 1; j < tc.n; j++ {
					got[i*tc.n+j] = math.NaN()
				}
			}
			if err := invert(context.Background(), got, tc.n, tc.nb); err != nil {
				t.Fatal(err)
			}
			scale := 0.0
			for _, v := range want {
				scale = max(scale, math.Abs(v))
			}
			for i, v := range got {
				if d := math.Abs(v - want[i]); !(d <= 1e-10*scale) {
					t.Fatalf("P[%d,%d] = %v, want %v (scale %v)", i/tc.n, i%tc.n, v, want[i], scale)
				}
			}
		})
	}
}

func TestInvertRejectsIndefinite(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    []float64
		n    int
	}{
		{"negative", []float64{-1}, 1},
		{"singular", []float64{1, 1, 1, 1}, 2},
		{"indefinite-late", []float64{4, 0, 0, 0, 1, 0, 0, 0, -2}, 3},
		{"size", []float64{1, 2, 3}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := invert(context.Background(), tc.a, tc.n, 1); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestInvertCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a := testSPD(20, 1)
	if err := invert(ctx, a, 20, 4); err == nil {
		t.Fatal("a cancelled inverse returned no error")
	}
}

func TestKernelsAgree(t *testing.T) {
	// every kernel this CPU has, against the portable loop
	avx512, fma := hasAVX512, hasFMA
	defer func() { hasAVX512, hasFMA = avx512, fma }()
	for _, tc := range []struct {
		name        string
		avx512, fma bool
	}{{"avx512", avx512, fma}, {"avx2", false, fma}, {"go", false, false}} {
		if (tc.avx512 != avx512 && tc.avx512) || (tc.fma != fma && tc.fma) {
			continue
		}
		hasAVX512, hasFMA = tc.avx512, tc.fma
		for _, kc := range []int{0, 1, 3, 256} {
			a := make([]float64, max(1, kc)*mr)
			b := make([]float64, max(1, kc)*nr)
			for i := range a {
				a[i] = float64(i%7) - 3.5
			}
			for i := range b {
				b[i] = float64(i%5)*0.25 - 0.3 + float64(i%nr)
			}
			var got, want [mr * nr]float64
			for i := range got {
				got[i] = 99 // must be overwritten
			}
			kernel(a, b, kc, &got)
			kernelGo(a, b, kc, &want)
			for i := range got {
				if math.Abs(got[i]-want[i]) > 1e-9*(1+math.Abs(want[i])) {
					t.Fatalf("%s kc=%d out[%d] = %v, want %v", tc.name, kc, i, got[i], want[i])
				}
			}
		}
		t.Run(tc.name+"/invert", func(t *testing.T) {
			const n = 77
			a := testSPD(n, 9)
			want := gonumInverse(t, a, n)
			if err := invert(context.Background(), a, n, 10); err != nil {
				t.Fatal(err)
			}
			for i, v := range a {
				if math.Abs(v-want[i]) > 1e-10 {
					t.Fatalf("P[%d] = %v, want %v", i, v, want[i])
				}
			}
		})
	}
}

func TestEASEWeights(t *testing.T) {
	const n = 60
	a := testSPD(n, 3)
	p := gonumInverse(t, a, n)
	b, err := EASEWeights(context.Background(), append([]float64(nil), a...), n)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		for j := range n {
			want := float32(-p[i*n+j] / p[j*n+j])
			if i == j {
				want = 0
			}
			if d := math.Abs(float64(b[i*n+j] - want)); d > 1e-6*(1+math.Abs(float64(want))) {
				t.Fatalf("B[%d,%d] = %v, want %v", i, j, b[i*n+j], want)
			}
		}
	}
}
