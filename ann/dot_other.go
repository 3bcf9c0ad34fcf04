//go:build !amd64

package ann

// dotsI8 writes into out[r] the dot product of row r of codes (dim int8)
// with q (dim int16), for r < len(out).
func dotsI8(out []int32, codes []int8, q []int16, dim int) {
	dotsI8Go(out, codes, q, dim)
}
