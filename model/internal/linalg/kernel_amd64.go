package linalg

import "golang.org/x/sys/cpu"

// hasFMA selects the assembly kernel; without AVX2 and FMA the portable
// loop runs.
var hasFMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func kern6x8AVX2(a, b *float64, kc int, out *float64)

// kern6x8 writes into out (48 values, row-major 6×8) the product of the
// packed slivers a (kc×6) and b (kc×8).
func kern6x8(a, b []float64, kc int, out *[mr * nr]float64) {
	if kc == 0 {
		clear(out[:])
		return
	}
	_ = a[kc*mr-1] // bounds: the assembly reads kc*6 and kc*8 values
	_ = b[kc*nr-1]
	if hasFMA {
		kern6x8AVX2(&a[0], &b[0], kc, &out[0])
		return
	}
	kern6x8Go(a, b, kc, out)
}
