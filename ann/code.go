package ann

import (
	"fmt"
	"math"
)

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

// Table is n vectors of one dimension kept as int8 codes with a per-vector
// scale (the Int8 storage, without lists), scored against a query all at
// once by the int8 kernel. A model whose output layer is a dot product with
// every item (the sequence model's item table) keeps its items in a Table
// to serve a quarter of the float32 memory.
type Table struct {
	dim, pdim int
	codes     []int8    // n × pdim, zero padded
	scales    []float32 // per vector
}

// NewTable quantises the row-major vectors vecs (len = n × dim).
func NewTable(dim int, vecs []float32) (*Table, error) {
	if dim <= 0 || len(vecs)%dim != 0 {
		return nil, fmt.Errorf("ann: %d floats do not make vectors of dimension %d", len(vecs), dim)
	}
	n := len(vecs) / dim
	t := &Table{dim: dim, pdim: padDim(dim), scales: make([]float32, n)}
	t.codes = make([]int8, n*t.pdim)
	for r := range n {
		t.scales[r] = quantizeRow(t.codes[r*t.pdim:r*t.pdim+dim], vecs[r*dim:(r+1)*dim], nil)
	}
	return t, nil
}

// Len is the number of vectors.
func (t *Table) Len() int { return len(t.scales) }

// Dim is the vectors' dimension.
func (t *Table) Dim() int { return t.dim }

// Bytes is the memory of the codes and scales.
func (t *Table) Bytes() int64 { return int64(len(t.codes)) + 4*int64(len(t.scales)) }

// Rows writes the approximate vectors of rows into dst (len(rows) × Dim()).
func (t *Table) Rows(dst []float32, rows []int32) {
	for j, r := range rows {
		s, code := t.scales[r], t.codes[int(r)*t.pdim:int(r)*t.pdim+t.dim]
		out := dst[j*t.dim : (j+1)*t.dim]
		for d, c := range code {
			out[d] = s * float32(c)
		}
	}
}

// Decode returns every approximate vector, row-major.
func (t *Table) Decode() []float32 {
	out := make([]float32, t.Len()*t.dim)
	for r := range t.scales {
		t.Rows(out[r*t.dim:(r+1)*t.dim], []int32{int32(r)})
	}
	return out
}

// Scores writes the approximate dot product of q (len Dim()) with every
// vector into dst (len ≥ Len()) and returns dst[:Len()].
func (t *Table) Scores(dst, q []float32) []float32 {
	if len(q) != t.dim {
		panic(fmt.Sprintf("ann: query of dimension %d for a table of dimension %d", len(q), t.dim))
	}
	dst = dst[:t.Len()]
	qc := quantizeQuery(q, nil, t.pdim)
	var sums [block]int32
	for lo := 0; lo < len(dst); lo += block {
		hi := min(len(dst), lo+block)
		s := sums[:hi-lo]
		dotsI8(s, t.codes[lo*t.pdim:hi*t.pdim], qc.code, t.pdim)
		for j, v := range s {
			dst[lo+j] = float32(v) * qc.scale * t.scales[lo+j]
		}
	}
	return dst
}

// Score is the approximate dot product of q with vector r, for re-ranking
// a short list.
func (t *Table) Score(q []float32, r int32) float32 {
	code := t.codes[int(r)*t.pdim : int(r)*t.pdim+t.dim]
	var s float32
	for d, c := range code {
		s += float32(c) * q[d]
	}
	return s * t.scales[r]
}
