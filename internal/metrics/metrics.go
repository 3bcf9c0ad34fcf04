// Package metrics holds the ranking metrics shared by the recommendation
// evaluation (eval), the search evaluation (search/searcheval) and
// learning to rank (search/ltr), so the three report the same nDCG.
//
// Ranks are 0-based, best first; the gain at rank r is discounted by
// 1/log2(r+2), and sums run in rank order (the same float operations
// everywhere, so a number computed by one package is reproduced bit for bit
// by another).
package metrics

import (
	"math"
	"slices"
)

// Discount is the weight of rank r (0-based) in a DCG: 1/log2(r+2).
func Discount(r int) float64 { return 1 / math.Log2(float64(r)+2) }

// DCG returns Σ gains[r]·Discount(r) over the first k ranks of a ranked list
// of gains (best first). A list shorter than k counts the missing ranks as
// gain 0.
func DCG(gains []float64, k int) float64 {
	var s float64
	for r := 0; r < len(gains) && r < k; r++ {
		s += gains[r] * Discount(r)
	}
	return s
}

// IdealDCG returns the DCG@k of the best ordering of gains (the gains of all
// judged documents, in any order; gains is not modified).
func IdealDCG(gains []float64, k int) float64 {
	g := slices.Clone(gains)
	slices.Sort(g)
	slices.Reverse(g)
	return DCG(g, k)
}

// NDCG returns DCG(ranked, k) / IdealDCG(judged, k): ranked are the gains of
// the returned list, best first, and judged the gains of every judged
// document (the ones ranked among them). It is 0 when no judged document has
// a gain.
func NDCG(ranked, judged []float64, k int) float64 {
	idcg := IdealDCG(judged, k)
	if idcg == 0 {
		return 0
	}
	return DCG(ranked, k) / idcg
}

// BinaryNDCG is NDCG with gains 0 or 1: hits[r] says whether rank r holds a
// relevant item, and nRel is the number of relevant items (the ideal list
// has min(k, nRel) hits at the top). It is 0 when nRel ≤ 0 or k ≤ 0.
func BinaryNDCG(hits []bool, k, nRel int) float64 {
	if nRel <= 0 || k <= 0 {
		return 0
	}
	var dcg float64
	for r := 0; r < k && r < len(hits); r++ {
		if hits[r] {
			dcg += Discount(r)
		}
	}
	var idcg float64
	for r := 0; r < min(k, nRel); r++ {
		idcg += Discount(r)
	}
	return dcg / idcg
}
