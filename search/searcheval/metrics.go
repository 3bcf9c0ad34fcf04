package searcheval

import (
	"math"
	"sort"

	"github.com/aisle-dev/aisle/internal/metrics"
)

// NDCG returns nDCG@k of a ranked list: Σ gain_i / log2(i+1) over the top
// k (i from 1), divided by the same sum for the ideal ordering of all judged
// items (metrics.NDCG, shared with eval and ltr). Unjudged items gain 0. It
// is 0 when no judged item has a gain.
func NDCG(ranked []string, gains map[string]float64, k int) float64 {
	got := make([]float64, min(len(ranked), max(k, 0)))
	for i := range got {
		got[i] = gains[ranked[i]]
	}
	judged := make([]float64, 0, len(gains))
	for _, g := range gains {
		judged = append(judged, g)
	}
	return metrics.NDCG(got, judged, k)
}

// Recall returns the share of items with gain > 0 found in the top k, or 0
// when the query has none.
func Recall(ranked []string, gains map[string]float64, k int) float64 {
	rel := 0
	for _, g := range gains {
		if g > 0 {
			rel++
		}
	}
	if rel == 0 {
		return 0
	}
	found := 0
	seen := map[string]bool{}
	for i := 0; i < len(ranked) && i < k; i++ {
		if !seen[ranked[i]] && gains[ranked[i]] > 0 {
			found++
		}
		seen[ranked[i]] = true
	}
	return float64(found) / float64(rel)
}

// Percentile returns the p-th percentile (0..100) of xs by the
// nearest-rank method, or 0 for an empty slice. xs is not modified.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	r := int(math.Ceil(p / 100 * float64(len(s))))
	r = min(max(r, 1), len(s))
	return s[r-1]
}
