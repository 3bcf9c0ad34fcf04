package ann

import (
	"encoding/binary"
	"fmt"
	"math"
)

// A Code is written to a file (the search index's saved keyword index)
// as its dimension, its scale and its padded int8 values, so that a
// restart takes it back bit for bit instead of reading the float32 vector
// and quantising it again.

// CodeBytes is the number of int8 values a Code of dim dimensions holds
// (dim padded for the kernel).
func CodeBytes(dim int) int { return padDim(dim) }

// AppendBinary appends the code's scale (float32 bits, little endian) and
// its CodeBytes(Len()) int8 values; the dimension is the caller's to
// write. A zero Code appends nothing.
func (c Code) AppendBinary(b []byte) []byte {
	if c.dim == 0 {
		return b
	}
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(c.scale))
	return append(b, bytesOf(c.code)...)
}

// CodeFrom makes the Code of dim dimensions from what AppendBinary wrote:
// scale and values (len CodeBytes(dim)), which the Code keeps (no copy).
// It refuses a length that does not match, a padding that is not zero
// and a scale that is not a finite number ≥ 0, so a damaged file cannot
// make a Code the kernel misreads.
func CodeFrom(dim int, scale float32, values []int8) (Code, error) {
	if dim <= 0 || dim > math.MaxInt32 || len(values) != padDim(dim) {
		return Code{}, fmt.Errorf("int8 code: %d values for %d dimensions (want %d)", len(values), dim, padDim(max(dim, 0)))
	}
	if math.IsNaN(float64(scale)) || math.IsInf(float64(scale), 0) || scale < 0 {
		return Code{}, fmt.Errorf("int8 code: scale %v", scale)
	}
	for _, v := range values[dim:] {
		if v != 0 {
			return Code{}, fmt.Errorf("int8 code: padding not zero")
		}
	}
	return Code{code: values, scale: scale, dim: int32(dim)}, nil
}
