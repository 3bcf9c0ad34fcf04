package linalg

// The micro-tile of the rank-k updates: mr rows by nr columns.
const (
	mr = 6
	nr = 16
)

// kernelGo is the portable kernel: out[r*nr+c] = Σ_k a[k*mr+r]·b[k*nr+c].
func kernelGo(a, b []float64, kc int, out *[mr * nr]float64) {
	clear(out[:])
	for k := 0; k < kc; k++ {
		ak := a[k*mr : k*mr+mr]
		bk := b[k*nr : k*nr+nr]
		for r, x := range ak {
			o := out[r*nr : r*nr+nr]
			for c, y := range bk {
				o[c] += x * y
			}
		}
	}
}

// kernelSubGo is the portable kernelSub.
func kernelSubGo(a, b []float64, kc int, c []float64, ldc int) {
	var out [mr * nr]float64
	kernelGo(a, b, kc, &out)
	for r := 0; r < mr; r++ {
		row := c[r*ldc : r*ldc+nr]
		for j := range row {
			row[j] -= out[r*nr+j]
		}
	}
}

// kernel writes into out (row-major mr×nr) the product of the packed
// slivers a (kc×mr) and b (kc×nr): for tiles that are not a contiguous
// block of the matrix.
func kernel(a, b []float64, kc int, out *[mr * nr]float64) {
	clear(out[:])
	kernelSub(a, b, kc, out[:], nr)
	for i, v := range out {
		out[i] = -v
	}
}
