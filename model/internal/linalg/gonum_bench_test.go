package linalg

import (
	"fmt"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// BenchmarkGonumStages is the previous path (gonum Cholesky, then InverseTo)
// split into its two stages, to see where the time goes.
func BenchmarkGonumStages(b *testing.B) {
	for _, n := range []int{1000, 2000} {
		b.Run(fmt.Sprintf("factorize/n=%d", n), func(b *testing.B) {
			a := testSPD(n, 1)
			b.ResetTimer()
			for range b.N {
				var ch mat.Cholesky
				if !ch.Factorize(mat.NewSymDense(n, append([]float64(nil), a...))) {
					b.Fatal("not SPD")
				}
			}
		})
		b.Run(fmt.Sprintf("inverse/n=%d", n), func(b *testing.B) {
			a := testSPD(n, 1)
			var ch mat.Cholesky
			if !ch.Factorize(mat.NewSymDense(n, append([]float64(nil), a...))) {
				b.Fatal("not SPD")
			}
			b.ResetTimer()
			for range b.N {
				var p mat.SymDense
				if err := ch.InverseTo(&p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
