package ann

import "golang.org/x/sys/cpu"

// hasAVX2 selects the assembly kernel; without AVX2 the portable loop runs.
var hasAVX2 = cpu.X86.HasAVX2

//go:noescape
func dotsI8AVX2(codes *int8, q *int16, dim int, n int, out *int32)

// dotsI8 writes into out[r] the dot product of row r of codes (n rows of
// dim int8, dim a multiple of 16) with q (dim int16), for r < len(out).
func dotsI8(out []int32, codes []int8, q []int16, dim int) {
	n := len(out)
	if n == 0 {
		return
	}
	_ = codes[n*dim-1] // bounds: the assembly reads n*dim codes
	_ = q[dim-1]
	if hasAVX2 && dim%16 == 0 {
		dotsI8AVX2(&codes[0], &q[0], dim, n, &out[0])
		return
	}
	dotsI8Go(out, codes, q, dim)
}
