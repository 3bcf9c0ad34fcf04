package sasrec

import (
	"math"
	"slices"
)

// Serving in int8 (Config.Int8, parameter int8=1): after Fit or Load the
// item table (items×d, the input embedding and the output layer, which is
// nearly all of the model's memory at catalogue scale) is kept as int8
// with one float32 scale per item, and the float32 table is dropped:
// d+4 bytes per item instead of 4·d (a quarter at d=64). The attention and
// feed-forward weights (a few d² values, independent of the catalogue)
// stay float32. Score then reads the history's rows dequantised and scores
// every item as scale·(h·q). Save writes the dequantised table, so a saved
// int8 model loads as the same int8 model.
type int8Table struct {
	q     []int8    // items×d
	scale []float32 // per item: value = scale·q
	rest  []float32 // the parameters after the item table (m.w without it); nil with attributes
}

// quantizeRows returns symmetric per-row int8 codes of the n×d matrix v:
// row r is scale[r]·q[r·d:(r+1)·d] with scale[r] = max|v[r]|/127.
func quantizeRows(v []float32, d int) ([]int8, []float32) {
	n := len(v) / d
	q := make([]int8, len(v))
	scale := make([]float32, n)
	for r := 0; r < n; r++ {
		row := v[r*d : r*d+d]
		var mx float32
		for _, x := range row {
			mx = max(mx, float32(math.Abs(float64(x))))
		}
		if mx == 0 {
			continue
		}
		s := mx / 127
		scale[r] = s
		for k, x := range row {
			q[r*d+k] = int8(max(-127, min(127, math.Round(float64(x/s)))))
		}
	}
	return q, scale
}

// serveInt8 switches a fitted or loaded model to int8 serving when the
// configuration asks for it.
func (m *Model) serveInt8() {
	if !m.cfg.Int8 || m.items == nil {
		return
	}
	d := m.dm.d
	q, scale := quantizeRows(m.items, d)
	t := &int8Table{q: q, scale: scale}
	if m.dm.attrs == 0 {
		// m.items is the front of m.w: keep only what follows it
		t.rest = slices.Clone(m.w[m.dm.items*d:])
		m.w = nil
		rest := m.dm
		rest.items = 0
		m.p = rest.layout(t.rest)
	}
	m.q8 = t
	m.items = nil
	m.pn = m.p
	m.pn.emb = nil
}

// dequantRows writes the rows of items into dst (len(items)·d).
func (t *int8Table) dequantRows(dst []float32, items []int32, d int) {
	for j, it := range items {
		s, row := t.scale[it], t.q[int(it)*d:int(it)*d+d]
		out := dst[j*d : j*d+d]
		for k, c := range row {
			out[k] = s * float32(c)
		}
	}
}

// all returns the whole dequantised item table.
func (t *int8Table) all(d int) []float32 {
	out := make([]float32, len(t.q))
	for r, s := range t.scale {
		row := t.q[r*d : r*d+d]
		for k, c := range row {
			out[r*d+k] = s * float32(c)
		}
	}
	return out
}

// flatWeights returns the flat parameters to save: m.w, or for an int8
// model without attributes the dequantised table followed by the rest.
func (m *Model) flatWeights() []float32 {
	if m.w != nil || m.q8 == nil {
		return m.w
	}
	return append(m.q8.all(m.dm.d), m.q8.rest...)
}

// representInt8 is represent for an int8 model: the history's rows are
// dequantised into the workspace and the network reads them as a small
// table of its own.
func (m *Model) representInt8(ws *workspace, history []int32) []float32 {
	L, d := m.dm.maxLen, m.dm.d
	buf := ws.buf[:0]
	for i := len(history) - 1; i >= 0 && len(buf) < L; i-- {
		if it := history[i]; it >= 0 && int(it) < m.dm.items {
			buf = append(buf, it)
		}
	}
	ws.buf = buf
	n := len(buf)
	if n == 0 {
		return nil
	}
	slices.Reverse(buf)
	if cap(ws.qemb) < n*d {
		ws.qemb = make([]float32, L*d)
		ws.qpos = make([]int32, L)
	}
	emb, pos := ws.qemb[:n*d], ws.qpos[:n]
	m.q8.dequantRows(emb, buf, d)
	for j := range pos {
		pos[j] = int32(j)
	}
	p := m.pn
	p.emb = emb
	out := forward(p, ws, pos, 0, 0, nil)
	return out[(n-1)*d : n*d]
}

// scoreInt8 writes scale·(h·q) for every item.
func (t *int8Table) score(h []float32, scores []float32, d int) {
	for j := range scores {
		row := t.q[j*d : j*d+d]
		var s0, s1, s2, s3 float32
		k := 0
		for ; k+4 <= d; k += 4 {
			s0 += h[k] * float32(row[k])
			s1 += h[k+1] * float32(row[k+1])
			s2 += h[k+2] * float32(row[k+2])
			s3 += h[k+3] * float32(row[k+3])
		}
		for ; k < d; k++ {
			s0 += h[k] * float32(row[k])
		}
		scores[j] = t.scale[j] * (s0 + s1 + s2 + s3)
	}
}

// Bytes is the memory of the fitted parameters and popularity (the user
// tails and attribute relation aside).
func (m *Model) Bytes() int64 {
	b := 4 * int64(len(m.w)+len(m.pop))
	if m.items != nil && m.dm.attrs > 0 {
		b += 4 * int64(len(m.items))
	}
	if m.q8 != nil {
		b += int64(len(m.q8.q)) + 4*int64(len(m.q8.scale)+len(m.q8.rest))
	}
	return b
}
