package rating

import (
	"math"
	"math/rand/v2"

	"github.com/aisle-dev/aisle/model"
)

func cloneParams(p model.Params) model.Params {
	out := make(model.Params, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

// ratingStats returns the mean and range of the training targets: the
// ratings, or for implicit data 1 per interaction and 0 per sampled negative
// (neg negatives per interaction).
func ratingStats(ds *model.Dataset, neg int) (mean, lo, hi float32) {
	if ds.Ratings == nil {
		return 1 / float32(1+neg), 0, 1
	}
	if len(ds.Ratings) == 0 {
		return 0, 0, 0
	}
	var s float64
	lo, hi = float32(math.Inf(1)), float32(math.Inf(-1))
	for _, r := range ds.Ratings {
		s += float64(r)
		lo, hi = min(lo, r), max(hi, r)
	}
	return float32(s / float64(len(ds.Ratings))), lo, hi
}

// sample is one training example: user, item and target rating.
type sample struct {
	u, i int32
	r    float32
}

// epochSamples returns one epoch's training examples in random order: every
// interaction with its rating or, when the data has no ratings, every
// interaction with target 1 plus neg uniformly drawn items with target 0
// (the pointwise implicit-feedback objective).
func epochSamples(ds *model.Dataset, users []int32, neg int, rng *rand.Rand, dst []sample) []sample {
	dst = dst[:0]
	ni := ds.NumItems()
	for j, it := range ds.Items {
		u := users[j]
		if ds.Ratings != nil {
			dst = append(dst, sample{u, it, ds.Ratings[j]})
			continue
		}
		dst = append(dst, sample{u, it, 1})
		for k := 0; k < neg && ni > 0; k++ {
			dst = append(dst, sample{u, int32(rng.IntN(ni)), 0})
		}
	}
	rng.Shuffle(len(dst), func(a, b int) { dst[a], dst[b] = dst[b], dst[a] })
	return dst
}

func clamp(x, lo, hi float32) float32 {
	if lo >= hi {
		return x
	}
	return min(max(x, lo), hi)
}

// userOf returns, for every interaction index, its user (the CSR row).
func userOf(ds *model.Dataset) []int32 {
	out := make([]int32, ds.NumInteractions())
	for u := 0; u < ds.NumUsers(); u++ {
		for j := ds.UserPtr[u]; j < ds.UserPtr[u+1]; j++ {
			out[j] = int32(u)
		}
	}
	return out
}

func dot(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	n := len(a)
	b = b[:n]
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}
