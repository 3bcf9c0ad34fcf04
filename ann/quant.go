package ann

import (
	"fmt"
	"math"
)

// Quant is how an IVF index stores its vectors.
type Quant uint8

const (
	// Float32 keeps the vectors as given: 4 bytes a dimension.
	Float32 Quant = iota
	// Int8 keeps one byte a dimension and one float32 scale a vector
	// (code = round(127·v/max|v|)): the scale follows each vector's own
	// length, so long and short vectors keep the same relative precision.
	Int8
	// Int8Dim keeps one byte a dimension and one float32 scale a dimension
	// (code = round(127·v_d/max over items of |v_d|)); the scales are folded
	// into the query, so scoring needs no per-vector multiply. Vectors added
	// after the build are clamped to the build's range.
	Int8Dim
	// PQ keeps a product-quantisation code: IVFOptions.PQSub bytes an item
	// (default DefaultPQSub), each the index of the nearest of 256 centroids
	// of one sub-vector, scored through a lookup table (pq.go). Meant for
	// use with a rescorer that re-ranks a short list in full precision.
	PQ Quant = 4 // 3 is the file format's "lists only"
)

// String names the quantisation as the config spells it.
func (q Quant) String() string {
	switch q {
	case Float32:
		return "float32"
	case Int8:
		return "int8"
	case Int8Dim:
		return "int8dim"
	case PQ:
		return "pq"
	}
	return fmt.Sprintf("quant(%d)", uint8(q))
}

// ParseQuant reads "float32", "int8", "int8dim" or "pq".
func ParseQuant(s string) (Quant, error) {
	for _, q := range []Quant{Float32, Int8, Int8Dim, PQ} {
		if q.String() == s {
			return q, nil
		}
	}
	return 0, fmt.Errorf("ann: unknown vector quantisation %q (want float32, int8, int8dim or pq)", s)
}

// padDim is the stored length of an int8 code: dim rounded up to 16, the
// width of the assembly kernel; the padding is zero.
func padDim(dim int) int { return (dim + 15) &^ 15 }

// quantizeRow writes the int8 code of v into code (len padDim) and returns
// the scale that multiplies the code back: per-vector when dimScale is nil,
// else per-dimension (the returned scale is then 1).
func quantizeRow(code []int8, v, dimScale []float32) float32 {
	if dimScale != nil {
		for d, x := range v {
			code[d] = toInt8(x, dimScale[d])
		}
		return 1
	}
	var m float32
	for _, x := range v {
		m = max(m, abs32(x))
	}
	if !(m > 0) || math.IsInf(float64(m), 0) {
		clear(code)
		if m != m || math.IsInf(float64(m), 0) {
			return float32(math.NaN()) // a NaN vector scores NaN: never returned
		}
		return 0
	}
	s := m / 127
	for d, x := range v {
		code[d] = toInt8(x, s)
	}
	return s
}

// toInt8 rounds x/s to the nearest int8 in [-127, 127].
func toInt8(x, s float32) int8 {
	if !(s > 0) {
		return 0
	}
	r := math.Round(float64(x / s))
	if r != r {
		return 0
	}
	return int8(max(-127, min(127, r)))
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

// dimScales returns per-dimension scales: the largest |v_d| over the
// vectors, divided by 127 (1 for a dimension that is zero everywhere).
func dimScales(vecs []float32, dim int) []float32 {
	s := make([]float32, dim)
	for i := 0; i < len(vecs); i += dim {
		for d, x := range vecs[i : i+dim] {
			if a := abs32(x); a > s[d] && !math.IsInf(float64(a), 0) {
				s[d] = a
			}
		}
	}
	for d := range s {
		if s[d] > 0 {
			s[d] /= 127
		} else {
			s[d] = 1
		}
	}
	return s
}

// queryCode is a query prepared for the int8 kernel: int16 codes and the
// factor that turns the kernel's integer sums into dot products.
type queryCode struct {
	code  []int16
	scale float32
}

// quantizeQuery codes q (times the per-dimension scales, when given) as
// int16 with the largest magnitude that cannot overflow the kernel's int32
// sums at this dimension.
func quantizeQuery(q, dimScale []float32, pdim int) queryCode {
	qc := queryCode{code: make([]int16, pdim)}
	var m float32
	for d, x := range q {
		if dimScale != nil {
			x *= dimScale[d]
		}
		m = max(m, abs32(x))
	}
	if !(m > 0) || math.IsInf(float64(m), 0) {
		return qc
	}
	// |Σ code·q| ≤ pdim·127·qmax must stay below 2³¹.
	qmax := min(32767, float64(math.MaxInt32)/float64(pdim*127))
	qc.scale = m / float32(qmax)
	for d, x := range q {
		if dimScale != nil {
			x *= dimScale[d]
		}
		qc.code[d] = int16(max(-qmax, min(qmax, math.Round(float64(x/qc.scale)))))
	}
	return qc
}
