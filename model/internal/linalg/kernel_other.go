//go:build !amd64

package linalg

// kernel writes into out (row-major mr×nr) the product of the packed
// slivers a (kc×mr) and b (kc×nr).
func kernel(a, b []float64, kc int, out *[mr * nr]float64) {
	kernelGo(a, b, kc, out)
}
