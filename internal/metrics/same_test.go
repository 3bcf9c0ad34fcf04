package metrics_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/aisle-dev/aisle/eval"
	"github.com/aisle-dev/aisle/internal/metrics"
	"github.com/aisle-dev/aisle/search/ltr"
	"github.com/aisle-dev/aisle/search/searcheval"
)

// The three functions below are the nDCG implementations eval, searcheval and
// ltr had before they shared this package, kept verbatim as the reference:
// the shared code must reproduce their numbers.

func oldEvalNDCG(hits []bool, k, nRel int) float64 {
	if nRel <= 0 || k <= 0 {
		return 0
	}
	dcg := 0.0
	for i := 0; i < k && i < len(hits); i++ {
		if hits[i] {
			dcg += 1 / math.Log2(float64(i+2))
		}
	}
	idcg := 0.0
	for i := 0; i < min(k, nRel); i++ {
		idcg += 1 / math.Log2(float64(i+2))
	}
	return dcg / idcg
}

func oldSearchevalNDCG(ranked []string, gains map[string]float64, k int) float64 {
	var dcg float64
	for i := 0; i < len(ranked) && i < k; i++ {
		dcg += gains[ranked[i]] / math.Log2(float64(i+2))
	}
	ideal := make([]float64, 0, len(gains))
	for _, g := range gains {
		ideal = append(ideal, g)
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(ideal)))
	var idcg float64
	for i := 0; i < len(ideal) && i < k; i++ {
		idcg += ideal[i] / math.Log2(float64(i+2))
	}
	if idcg == 0 {
		return 0
	}
	return dcg / idcg
}

func oldLTRNDCG(scores, labels []float64, k int) float64 {
	discount := func(rank int) float64 { return 1 / math.Log2(float64(rank)+2) }
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	var dcg float64
	for r := 0; r < len(order) && r < k; r++ {
		dcg += labels[order[r]] * discount(r)
	}
	l := slices.Clone(labels)
	sort.Sort(sort.Reverse(sort.Float64Slice(l)))
	var idcg float64
	for r := 0; r < len(l) && r < k; r++ {
		idcg += l[r] * discount(r)
	}
	if idcg == 0 {
		return 0
	}
	return dcg / idcg
}

// TestSameNumbersAsBefore compares the shared nDCG, through each package's
// public NDCG, with the replaced implementations on random lists: eval's and
// ltr's bit for bit; searcheval's, which divided by log2 where the others
// multiply by its inverse, to within 1e-15 relative (the last bit of graded
// gains such as 0.1).
func TestSameNumbersAsBefore(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	grades := []float64{0, 0, 0.01, 0.1, 1, 2, 3} // ESCI gains and integer labels
	for trial := range 2000 {
		n := r.IntN(40)
		k := r.IntN(25) - 1

		hits := make([]bool, n)
		nRel := r.IntN(8)
		for i := range hits {
			hits[i] = r.IntN(4) == 0
		}
		if got, want := eval.NDCG(hits, k, nRel), oldEvalNDCG(hits, k, nRel); got != want {
			t.Fatalf("trial %d: eval.NDCG = %v, before %v", trial, got, want)
		}

		scores, labels := make([]float64, n), make([]float64, n)
		for i := range scores {
			scores[i] = float64(r.IntN(6)) // ties: order by index
			labels[i] = grades[r.IntN(len(grades))]
		}
		if got, want := ltr.NDCG(scores, labels, k), oldLTRNDCG(scores, labels, k); got != want {
			t.Fatalf("trial %d: ltr.NDCG = %v, before %v (scores %v labels %v k %d)", trial, got, want, scores, labels, k)
		}

		gains := map[string]float64{}
		var ranked []string
		for i := range n {
			id := fmt.Sprint("p", r.IntN(60))
			ranked = append(ranked, id)
			if i%2 == 0 {
				gains[id] = grades[r.IntN(len(grades))]
			}
		}
		for range r.IntN(5) { // judged items not returned
			gains[fmt.Sprint("q", r.IntN(9))] = grades[r.IntN(len(grades))]
		}
		got, want := searcheval.NDCG(ranked, gains, k), oldSearchevalNDCG(ranked, gains, k)
		if math.Abs(got-want) > 1e-15*math.Max(1, math.Abs(want)) {
			t.Fatalf("trial %d: searcheval.NDCG = %v, before %v", trial, got, want)
		}
	}
}

func TestNDCG(t *testing.T) {
	tests := []struct {
		name          string
		ranked, judge []float64
		k             int
		want          float64
	}{
		{"ideal order", []float64{3, 2, 1}, []float64{1, 2, 3}, 3, 1},
		{"nothing judged relevant", []float64{0, 0}, []float64{0, 0}, 2, 0},
		{"k = 0", []float64{1}, []float64{1}, 0, 0},
		{"one hit at rank 2 of 1 relevant", []float64{0, 1}, []float64{1}, 2, 1 / math.Log2(3)},
		{"relevant item not returned", []float64{1}, []float64{1, 1}, 2, 1 / (1 + 1/math.Log2(3))},
	}
	for _, tc := range tests {
		if got := metrics.NDCG(tc.ranked, tc.judge, tc.k); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: NDCG = %v, want %v", tc.name, got, tc.want)
		}
	}
	judged := []float64{1, 3, 2}
	metrics.IdealDCG(judged, 3)
	if !slices.Equal(judged, []float64{1, 3, 2}) {
		t.Errorf("IdealDCG modified its input: %v", judged)
	}
}
