package sasrec

import (
	"math"

	"github.com/viterin/vek/vek32"
	"gonum.org/v1/gonum/blas/blas32"
)

// The numerical kernels. Dot products use vek (AVX2 assembly, 6–11 ns for
// d=64); long axpy (y += a·x over a catalogue-sized row) uses gonum's SSE
// assembly through blas32; short axpy is a plain loop, whose call overhead is
// lower than either library's for d ≤ 64. docs/architecture.md has the
// measurements behind these choices.

// dot returns x·y; len(y) must be at least len(x).
func dot(x, y []float32) float32 {
	if len(x) == 0 {
		return 0
	}
	return vek32.Dot(x, y[:len(x)])
}

// axpy does y += a·x for short vectors.
func axpy(a float32, x, y []float32) {
	y = y[:len(x)]
	i := 0
	for ; i+4 <= len(x); i += 4 {
		y[i] += a * x[i]
		y[i+1] += a * x[i+1]
		y[i+2] += a * x[i+2]
		y[i+3] += a * x[i+3]
	}
	for ; i < len(x); i++ {
		y[i] += a * x[i]
	}
}

// axpyLong does y += a·x for long vectors (a catalogue row).
func axpyLong(a float32, x, y []float32) {
	blas32.Axpy(a, blas32.Vector{N: len(x), Inc: 1, Data: x}, blas32.Vector{N: len(x), Inc: 1, Data: y[:len(x)]})
}

// expf is exp for float32 with relative error below 2e-7 on the range used
// by the softmax (x ≤ 0); it returns 0 below -87.
func expf(x float32) float32 {
	if x < -87 {
		return 0
	}
	if x > 88 {
		x = 88
	}
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693145751953125
		ln2lo = 1.42860682030941723212e-6
	)
	k := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - k*ln2hi - k*ln2lo
	p := 1 + r*(1+r*(0.5+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	return p * math.Float32frombits(uint32(int32(k)+127)<<23)
}

// transpose writes the c×r transpose of the r×c row-major matrix src into dst.
func transpose(dst, src []float32, r, c int) {
	const blk = 32
	for i0 := 0; i0 < r; i0 += blk {
		i1 := min(i0+blk, r)
		for j0 := 0; j0 < c; j0 += blk {
			j1 := min(j0+blk, c)
			for i := i0; i < i1; i++ {
				row := src[i*c : i*c+c]
				for j := j0; j < j1; j++ {
					dst[j*r+i] = row[j]
				}
			}
		}
	}
}

// linear computes y = x·Wᵀ + b for n rows: x is n×in, W is out×in (one row
// per output, so every output is one contiguous dot product), y is n×out.
func linear(y, x, w, b []float32, n, in, out int) {
	for i := 0; i < n; i++ {
		xi := x[i*in : i*in+in]
		yi := y[i*out : i*out+out]
		for o := range yi {
			yi[o] = dot(xi, w[o*in:o*in+in]) + b[o]
		}
	}
}

// linearBack accumulates the gradients of linear: dW += dyᵀ·x, db += Σ dy,
// and dx += dy·W (dx may be nil when the input needs no gradient). The two
// products go through vek's AVX2 matrix kernel (3× faster than row-wise
// axpys in the profile); tmp is scratch of at least n·in + out·n + out·in.
func linearBack(dx, dw, db, dy, x, w []float32, n, in, out int, tmp []float32) {
	if n == 0 {
		return
	}
	for i := 0; i < n; i++ {
		vek32.Add_Inplace(db[:out], dy[i*out:i*out+out])
	}
	if dx != nil {
		t := vek32.MatMul_Into(tmp[:n*in], dy[:n*out], w[:out*in], out)
		vek32.Add_Inplace(dx[:n*in], t)
	}
	dyT := tmp[n*in : n*in+out*n]
	transpose(dyT, dy[:n*out], n, out)
	t := vek32.MatMul_Into(tmp[n*in+out*n:n*in+out*n+out*in], dyT, x[:n*in], n)
	vek32.Add_Inplace(dw[:out*in], t)
}

// lnEps keeps layer normalisation finite on constant rows.
const lnEps = 1e-6

// layerNorm normalises each of the n rows of x (width d) into y = γ·x̂ + β,
// keeping x̂ and 1/σ for the backward pass.
func layerNorm(y, xhat, rstd, x, gamma, beta []float32, n, d int) {
	for i := 0; i < n; i++ {
		xi := x[i*d : i*d+d]
		var mu float64
		for _, v := range xi {
			mu += float64(v)
		}
		mu /= float64(d)
		var va float64
		for _, v := range xi {
			dv := float64(v) - mu
			va += dv * dv
		}
		va /= float64(d)
		rs := float32(1 / math.Sqrt(va+lnEps))
		rstd[i] = rs
		xh := xhat[i*d : i*d+d]
		yi := y[i*d : i*d+d]
		m := float32(mu)
		for k, v := range xi {
			h := (v - m) * rs
			xh[k] = h
			yi[k] = gamma[k]*h + beta[k]
		}
	}
}

// layerNormBack writes dx (overwriting) and accumulates dγ, dβ.
func layerNormBack(dx, dgamma, dbeta, dy, xhat, rstd, gamma []float32, n, d int) {
	for i := 0; i < n; i++ {
		dyi := dy[i*d : i*d+d]
		xh := xhat[i*d : i*d+d]
		dxi := dx[i*d : i*d+d]
		var s1, s2 float32
		for k, g := range dyi {
			dgamma[k] += g * xh[k]
			dbeta[k] += g
			dh := g * gamma[k]
			s1 += dh
			s2 += dh * xh[k]
		}
		s1 /= float32(d)
		s2 /= float32(d)
		rs := rstd[i]
		for k, g := range dyi {
			dxi[k] = rs * (g*gamma[k] - s1 - xh[k]*s2)
		}
	}
}

// gelu is x·Φ(x), the activation of the feed-forward layers.
func gelu(x float32) float32 {
	return float32(0.5 * float64(x) * (1 + math.Erf(float64(x)/math.Sqrt2)))
}

// geluGrad is d gelu/dx = Φ(x) + x·φ(x).
func geluGrad(x float32) float32 {
	xf := float64(x)
	cdf := 0.5 * (1 + math.Erf(xf/math.Sqrt2))
	pdf := math.Exp(-0.5*xf*xf) / math.Sqrt(2*math.Pi)
	return float32(cdf + xf*pdf)
}

// logf64 is math.Log guarded against log(0) from an underflowed probability.
func logf64(x float64) float64 {
	if x < 1e-38 {
		x = 1e-38
	}
	return math.Log(x)
}
