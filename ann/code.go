package ann

import "math"

// Code is one vector kept as int8 with a per-vector scale (as the Int8
// index stores them): a quarter of the float32 memory. Packages that keep
// vectors of their own (the semantic search index) store Codes and score
// them with a Query. The zero Code is "no vector" (Len 0).
type Code struct {
	code  []int8 // padDim(dim) bytes, zero padded
	scale float32
	dim   int32
}

// Encode quantises v.
func Encode(v []float32) Code {
	if len(v) == 0 {
		return Code{}
	}
	c := Code{code: make([]int8, padDim(len(v))), dim: int32(len(v))}
	c.scale = quantizeRow(c.code, v, nil)
	return c
}

// Len is the vector's dimension (0: no vector).
func (c Code) Len() int { return int(c.dim) }

// Bytes is the memory the code holds (the int8 array and the scale).
func (c Code) Bytes() int { return len(c.code) + 4 }

// Decode writes the approximate vector into dst (grown to Len()) and
// returns it.
func (c Code) Decode(dst []float32) []float32 {
	dst = append(dst[:0], make([]float32, c.dim)...)
	for d := range dst {
		dst[d] = float32(c.code[d]) * c.scale
	}
	return dst
}

// Dot is the approximate dot product of the vector with q (len Len()),
// for the few vectors of a result page; to score many, prepare a Query.
func (c Code) Dot(q []float32) float32 {
	var s float32
	for d, x := range q[:c.dim] {
		s += float32(c.code[d]) * x
	}
	return s * c.scale
}

// Query is a query vector prepared for scoring Codes with the int8 kernel.
type Query struct {
	qc  queryCode
	dim int
}

// NewQuery prepares q.
func NewQuery(q []float32) Query {
	return Query{qc: quantizeQuery(q, nil, padDim(len(q))), dim: len(q)}
}

// Score is the approximate dot product of the query with c; NaN when c has
// another dimension (or none).
func (q *Query) Score(c Code) float32 {
	if int(c.dim) != q.dim || q.dim == 0 {
		return nan32
	}
	var out [1]int32
	dotsI8(out[:], c.code, q.qc.code, len(c.code))
	return float32(out[0]) * q.qc.scale * c.scale
}

var nan32 = float32(math.NaN())
