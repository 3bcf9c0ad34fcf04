package ann

import (
	"math/rand/v2"
)

// clustered returns n row-major vectors of dimension dim drawn around
// clusters random centres (standard normal), each point = centre + normal
// noise of standard deviation sigma: the shape of learned item embeddings,
// where items form groups.
func clustered(n, dim, clusters int, sigma float32, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	cent := make([]float32, clusters*dim)
	for i := range cent {
		cent[i] = float32(rng.NormFloat64())
	}
	v := make([]float32, n*dim)
	for i := 0; i < n; i++ {
		c := rng.IntN(clusters)
		for j := 0; j < dim; j++ {
			v[i*dim+j] = cent[c*dim+j] + sigma*float32(rng.NormFloat64())
		}
	}
	return v
}

// uniform returns n vectors with coordinates uniform in [-1, 1]: no
// structure at all, the worst case for any partitioning index.
func uniform(n, dim int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 2))
	v := make([]float32, n*dim)
	for i := range v {
		v[i] = 2*rng.Float32() - 1
	}
	return v
}

// recallAt returns the mean fraction of the exact top k found by approx.
func recallAt(exact, approx [][]Hit) float64 {
	var sum float64
	for i := range exact {
		want := map[int32]bool{}
		for _, h := range exact[i] {
			want[h.Index] = true
		}
		got := 0
		for _, h := range approx[i] {
			if want[h.Index] {
				got++
			}
		}
		if len(want) > 0 {
			sum += float64(got) / float64(len(want))
		}
	}
	return sum / float64(len(exact))
}
