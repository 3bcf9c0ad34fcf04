package linalg

import (
	"context"
	"runtime"
)

// EASEWeights returns EASE's item-item weights B = I − P·diag(1/diag(P))
// with a zero diagonal (row-major n×n float32, B[i*n+j] is how much item i
// votes for item j) for P = g⁻¹, g the regularised Gram matrix (symmetric
// positive definite, row-major; it is overwritten by P).
func EASEWeights(ctx context.Context, g []float64, n int) ([]float32, error) {
	if err := InvertSPD(ctx, g, n); err != nil {
		return nil, err
	}
	b := make([]float32, n*n)
	diag := make([]float64, n)
	for j := range diag {
		diag[j] = g[j*n+j]
	}
	parallel(runtime.GOMAXPROCS(0), ceilDiv(n, 64), func(bi int) {
		for i := bi * 64; i < min(n, (bi+1)*64); i++ {
			p, row := g[i*n:(i+1)*n], b[i*n:(i+1)*n]
			for j, v := range p {
				row[j] = float32(-v / diag[j])
			}
			row[i] = 0
		}
	})
	return b, ctx.Err()
}
