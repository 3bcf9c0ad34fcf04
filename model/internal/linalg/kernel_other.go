//go:build !amd64

package linalg

// kern6x8 writes into out (48 values, row-major 6×8) the product of the
// packed slivers a (kc×6) and b (kc×8).
func kern6x8(a, b []float64, kc int, out *[mr * nr]float64) {
	kern6x8Go(a, b, kc, out)
}
