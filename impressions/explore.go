package impressions

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
)

// Exploration: the EM fit of the position-based model separates θ from γ
// only as well as the logged orders vary independently of relevance. On a
// personalised surface they do not: the item a shopper sees first is the
// one most relevant to that shopper, so EM credits position 1 with the
// relevance and the curve comes out too steep. Randomising the order of
// the leading items in a small share of answers (RandTop-k: Joachims,
// Swaminathan and Schnabel, "Unbiased learning-to-rank with biased
// feedback", WSDM 2017; Wang et al., WSDM 2018) removes the confounding:
// in a shuffled list every item is equally likely at every leading
// position, so the click-through rate of position k is θ_k times the same
// average relevance, and θ_k/θ_1 = CTR_k/CTR_1 with no model of relevance
// at all.

// ExploreTop is how many leading items an explored answer shuffles (the
// positions the fit estimates).
const ExploreTop = 10

// MinExplored is how many explored answers of a surface Fit needs before
// it estimates that surface's θ from them rather than by EM.
const MinExplored = 300

// Explores reports whether the answer requestID is one of the share
// (0 … 1) of answers whose order is randomised. It is a pure function of
// the request id (a hash), so a replayed log, a replica or a test decides
// the same way.
func Explores(requestID string, share float64) bool {
	if share <= 0 {
		return false
	}
	return unit(requestID, "explore") < share
}

// ExploreOrder returns the order an explored answer of n items shows them
// in: a uniform shuffle of the first min(n, ExploreTop) indexes, the rest
// in place; seeded by the request id, so it is reproducible.
func ExploreOrder(requestID string, n int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	h := fnv.New64a()
	h.Write([]byte("order\x00" + requestID))
	rng := rand.New(rand.NewPCG(h.Sum64(), 0x5851f42d4c957f2d))
	top := min(n, ExploreTop)
	rng.Shuffle(top, func(i, j int) { order[i], order[j] = order[j], order[i] })
	return order
}

// unit maps (id, salt) to [0, 1) uniformly.
func unit(id, salt string) float64 {
	h := fnv.New64a()
	h.Write([]byte(salt + "\x00" + id))
	// fnv's low bits mix poorly for short inputs: finish with splitmix64
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// ThetaFromExplored estimates θ relative to position 1 from the views and
// clicks of each position in shuffled lists: θ_k = CTR_k / CTR_1, made
// non-increasing by pooling adjacent violators (weighted by views), each
// at most 1. A position with fewer than minViews views takes the previous
// one's value. It returns nil when position 1 has no click (nothing to
// divide by).
func ThetaFromExplored(views, clicks []int64, minViews int64) []float64 {
	if len(views) == 0 || views[0] == 0 || clicks[0] == 0 {
		return nil
	}
	ctr1 := float64(clicks[0]) / float64(views[0])
	type block struct {
		sum, w float64
		n      int
	}
	var blocks []block
	for k := range views {
		var r, w float64
		switch {
		case k == 0:
			r, w = 1, float64(views[0])
		case views[k] < minViews:
			continue // filled in below
		default:
			r, w = math.Min(1, float64(clicks[k])/float64(views[k])/ctr1), float64(views[k])
		}
		blocks = append(blocks, block{r * w, w, 1})
		// pool while a later block is examined more than the one before
		for len(blocks) > 1 {
			a, b := blocks[len(blocks)-2], blocks[len(blocks)-1]
			if a.sum/a.w >= b.sum/b.w {
				break
			}
			blocks = append(blocks[:len(blocks)-2], block{a.sum + b.sum, a.w + b.w, a.n + b.n})
		}
	}
	var fitted []float64
	for _, b := range blocks {
		for range b.n {
			fitted = append(fitted, b.sum/b.w)
		}
	}
	out := make([]float64, len(views))
	j := 0
	for k := range views {
		if k > 0 && views[k] < minViews {
			out[k] = out[k-1]
			continue
		}
		out[k] = fitted[j]
		j++
	}
	out[0] = 1
	return out
}

// ThetaSE is the standard error of each raw ratio CTR_k / CTR_1 of
// ThetaFromExplored (before pooling), by the delta method on the log of
// the ratio of two binomial rates:
// θ_k · sqrt(1/c_k − 1/v_k + 1/c_1 − 1/v_1); 0 for position 1, −1 where
// a position (or the first) has no click (not NaN: the fit is JSON).
func ThetaSE(views, clicks []int64) []float64 {
	out := make([]float64, len(views))
	if len(views) == 0 || clicks[0] == 0 || views[0] == 0 {
		for k := range out {
			out[k] = -1
		}
		return out
	}
	c1, v1 := float64(clicks[0]), float64(views[0])
	for k := 1; k < len(views); k++ {
		ck, vk := float64(clicks[k]), float64(views[k])
		if ck == 0 || vk == 0 {
			out[k] = -1
			continue
		}
		r := (ck / vk) / (c1 / v1)
		out[k] = r * math.Sqrt(math.Max(0, 1/ck-1/vk+1/c1-1/v1))
	}
	return out
}
