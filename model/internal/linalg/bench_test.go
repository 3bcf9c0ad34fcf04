package linalg

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkInvertSPD times InvertSPD on Gram-like matrices (n = 2k, 6k, 12k
// as in the task; 12k needs 1.2 GB).
func BenchmarkInvertSPD(b *testing.B) {
	for _, n := range []int{2000, 6000, 12000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) { benchInvert(b, n) })
	}
}

// BenchmarkInvertKernels compares the assembly kernels at n = 2000.
func BenchmarkInvertKernels(b *testing.B) {
	avx512, fma := hasAVX512, hasFMA
	defer func() { hasAVX512, hasFMA = avx512, fma }()
	for _, k := range []struct {
		name        string
		avx512, fma bool
	}{{"avx512", avx512, fma}, {"avx2", false, fma}} {
		if k.avx512 && !avx512 || k.fma && !fma {
			continue
		}
		b.Run(k.name, func(b *testing.B) {
			hasAVX512, hasFMA = k.avx512, k.fma
			benchInvert(b, 2000)
		})
	}
}

// benchInvert inverts a fresh copy of an n×n Gram-like matrix per
// iteration and reports CPU seconds and Gflop/s (n³ flops) beside the time.
func benchInvert(b *testing.B, n int) {
	a := testSPD(n, 1)
	w := make([]float64, len(a))
	cpu := 0.0
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		copy(w, a)
		c0 := cpuSeconds(b)
		b.StartTimer()
		if err := InvertSPD(context.Background(), w, n); err != nil {
			b.Fatal(err)
		}
		cpu += cpuSeconds(b) - c0
	}
	b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(n)*float64(n)*float64(n)/b.Elapsed().Seconds()*float64(b.N)/1e9, "Gflop/s")
}
