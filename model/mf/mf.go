// Package mf holds the matrix-factorisation recommenders for implicit
// feedback: BPR (Bayesian personalised ranking, pairwise, trained by SGD or
// Adam with negative sampling) and iALS/WRMF (weighted least squares with
// Hu–Koren–Volinsky confidences, alternating exact or conjugate-gradient
// solves). Both learn a vector per user and per item; a user's score for an
// item is their dot product.
//
// Both use every core without unlocked shared writes: iALS gives each
// goroutine whole rows to solve, BPR trains in DSGD strata (user block g with
// item block (g+s) mod W in sub-epoch s), so no two goroutines ever touch the
// same row.
//
// Scoring a query with History folds the user in: their vector is recomputed
// from the history against the item factors by a regularised weighted
// least-squares solve, so new events change the very next answer. Unknown
// users (User == -1) always fold in.
package mf

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/aisle-dev/aisle/model"
)

// factors are what a factor model learns.
type factors struct {
	Dim      int
	NumUsers int
	NumItems int
	U        []float32 // NumUsers×Dim, row-major
	V        []float32 // NumItems×Dim, row-major
	ItemBias []float32 // per item; nil when the model has none
	Pop      []float32 // per item interaction count share, the answer for an empty query
	UserIDs  []string  // the training ids, for warm starts
	ItemIDs  []string
}

func (f *factors) user(u int) []float32 { return f.U[u*f.Dim : (u+1)*f.Dim] }
func (f *factors) item(i int) []float32 { return f.V[i*f.Dim : (i+1)*f.Dim] }

func (f *factors) check() error {
	if f.Dim <= 0 || f.Dim > 1<<16 || f.NumUsers < 0 || f.NumItems < 0 || len(f.U) != f.NumUsers*f.Dim || len(f.V) != f.NumItems*f.Dim ||
		(f.ItemBias != nil && len(f.ItemBias) != f.NumItems) || len(f.Pop) != f.NumItems {
		return fmt.Errorf("inconsistent factor sizes")
	}
	return nil
}

// foldIn solves min_x Σ_h c_h (1 − x·y_h)² + w0 Σ_{j∉H} (x·y_j)² + λ|x|²,
// c_h = 1 + alpha·w_h, exactly:
// (w0·G + Σ_h (c_h − w0) y_h y_hᵀ + λI) x = Σ_h c_h y_h, with G = YᵀY.
//
// With regExp ν > 0 the regulariser grows with the history length n:
// λ·(max(n,1)/meanN)^ν (frequency-scaled regularisation, Rendle et al. 2022).
type foldIn struct {
	alpha, w0, lambda float64
	regExp, meanN     float64
	gram              []float64 // Dim×Dim, YᵀY
}

// scaledReg is λ·(max(n,1)/meanN)^ν, or λ when ν is 0.
func scaledReg(lambda, regExp, meanN float64, n int) float64 {
	if regExp == 0 || meanN <= 0 {
		return lambda
	}
	return lambda * math.Pow(float64(max(n, 1))/meanN, regExp)
}

func (fi *foldIn) solve(f *factors, hist []int32, hw []float32, x []float32) {
	k := f.Dim
	a := make([]float64, k*k)
	b := make([]float64, k)
	for p, g := range fi.gram {
		a[p] = fi.w0 * g
	}
	lambda := scaledReg(fi.lambda, fi.regExp, fi.meanN, len(hist))
	for d := 0; d < k; d++ {
		a[d*k+d] += lambda
	}
	for j, h := range hist {
		if h < 0 || int(h) >= f.NumItems {
			continue
		}
		w := 1.0
		if hw != nil {
			w = float64(hw[j])
		}
		c := 1 + fi.alpha*w
		y := f.item(int(h))
		for r := 0; r < k; r++ {
			yr := float64(y[r])
			b[r] += c * yr
			s := (c - fi.w0) * yr
			row := a[r*k : r*k+r+1]
			for q := range row {
				row[q] += s * float64(y[q])
			}
		}
	}
	if !cholSolve(a, b, k) {
		clear(x)
		return
	}
	for d := range x {
		x[d] = float32(b[d])
	}
}

// score writes x·y_i (+ bias) for every item, or the popularity for an
// empty query.
func (f *factors) score(fi *foldIn, q model.Query, scores []float32) {
	var x []float32
	switch {
	case len(q.History) > 0:
		x = make([]float32, f.Dim)
		fi.solve(f, q.History, q.HistoryWeights, x)
	case q.User >= 0 && int(q.User) < f.NumUsers:
		x = f.user(int(q.User))
	default:
		copy(scores, f.Pop)
		return
	}
	f.scoreVec(x, scores)
}

// scoreVec writes x·y_i (+ bias) for every item.
func (f *factors) scoreVec(x, scores []float32) {
	for i := 0; i < f.NumItems; i++ {
		s := dot(x, f.item(i))
		if f.ItemBias != nil {
			s += f.ItemBias[i]
		}
		scores[i] = s
	}
}

// gram returns MᵀM of a rows×k row-major matrix as a k×k float64 matrix,
// summing over row ranges in parallel.
func gram(m []float32, k int) []float64 {
	rows := len(m) / k
	workers := runtime.GOMAXPROCS(0)
	parts := make([][]float64, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := make([]float64, k*k)
			for r := w; r < rows; r += workers {
				v := m[r*k : (r+1)*k]
				for a := 0; a < k; a++ {
					va := float64(v[a])
					row := g[a*k : (a+1)*k]
					for b := a; b < k; b++ {
						row[b] += va * float64(v[b])
					}
				}
			}
			parts[w] = g
		}()
	}
	wg.Wait()
	g := parts[0]
	for _, p := range parts[1:] {
		for i := range g {
			g[i] += p[i]
		}
	}
	for a := 0; a < k; a++ {
		for b := 0; b < a; b++ {
			g[a*k+b] = g[b*k+a]
		}
	}
	return g
}

// cholSolve solves A x = b in place (x in b) for a symmetric positive
// definite k×k A of which the lower triangle is read and overwritten.
// It reports false when A is not positive definite.
func cholSolve(a, b []float64, k int) bool {
	for j := 0; j < k; j++ {
		s := a[j*k+j]
		for p := 0; p < j; p++ {
			s -= a[j*k+p] * a[j*k+p]
		}
		if s <= 0 || math.IsNaN(s) {
			return false
		}
		d := math.Sqrt(s)
		a[j*k+j] = d
		for i := j + 1; i < k; i++ {
			s := a[i*k+j]
			ri, rj := a[i*k:i*k+j], a[j*k:j*k+j]
			for p := range ri {
				s -= ri[p] * rj[p]
			}
			a[i*k+j] = s / d
		}
	}
	// L y = b
	for i := 0; i < k; i++ {
		s := b[i]
		for p := 0; p < i; p++ {
			s -= a[i*k+p] * b[p]
		}
		b[i] = s / a[i*k+i]
	}
	// Lᵀ x = y
	for i := k - 1; i >= 0; i-- {
		s := b[i]
		for p := i + 1; p < k; p++ {
			s -= a[p*k+i] * b[p]
		}
		b[i] = s / a[i*k+i]
	}
	return true
}

func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

// axpy does y += a·x.
func axpy(a float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += a * v
	}
}

// parallelRows calls fn(worker, row) for every row in [0, n), handing out
// chunks of rows to GOMAXPROCS goroutines; every row is given to exactly one
// goroutine. It stops early when stop reports true.
func parallelRows(n int, stop func() bool, fn func(worker, row int)) {
	workers := runtime.GOMAXPROCS(0)
	const chunk = 32
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(chunk)) - chunk
				if lo >= n || stop() {
					return
				}
				for r := lo; r < min(n, lo+chunk); r++ {
					fn(w, r)
				}
			}
		}()
	}
	wg.Wait()
}

// initFactors fills m with N(0, std²) values.
func initFactors(rng *rand.Rand, m []float32, std float64) {
	for i := range m {
		m[i] = float32(rng.NormFloat64() * std)
	}
}

// warmCopy copies the rows of prev whose ids appear in ids into m (both
// row-major with dim columns) and reports how many rows it copied.
func warmCopy(m []float32, ids []string, prev []float32, prevIDs []string, dim int) int {
	index := make(map[string]int, len(prevIDs))
	for i, id := range prevIDs {
		index[id] = i
	}
	n := 0
	for i, id := range ids {
		if p, ok := index[id]; ok && (p+1)*dim <= len(prev) {
			copy(m[i*dim:(i+1)*dim], prev[p*dim:(p+1)*dim])
			n++
		}
	}
	return n
}

// popularity is the share of interactions of every item.
func popularity(ds *model.Dataset) []float32 {
	p := make([]float32, ds.NumItems())
	if len(ds.Items) == 0 {
		return p
	}
	for _, it := range ds.Items {
		p[it]++
	}
	for i := range p {
		p[i] /= float32(len(ds.Items))
	}
	return p
}

// similar writes the cosine between item's vector and every item's vector.
func (f *factors) similar(item int32, scores []float32) {
	clear(scores)
	if item < 0 || int(item) >= f.NumItems {
		return
	}
	x := f.item(int(item))
	nx := float32(math.Sqrt(float64(dot(x, x))))
	if nx == 0 {
		return
	}
	for i := 0; i < f.NumItems; i++ {
		y := f.item(i)
		ny := float32(math.Sqrt(float64(dot(y, y))))
		if ny > 0 {
			scores[i] = dot(x, y) / (nx * ny)
		}
	}
}
