//go:build !amd64

package linalg

// No assembly kernels off amd64 (the flags exist for the tests).
var hasAVX512, hasFMA = false, false

// kernelSub subtracts the product of the packed slivers a (kc×mr) and b
// (kc×nr) in place from the mr×nr block of a row-major matrix that starts
// at c[0] with row stride ldc.
func kernelSub(a, b []float64, kc int, c []float64, ldc int) {
	kernelSubGo(a, b, kc, c, ldc)
}
