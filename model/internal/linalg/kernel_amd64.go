package linalg

import "golang.org/x/sys/cpu"

// The assembly kernels: AVX-512 where present, else AVX2 with FMA, else
// the portable loop.
var (
	hasAVX512 = cpu.X86.HasAVX512F
	hasFMA    = cpu.X86.HasAVX2 && cpu.X86.HasFMA
)

//go:noescape
func kern6x8SubAVX2(a, b *float64, kc int, c *float64, ldc int)

//go:noescape
func kern6x16SubAVX512(a, b *float64, kc int, c *float64, ldc int)

// kernelSub subtracts the product of the packed slivers a (kc×mr) and b
// (kc×nr) in place from the mr×nr block of a row-major matrix that starts
// at c[0] with row stride ldc.
func kernelSub(a, b []float64, kc int, c []float64, ldc int) {
	if kc == 0 {
		return
	}
	_ = a[kc*mr-1]
	_ = b[kc*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	switch {
	case hasAVX512:
		kern6x16SubAVX512(&a[0], &b[0], kc, &c[0], ldc)
	case hasFMA:
		kern6x8SubAVX2(&a[0], &b[0], kc, &c[0], ldc)
		kern6x8SubAVX2(&a[0], &b[8], kc, &c[8], ldc)
	default:
		kernelSubGo(a, b, kc, c, ldc)
	}
}
