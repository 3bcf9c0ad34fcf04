package related

import (
	"cmp"
	"math"
	"slices"
)

// vecTable holds unit-length item vectors by content position (nil for
// items without one). A nil *vecTable has no vectors.
type vecTable struct {
	dim  int
	vecs [][]float32
}

func newVecTable(c *content, v Vectors) *vecTable {
	if len(v) == 0 {
		return nil
	}
	t := &vecTable{vecs: make([][]float32, len(c.ids))}
	for i, id := range c.ids {
		x, ok := v[id]
		if !ok || len(x) == 0 || (t.dim != 0 && len(x) != t.dim) {
			continue
		}
		var n float64
		for _, f := range x {
			n += float64(f) * float64(f)
		}
		if n == 0 {
			continue
		}
		t.dim = len(x)
		u := make([]float32, len(x))
		s := float32(1 / math.Sqrt(n))
		for k, f := range x {
			u[k] = f * s
		}
		t.vecs[i] = u
	}
	return t
}

// cos is the cosine of two items' vectors, negative values as 0.
func (t *vecTable) cos(a, j int32) float64 {
	if t == nil || int(a) >= len(t.vecs) || int(j) >= len(t.vecs) {
		return 0
	}
	x, y := t.vecs[a], t.vecs[j]
	if x == nil || y == nil {
		return 0
	}
	var d float32
	for k := range x {
		d += x[k] * y[k]
	}
	return max(0, float64(d))
}

// nearest returns up to n items with the highest cosine to a (an exact
// scan: fine up to some hundred thousand items).
func (t *vecTable) nearest(a int32, n int) []int32 {
	if t == nil || int(a) >= len(t.vecs) || t.vecs[a] == nil {
		return nil
	}
	type kv struct {
		j int32
		s float64
	}
	var all []kv
	for j := range t.vecs {
		if int32(j) != a && t.vecs[j] != nil {
			all = append(all, kv{int32(j), t.cos(a, int32(j))})
		}
	}
	slices.SortFunc(all, func(x, y kv) int {
		if c := cmp.Compare(y.s, x.s); c != 0 {
			return c
		}
		return cmp.Compare(x.j, y.j)
	})
	out := make([]int32, 0, min(n, len(all)))
	for _, e := range all[:min(n, len(all))] {
		out = append(out, e.j)
	}
	return out
}

// remap moves the vectors onto a new catalogue (matched by id).
func (t *vecTable) remap(from, to *content) *vecTable {
	if t == nil {
		return nil
	}
	nt := &vecTable{dim: t.dim, vecs: make([][]float32, len(to.ids))}
	for i, id := range from.ids {
		if j, ok := to.pos[id]; ok {
			nt.vecs[j] = t.vecs[i]
		}
	}
	return nt
}
