package ann

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/viterin/vek/vek32"
)

// kmeans clusters the row-major points into k centroids (Euclidean k-means,
// k-means++ seeding, Lloyd iterations). It returns the centroids. Work is
// split over workers goroutines; ctx is checked between passes.
func kmeans(ctx context.Context, points []float32, dim, k, iters, workers int, rng *rand.Rand, progress Progress) ([]float32, error) {
	n := len(points) / dim
	cent := make([]float32, k*dim)
	// k-means++: each next centre is drawn with probability proportional to
	// the squared distance to the nearest centre chosen so far.
	// ‖x − c‖² = ‖x‖² − 2 x·c + ‖c‖², with x·c for all x in one
	// matrix-vector product.
	norms := make([]float32, n)
	for i := range norms {
		row := points[i*dim : (i+1)*dim]
		norms[i] = vek32.Dot(row, row)
	}
	dots := make([]float32, n)
	distTo := func(c []float32, fn func(i int, d float32)) {
		vek32.MatMul_Into(dots, points, c, dim)
		cc := vek32.Dot(c, c)
		for i, xc := range dots {
			fn(i, max(0, norms[i]-2*xc+cc))
		}
	}
	d2 := make([]float32, n)
	first := rng.IntN(n)
	copy(cent[:dim], points[first*dim:(first+1)*dim])
	distTo(cent[:dim], func(i int, d float32) { d2[i] = d })
	for c := 1; c < k; c++ {
		if c%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if progress != nil {
				progress("kmeans++", c, k)
			}
		}
		var sum float64
		for _, v := range d2 {
			sum += float64(v)
		}
		pick := rng.IntN(n)
		if sum > 0 {
			r := rng.Float64() * sum
			for i, v := range d2 {
				r -= float64(v)
				if r <= 0 {
					pick = i
					break
				}
			}
		}
		cc := cent[c*dim : (c+1)*dim]
		copy(cc, points[pick*dim:(pick+1)*dim])
		distTo(cc, func(i int, d float32) { d2[i] = min(d2[i], d) })
	}

	assign := make([]int32, n)
	for it := 0; it < iters; it++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if progress != nil {
			progress("kmeans", it, iters)
		}
		assignNearest(points, cent, dim, assign)
		// New centroids: mean of the assigned points, summed per worker.
		sums := make([][]float64, workers)
		counts := make([][]int, workers)
		var wg sync.WaitGroup
		chunk := (n + workers - 1) / workers
		for w := 0; w < workers; w++ {
			lo, hi := w*chunk, min(n, (w+1)*chunk)
			sums[w] = make([]float64, k*dim)
			counts[w] = make([]int, k)
			wg.Add(1)
			go func(s []float64, cn []int) {
				defer wg.Done()
				for i := lo; i < hi; i++ {
					a := int(assign[i])
					cn[a]++
					row := s[a*dim : (a+1)*dim]
					for j, v := range points[i*dim : (i+1)*dim] {
						row[j] += float64(v)
					}
				}
			}(sums[w], counts[w])
		}
		wg.Wait()
		total := make([]int, k)
		for c := 0; c < k; c++ {
			for w := 0; w < workers; w++ {
				total[c] += counts[w][c]
			}
			if total[c] == 0 {
				continue
			}
			for j := 0; j < dim; j++ {
				var s float64
				for w := 0; w < workers; w++ {
					s += sums[w][c*dim+j]
				}
				cent[c*dim+j] = float32(s / float64(total[c]))
			}
		}
		// An empty cluster takes a random point of the largest cluster, which
		// the next iteration splits in two.
		for c := 0; c < k; c++ {
			if total[c] > 0 {
				continue
			}
			big := 0
			for j := range total {
				if total[j] > total[big] {
					big = j
				}
			}
			for tries := 0; tries < 64; tries++ {
				i := rng.IntN(n)
				if int(assign[i]) == big || tries == 63 {
					copy(cent[c*dim:(c+1)*dim], points[i*dim:(i+1)*dim])
					break
				}
			}
			total[big] /= 2
			total[c] = total[big]
		}
	}
	return cent, nil
}

// assignNearest writes into assign the index of the nearest centroid
// (Euclidean) of every point: the largest x·c − ‖c‖²/2, computed as blocks
// of matrix products (AVX2, split over the CPUs by vek).
func assignNearest(points, cent []float32, dim int, assign []int32) {
	k := len(cent) / dim
	half := make([]float32, k)
	ct := make([]float32, dim*k) // centroids transposed: dim × k
	for c := 0; c < k; c++ {
		row := cent[c*dim : (c+1)*dim]
		half[c] = vek32.Dot(row, row) / 2
		for j, v := range row {
			ct[j*k+c] = v
		}
	}
	const rows = 256
	n := len(points) / dim
	dst := make([]float32, rows*k)
	for lo := 0; lo < n; lo += rows {
		hi := min(n, lo+rows)
		out := vek32.MatMul_Into(dst, points[lo*dim:hi*dim], ct, dim)
		for r := 0; r < hi-lo; r++ {
			best, bestS := int32(0), float32(math.Inf(-1))
			for c, s := range out[r*k : (r+1)*k] {
				if s -= half[c]; s > bestS {
					best, bestS = int32(c), s
				}
			}
			assign[lo+r] = best
		}
	}
}

// nearest is the index of the centroid nearest to x (see assignNearest).
func nearest(x, cent, half []float32, dim int) int32 {
	best, bestS := int32(0), float32(math.Inf(-1))
	for c := range half {
		s := vek32.Dot(x, cent[c*dim:(c+1)*dim]) - half[c]
		if s > bestS {
			best, bestS = int32(c), s
		}
	}
	return best
}

func defaultWorkers(w int) int {
	if w > 0 {
		return w
	}
	return runtime.GOMAXPROCS(0)
}
