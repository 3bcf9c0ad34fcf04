package linalg

import "math/rand/v2"

// testSPD is a Gram-like SPD matrix: XᵀX of a sparse random 0/1 matrix
// with popular and rare columns, plus lambda on the diagonal (what EASE
// inverts).
func testSPD(n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	users := 2 * n
	a := make([]float64, n*n)
	row := make([]int, 0, 64)
	for range users {
		row = row[:0]
		for range 5 + rng.IntN(40) {
			// skewed popularity
			i := int(float64(n) * rng.Float64() * rng.Float64())
			row = append(row, i)
		}
		for _, i := range row {
			for _, j := range row {
				a[i*n+j]++
			}
		}
	}
	for i := range n {
		a[i*n+i] += 50
	}
	return a
}
