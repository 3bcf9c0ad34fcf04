package eval

import (
	"math"
	"sort"

	"github.com/aisle-dev/aisle/internal/metrics"
	"github.com/aisle-dev/aisle/internal/topk"
)

// The ranking metrics below take hits, the relevance of a ranked list: hits[i]
// says whether the item at rank i (0-based, best first) is a held-out target.
// Only hits[:k] is read; a list shorter than k counts the missing ranks as
// misses. nRel is the number of held-out targets of the user.

// Precision is the share of the top k that are targets.
func Precision(hits []bool, k int) float64 {
	if k <= 0 {
		return 0
	}
	return float64(countHits(hits, k)) / float64(k)
}

// Recall is the share of the targets found in the top k.
func Recall(hits []bool, k, nRel int) float64 {
	if nRel <= 0 {
		return 0
	}
	return float64(countHits(hits, k)) / float64(nRel)
}

// HR (hit rate) is 1 when at least one target is in the top k, else 0. With
// one target per user it equals Recall.
func HR(hits []bool, k int) float64 {
	if countHits(hits, k) > 0 {
		return 1
	}
	return 0
}

// NDCG is the normalised discounted cumulative gain with binary gains:
// DCG = Σ hit_i / log2(i+2) over the top k, divided by the ideal DCG of
// min(k, nRel) hits at the top (metrics.BinaryNDCG, shared with search).
func NDCG(hits []bool, k, nRel int) float64 { return metrics.BinaryNDCG(hits, k, nRel) }

// AP is the average precision at k: the precision at the rank of each target
// found in the top k, summed and divided by min(k, nRel). MAP@k is its mean
// over users.
func AP(hits []bool, k, nRel int) float64 {
	if nRel <= 0 || k <= 0 {
		return 0
	}
	sum, n := 0.0, 0
	for i := 0; i < k && i < len(hits); i++ {
		if hits[i] {
			n++
			sum += float64(n) / float64(i+1)
		}
	}
	return sum / float64(min(k, nRel))
}

// AUC is the probability that a random target scores above a random
// non-target candidate (ties count half). pos are the targets' scores and neg
// the other candidates' scores. It returns NaN when either is empty.
func AUC(pos, neg []float32) float64 {
	if len(pos) == 0 || len(neg) == 0 {
		return math.NaN()
	}
	var wins float64
	if len(pos) <= 32 {
		// Few targets (the usual case): one pass over the negatives per target.
		for _, p := range pos {
			for _, n := range neg {
				if p > n {
					wins++
				} else if p == n {
					wins += 0.5
				}
			}
		}
		return wins / float64(len(pos)) / float64(len(neg))
	}
	sorted := append([]float32(nil), neg...)
	sort.Slice(sorted, func(a, b int) bool { return sorted[a] < sorted[b] })
	for _, p := range pos {
		below := sort.Search(len(sorted), func(i int) bool { return sorted[i] >= p })
		notAbove := sort.Search(len(sorted), func(i int) bool { return sorted[i] > p })
		wins += float64(below) + 0.5*float64(notAbove-below)
	}
	return wins / float64(len(pos)) / float64(len(sorted))
}

// Coverage is the share of the catalogue's numItems that appear in at least
// one recommendation list; recommended marks every item shown to someone.
func Coverage(recommended []bool, numItems int) float64 {
	if numItems <= 0 {
		return 0
	}
	n := 0
	for _, r := range recommended {
		if r {
			n++
		}
	}
	return float64(n) / float64(numItems)
}

// RMSE is the root mean squared error of predictions against truth.
func RMSE(pred, truth []float32) float64 {
	if len(truth) == 0 {
		return math.NaN()
	}
	s := 0.0
	for i := range truth {
		d := float64(pred[i]) - float64(truth[i])
		s += d * d
	}
	return math.Sqrt(s / float64(len(truth)))
}

// MAE is the mean absolute error of predictions against truth.
func MAE(pred, truth []float32) float64 {
	if len(truth) == 0 {
		return math.NaN()
	}
	s := 0.0
	for i := range truth {
		s += math.Abs(float64(pred[i]) - float64(truth[i]))
	}
	return s / float64(len(truth))
}

func countHits(hits []bool, k int) int {
	n := 0
	for i := 0; i < k && i < len(hits); i++ {
		if hits[i] {
			n++
		}
	}
	return n
}

// topK writes into dst the indices of the k highest scores among candidates
// (all items when candidates is nil), skipping items marked in excluded, best
// first; ties are broken by the lower item index so results are
// deterministic, and NaN scores never rank. It returns dst[:n] with n ≤ k.
func topK(scores []float32, candidates []int32, excluded []bool, k int, dst []int32) []int32 {
	dst = dst[:0]
	if k <= 0 {
		return dst
	}
	t := topk.New[int32, float32](k)
	// s < t.Floor() rejects most items inline; Push settles ties and NaN.
	if candidates == nil {
		for i, s := range scores {
			if !(s < t.Floor()) && (excluded == nil || !excluded[i]) {
				t.Push(int32(i), s)
			}
		}
	} else {
		for _, it := range candidates {
			if s := scores[it]; !(s < t.Floor()) && (excluded == nil || !excluded[it]) {
				t.Push(it, s)
			}
		}
	}
	for _, h := range t.Sorted() {
		dst = append(dst, h.Index)
	}
	return dst
}
