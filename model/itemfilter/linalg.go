package itemfilter

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/internal/linalg"
)

// easeWeights solves the zero-diagonal ridge regression of EASE with a
// per-item penalty: P = (G + diag(reg))⁻¹, B = I − P·diag(1/diag(P)), zero
// diagonal. With reg_i = λ + q·G_ii this is the emphasised denoising linear
// autoencoder (EDLAE, Steck NeurIPS 2020) whose dropout rate p gives
// q = p/(1−p): popular items are shrunk more. g is consumed.
func easeWeights(ctx context.Context, g []float64, n int, reg []float64) ([]float32, error) {
	for i := 0; i < n; i++ {
		g[i*n+i] += reg[i]
	}
	b, err := linalg.EASEWeights(ctx, g, n)
	if err != nil {
		return nil, fmt.Errorf("the regularised Gram matrix (raise lambda): %w", err)
	}
	return b, nil
}

// topEigen returns the k leading eigenvectors (as the columns of an n×k
// matrix) of the symmetric positive semi-definite n×n matrix a, by block
// subspace iteration with oversampling and a final Rayleigh–Ritz step. Its
// cost is iters·n²·(k+over) multiply-adds instead of the ~10·n³ of a full
// eigendecomposition.
func topEigen(ctx context.Context, a []float64, n, k, iters int, seed uint64) (*mat.Dense, error) {
	if k > n {
		k = n
	}
	over := min(n-k, max(10, k/4))
	m := k + over
	A := mat.NewDense(n, n, a)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	q := mat.NewDense(n, m, nil)
	for i := range n {
		for j := range m {
			q.Set(i, j, rng.NormFloat64())
		}
	}
	orth := func(z *mat.Dense) *mat.Dense { return cholQR(cholQR(z)) }
	q = orth(q)
	var z mat.Dense
	for range iters {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		z.Mul(A, q)
		q = orth(&z)
	}
	// Rayleigh–Ritz: T = QᵀAQ, T = WΛWᵀ, eigenvectors QW.
	z.Mul(A, q)
	var t mat.Dense
	t.Mul(q.T(), &z)
	sym := mat.NewSymDense(m, nil)
	for i := range m {
		for j := i; j < m; j++ {
			sym.SetSym(i, j, (t.At(i, j)+t.At(j, i))/2)
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(sym, true) {
		return nil, fmt.Errorf("eigendecomposition of the %d×%d projected matrix failed", m, m)
	}
	var w mat.Dense
	eig.VectorsTo(&w)
	// Values are ascending: the k largest are the last k columns.
	var v mat.Dense
	v.Mul(q, w.Slice(0, m, m-k, m))
	// Largest first.
	out := mat.NewDense(n, k, nil)
	for c := range k {
		out.Slice(0, n, c, c+1).(*mat.Dense).Copy(v.Slice(0, n, k-1-c, k-c))
	}
	return out, nil
}

// normalised returns P̃ = R̃ᵀR̃ with R̃ = D_U^{-1/2} R D_I^{-1/2} (R binary or
// weighted), the item-item matrix of GF-CF's linear filter, and the item
// degrees d_i. Items no one touched have degree 0 and an all-zero row.
func normalised(ctx context.Context, ds *model.Dataset, weights bool) (p []float64, deg []float64, err error) {
	n := ds.NumItems()
	w := func(j int) float64 {
		if weights && ds.Weights != nil {
			return float64(ds.Weights[j])
		}
		return 1
	}
	deg = make([]float64, n)
	udeg := make([]float64, ds.NumUsers())
	for u := range ds.NumUsers() {
		for j := ds.UserPtr[u]; j < ds.UserPtr[u+1]; j++ {
			deg[ds.Items[j]] += w(j)
			udeg[u] += w(j)
		}
	}
	colPtr, colUser, colPos, err := ds.Columns()
	if err != nil {
		return nil, nil, err
	}
	isq := make([]float64, n)
	for i, d := range deg {
		if d > 0 {
			isq[i] = 1 / math.Sqrt(d)
		}
	}
	p = make([]float64, n*n)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for k := 0; k < workers; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < n; i += workers {
				if i%64 == k && ctx.Err() != nil {
					return
				}
				row := p[i*n : (i+1)*n]
				for c := colPtr[i]; c < colPtr[i+1]; c++ {
					u := colUser[c]
					wu := w(colPos[c]) / udeg[u]
					for j := ds.UserPtr[u]; j < ds.UserPtr[u+1]; j++ {
						row[ds.Items[j]] += wu * w(j)
					}
				}
				for j := range row {
					row[j] *= isq[i] * isq[j]
				}
			}
		}()
	}
	wg.Wait()
	return p, deg, ctx.Err()
}

// cholQR returns an orthonormal basis of the columns of z (n×m, n ≥ m) by
// Cholesky QR: R = chol(ZᵀZ), Q = Z·R⁻¹. Applied twice it is as accurate as
// Householder QR for well-conditioned z, at the cost of two n×m×m products
// and without ever forming an n×n matrix. A rank-deficient z is nudged by a
// tiny ridge so the factorisation always succeeds.
func cholQR(z *mat.Dense) *mat.Dense {
	_, m := z.Dims()
	var zz mat.Dense
	zz.Mul(z.T(), z)
	tr := 0.0
	for i := range m {
		tr += zz.At(i, i)
	}
	sym := mat.NewSymDense(m, nil)
	for i := range m {
		for j := i; j < m; j++ {
			sym.SetSym(i, j, zz.At(i, j))
		}
		sym.SetSym(i, i, zz.At(i, i)+1e-12*tr/float64(m)+1e-300)
	}
	var ch mat.Cholesky
	if !ch.Factorize(sym) {
		for i := range m {
			sym.SetSym(i, i, sym.At(i, i)+1e-8*tr/float64(m))
		}
		ch.Factorize(sym)
	}
	var r mat.TriDense
	ch.UTo(&r)
	// Q = Z·R⁻¹: solve Qᵀ from Rᵀ·Qᵀ = Zᵀ.
	var q mat.Dense
	if err := q.Solve(r.T(), z.T()); err != nil {
		return z
	}
	return mat.DenseCopyOf(q.T())
}
