package linalg

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/mat"
)

// blockSize is the width of the pivot block swept per step: the rank of
// every update. Larger blocks mean fewer passes over the matrix (each pass
// reads and writes its lower triangle once) but a larger small inverse per
// step; 256 keeps a packed sliver pair (6·256 + 16·256 values, 44 kB) in
// L1/L2 (128, 384 and 512 were measured slower at n = 3000).
const blockSize = 256

// colSlivers is how many 16-column slivers one worker updates at a time:
// 8·16·256 values (256 kB) of packed panel stay in L2 while every row
// sliver below them streams past.
const colSlivers = 8

// InvertSPD overwrites the symmetric positive definite n×n matrix a
// (row-major; only its lower triangle is read) with its inverse, both
// triangles filled. It is the block Gauss–Jordan sweep of a symmetric
// matrix: for each pivot block K (P = A[:,K], D = A[K,K]⁻¹, Q = P·D)
//
//	A[I,J] −= P[I]·Q[J]ᵀ  for I, J ∉ K,   A[I,K] = Q[I],   A[K,K] = −D
//
// which leaves −A⁻¹ after the last block. Its n³ flops (the same count as
// Cholesky then inverse) are one rank-256 update of the lower triangle per
// block, run by a 6×16 AVX-512 (or AVX2/FMA) kernel on packed panels over
// all cores; the pivot blocks are Schur complements of an SPD matrix and so SPD
// themselves, and a pivot that is not reports the matrix not positive
// definite. Memory beyond a is about 2·n·256 values.
func InvertSPD(ctx context.Context, a []float64, n int) error {
	return invert(ctx, a, n, blockSize)
}

// invert is InvertSPD with pivot blocks of nb (tests use small ones to
// cross many block boundaries on small matrices).
func invert(ctx context.Context, a []float64, n, nb int) error {
	if n < 0 || len(a) != n*n {
		return fmt.Errorf("invert: %d values for a %d×%d matrix", len(a), n, n)
	}
	if n == 0 {
		return nil
	}
	workers := runtime.GOMAXPROCS(0)
	nb = max(1, min(nb, n))
	maxOut := n - nb // outside rows of a full block
	if last := n % nb; last != 0 {
		maxOut = max(maxOut, n-last)
	}
	pp := make([]float64, ceilDiv(maxOut, mr)*mr*nb) // P, 6-row slivers: [s][k][r]
	qp := make([]float64, ceilDiv(maxOut, nr)*nr*nb) // Q, 16-row slivers: [s][k][c]
	dp := make([]float64, ceilDiv(nb, nr)*nr*nb)     // D, 16-column slivers: [s][k][c]
	idx := make([]int, maxOut)
	dsym := mat.NewSymDense(nb, nil)
	var ch mat.Cholesky
	var dinv mat.SymDense

	for k0 := 0; k0 < n; k0 += nb {
		if err := ctx.Err(); err != nil {
			return err
		}
		kb := min(nb, n-k0)
		mo := n - kb // rows outside the pivot block
		for t := 0; t < mo; t++ {
			if t < k0 {
				idx[t] = t
			} else {
				idx[t] = t + kb
			}
		}

		// D = A[K,K]⁻¹, packed as 16-column slivers.
		if dsym.SymmetricDim() != kb {
			dsym = mat.NewSymDense(kb, nil)
			dinv.Reset()
		}
		for r := 0; r < kb; r++ {
			for c := 0; c <= r; c++ {
				dsym.SetSym(r, c, a[(k0+r)*n+k0+c])
			}
		}
		if !ch.Factorize(dsym) {
			return fmt.Errorf("invert: the matrix is not positive definite (pivot block at %d)", k0)
		}
		if err := ch.InverseTo(&dinv); err != nil {
			return fmt.Errorf("invert: pivot block at %d: %w", k0, err)
		}
		dsl := ceilDiv(kb, nr)
		dpk := dp[:dsl*nr*kb]
		clear(dpk)
		for k := 0; k < kb; k++ {
			for c := 0; c < kb; c++ {
				dpk[(c/nr)*nr*kb+k*nr+c%nr] = dinv.At(k, c)
			}
		}
		if mo > 0 {
			ps := ceilDiv(mo, mr)
			qs := ceilDiv(mo, nr)
			ppk, qpk := pp[:ps*mr*kb], qp[:qs*nr*kb]
			packPanel(a, n, k0, kb, mo, idx, ppk)
			// Q = P·D into 16-row slivers (its padding rows are zero as P's are).
			clear(qpk)
			parallel(workers, ps, func(s int) {
				var out [mr * nr]float64
				for ct := 0; ct < dsl; ct++ {
					kernel(ppk[s*mr*kb:(s+1)*mr*kb], dpk[ct*nr*kb:(ct+1)*nr*kb], kb, &out)
					for r := 0; r < mr; r++ {
						t := s*mr + r
						if t >= mo {
							break
						}
						for c := 0; c < nr && ct*nr+c < kb; c++ {
							qpk[(t/nr)*nr*kb+(ct*nr+c)*nr+t%nr] = out[r*nr+c]
						}
					}
				}
			})
			// A[I,J] −= P[I]·Q[J]ᵀ on the lower triangle, by column blocks.
			blocks := ceilDiv(qs, colSlivers)
			parallel(workers, blocks, func(bl int) {
				var out [mr * nr]float64
				j0, j1 := bl*colSlivers, min(qs, (bl+1)*colSlivers)
				for s := (j0 * nr) / mr; s < ps; s++ {
					asl := ppk[s*mr*kb : (s+1)*mr*kb]
					t0 := s * mr
					rowsTogether := t0+mr <= mo && idx[t0+mr-1] == idx[t0]+mr-1
					for jt := j0; jt < j1 && jt*nr <= t0+mr-1; jt++ {
						bsl := qpk[jt*nr*kb : (jt+1)*nr*kb]
						if u0 := jt * nr; rowsTogether && u0+nr-1 <= t0 && idx[u0+nr-1] == idx[u0]+nr-1 {
							// the whole tile is below the diagonal, its rows
							// and columns contiguous: update a in place
							kernelSub(asl, bsl, kb, a[idx[t0]*n+idx[u0]:], n)
							continue
						}
						kernel(asl, bsl, kb, &out)
						for r := 0; r < mr; r++ {
							t := s*mr + r
							if t >= mo {
								break
							}
							row := a[idx[t]*n:]
							for c := 0; c < nr; c++ {
								u := jt*nr + c
								if u > t {
									break
								}
								row[idx[u]] -= out[r*nr+c]
							}
						}
					}
				}
			})
			// A[I,K] = Q[I] (stored in the lower triangle).
			for t := 0; t < mo; t++ {
				i := idx[t]
				src := qpk[(t/nr)*nr*kb+t%nr:]
				if i < k0 {
					for c := 0; c < kb; c++ {
						a[(k0+c)*n+i] = src[c*nr]
					}
				} else {
					row := a[i*n+k0 : i*n+k0+kb]
					for c := range row {
						row[c] = src[c*nr]
					}
				}
			}
		}
		// A[K,K] = −D.
		for r := 0; r < kb; r++ {
			for c := 0; c <= r; c++ {
				a[(k0+r)*n+k0+c] = -dinv.At(r, c)
			}
		}
	}
	// A holds −A⁻¹ in its lower triangle: negate and mirror.
	parallel(workers, ceilDiv(n, 64), func(bi int) {
		for i := bi * 64; i < min(n, (bi+1)*64); i++ {
			row := a[i*n : i*n+i+1]
			for j := range row {
				row[j] = -row[j]
			}
		}
	})
	mirror(a, n)
	return ctx.Err()
}

// packPanel copies P = A[I,K] (the rows outside the pivot block, in order
// idx) into 6-row slivers pp[s][k][r], zero-padding the last sliver. Only
// the lower triangle of a is read: rows above the block read column K of
// the block's rows.
func packPanel(a []float64, n, k0, kb, mo int, idx []int, pp []float64) {
	clear(pp[(mo/mr)*mr*kb:])
	for t := 0; t < mo; t++ {
		i := idx[t]
		if i >= k0 {
			break
		}
		// above the block: A[i, k0+c] = A[k0+c, i]
		base := (t/mr)*mr*kb + t%mr
		for c := 0; c < kb; c++ {
			pp[base+c*mr] = a[(k0+c)*n+i]
		}
	}
	for t := min(k0, mo); t < mo; t++ {
		row := a[idx[t]*n+k0 : idx[t]*n+k0+kb]
		base := (t/mr)*mr*kb + t%mr
		for c, v := range row {
			pp[base+c*mr] = v
		}
	}
}

// mirror copies the lower triangle of the row-major n×n matrix a into its
// upper triangle, by tiles so both sides stay in cache.
func mirror(a []float64, n int) {
	const tile = 64
	for i0 := 0; i0 < n; i0 += tile {
		for j0 := 0; j0 <= i0; j0 += tile {
			for i := i0; i < min(n, i0+tile); i++ {
				for j := j0; j < min(i, j0+tile); j++ {
					a[j*n+i] = a[i*n+j]
				}
			}
		}
	}
}

// parallel runs f(0..count-1) on up to workers goroutines, handing out
// indexes in order so the larger (earlier) items start first.
func parallel(workers, count int, f func(int)) {
	if workers <= 1 || count <= 1 {
		for i := 0; i < count; i++ {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, count) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= count {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
