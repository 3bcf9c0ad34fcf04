package sasrec

import (
	"slices"

	"github.com/aisle-dev/aisle/ann"
)

// Serving in int8 (Config.Int8, parameter int8=1): after Fit or Load the
// item table (items×d, the input embedding and the output layer, which is
// nearly all of the model's memory at catalogue scale) is kept as an
// ann.Table — int8 codes with one float32 scale per item, the storage and
// AVX2 kernel of the nearest-neighbour index — and the float32 table is
// dropped: d+4 bytes per item instead of 4·d (a quarter at d=64). The
// attention and feed-forward weights (a few d² values, independent of the
// catalogue) stay float32. Save writes the dequantised table, so a saved
// int8 model loads as the same int8 model.
//
// Both storages serve through one path (itemTable): the history's rows are
// read from the table into the workspace, the network runs on them, and
// the table scores every item against the representation.

// itemTable is the item table the network reads the history's rows from
// and the output layer scores against.
type itemTable interface {
	// Rows writes the vectors of rows into dst (len(rows)·d).
	Rows(dst []float32, rows []int32)
	// Scores writes the dot product of q with every item into dst.
	Scores(dst, q []float32) []float32
}

// floatTable is the float32 item table (m.items).
type floatTable struct {
	v []float32
	d int
}

func (t floatTable) Rows(dst []float32, rows []int32) {
	for j, r := range rows {
		copy(dst[j*t.d:(j+1)*t.d], t.v[int(r)*t.d:int(r+1)*t.d])
	}
}

func (t floatTable) Scores(dst, q []float32) []float32 {
	dst = dst[:len(t.v)/t.d]
	for j := range dst {
		dst[j] = dot(q, t.v[j*t.d:j*t.d+t.d])
	}
	return dst
}

// table is the item table serving reads: int8 when the model serves in
// int8, else float32.
func (m *Model) table() itemTable {
	if m.q8 != nil {
		return m.q8
	}
	return floatTable{v: m.items, d: m.dm.d}
}

// serveInt8 switches a fitted or loaded model to int8 serving when the
// configuration asks for it.
func (m *Model) serveInt8() {
	if !m.cfg.Int8 || m.items == nil {
		return
	}
	d := m.dm.d
	t, err := ann.NewTable(d, m.items)
	if err != nil { // the table's shape is the model's own: cannot happen
		panic(err)
	}
	if m.dm.attrs == 0 {
		// m.items is the front of m.w: keep only what follows it
		m.rest = slices.Clone(m.w[m.dm.items*d:])
		m.w = nil
		rest := m.dm
		rest.items = 0
		m.p = rest.layout(m.rest)
	}
	m.q8 = t
	m.items = nil
	m.pn = m.p
	m.pn.emb = nil
}

// flatWeights returns the flat parameters to save: m.w, or for an int8
// model without attributes the dequantised table followed by the rest.
func (m *Model) flatWeights() []float32 {
	if m.w != nil || m.q8 == nil {
		return m.w
	}
	return append(m.q8.Decode(), m.rest...)
}

// Bytes is the memory of the fitted parameters and popularity (the user
// tails and attribute relation aside).
func (m *Model) Bytes() int64 {
	b := 4 * int64(len(m.w)+len(m.pop)+len(m.rest))
	if m.items != nil && m.dm.attrs > 0 {
		b += 4 * int64(len(m.items))
	}
	if m.q8 != nil {
		b += m.q8.Bytes()
	}
	return b
}
