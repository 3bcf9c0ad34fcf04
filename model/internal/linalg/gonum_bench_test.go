package linalg

import (
	"fmt"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// BenchmarkGonumStages is the previous path (gonum Cholesky, then InverseTo)
// split into its two stages, to see where the time goes (n = 6000 takes
// minutes of CPU: select sizes with -bench).
func BenchmarkGonumStages(b *testing.B) {
	for _, n := range []int{1000, 2000, 6000} {
		b.Run(fmt.Sprintf("factorize/n=%d", n), func(b *testing.B) {
			a := testSPD(n, 1)
			b.ResetTimer()
			cpu := 0.0
			for range b.N {
				b.StopTimer()
				s := mat.NewSymDense(n, append([]float64(nil), a...))
				c0 := cpuSeconds(b)
				b.StartTimer()
				var ch mat.Cholesky
				if !ch.Factorize(s) {
					b.Fatal("not SPD")
				}
				cpu += cpuSeconds(b) - c0
			}
			b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
		})
		b.Run(fmt.Sprintf("inverse/n=%d", n), func(b *testing.B) {
			a := testSPD(n, 1)
			var ch mat.Cholesky
			if !ch.Factorize(mat.NewSymDense(n, append([]float64(nil), a...))) {
				b.Fatal("not SPD")
			}
			b.ResetTimer()
			cpu := 0.0
			for range b.N {
				c0 := cpuSeconds(b)
				var p mat.SymDense
				if err := ch.InverseTo(&p); err != nil {
					b.Fatal(err)
				}
				cpu += cpuSeconds(b) - c0
			}
			b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
		})
	}
}
