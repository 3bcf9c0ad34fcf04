package ann

// dotsI8Go is the portable int8 × int16 kernel (and the reference the
// assembly is tested against).
func dotsI8Go(out []int32, codes []int8, q []int16, dim int) {
	q = q[:dim]
	for r := range out {
		row := codes[r*dim : (r+1)*dim]
		var s0, s1, s2, s3 int32
		d := 0
		for ; d+4 <= dim; d += 4 {
			s0 += int32(row[d]) * int32(q[d])
			s1 += int32(row[d+1]) * int32(q[d+1])
			s2 += int32(row[d+2]) * int32(q[d+2])
			s3 += int32(row[d+3]) * int32(q[d+3])
		}
		for ; d < dim; d++ {
			s0 += int32(row[d]) * int32(q[d])
		}
		out[r] = s0 + s1 + s2 + s3
	}
}
