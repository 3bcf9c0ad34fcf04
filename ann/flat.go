package ann

import (
	"fmt"
	"sync"

	"github.com/viterin/vek/vek32"
)

// Flat is an exact index: every search scores every item. With AVX2 dot
// products it is bound by memory bandwidth (the vectors are read once per
// query), which is the fastest exact method for one query at a time.
type Flat struct {
	mu   sync.RWMutex
	dim  int
	vecs []float32
}

// NewFlat returns an exact index over the row-major vectors vecs
// (len(vecs) = n × dim). It keeps vecs without copying: do not modify it
// afterwards. Add never writes into vecs' backing array.
func NewFlat(dim int, vecs []float32) (*Flat, error) {
	if dim <= 0 || len(vecs)%dim != 0 {
		return nil, fmt.Errorf("ann: %d floats do not make vectors of dimension %d", len(vecs), dim)
	}
	return &Flat{dim: dim, vecs: vecs[:len(vecs):len(vecs)]}, nil
}

// Len is the number of items.
func (f *Flat) Len() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.vecs) / f.dim
}

// Dim is the vector dimension.
func (f *Flat) Dim() int { return f.dim }

// Add appends one vector as item Len() and returns its index.
func (f *Flat) Add(vec []float32) (int32, error) {
	if len(vec) != f.dim {
		return 0, fmt.Errorf("ann: add vector of dimension %d to an index of dimension %d", len(vec), f.dim)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.vecs = append(f.vecs, vec...)
	return int32(len(f.vecs)/f.dim - 1), nil
}

// Search returns the k items with the highest dot product with q that pass
// filter, best first. It panics when len(q) != Dim().
func (f *Flat) Search(q []float32, k int, filter func(int32) bool) []Hit {
	if len(q) != f.dim {
		panic(fmt.Sprintf("ann: query of dimension %d for an index of dimension %d", len(q), f.dim))
	}
	if k <= 0 {
		return nil
	}
	f.mu.RLock()
	vecs := f.vecs
	f.mu.RUnlock()
	t := newTopK(k)
	scanRange(t, q, vecs, f.dim, 0, filter)
	return t.Sorted()
}

// block is how many rows are scored per matrix-vector product: 1024 × 64
// floats (256 KiB) stay in L2 cache while the heap pass reads the scores.
const block = 1024

// scoreRows writes the dot product of q with every row of rows into dst
// (len(dst) ≥ rows), using one AVX2 matrix-vector product instead of a call
// per row.
func scoreRows(dst, rows, q []float32, dim int) []float32 {
	return vek32.MatMul_Into(dst, rows, q, dim)
}

// scanRange scores the rows of vecs (item indices first, first+1, …) and
// keeps the best in t.
func scanRange(t *topK, q, vecs []float32, dim int, first int32, filter func(int32) bool) {
	n := len(vecs) / dim
	scores := make([]float32, min(n, block))
	thr := negInf // score of the worst kept hit once t is full
	for lo := 0; lo < n; lo += block {
		hi := min(n, lo+block)
		for j, s := range scoreRows(scores, vecs[lo*dim:hi*dim], q, dim) {
			// Rows come in index order, so an equal score never beats a kept hit.
			if !(s > thr) && (t.Full() || s != s) {
				continue
			}
			idx := first + int32(lo+j)
			if filter != nil && !filter(idx) {
				continue
			}
			t.Push(idx, s)
			if t.Full() {
				m, _ := t.Min()
				thr = m.Score
			}
		}
	}
}
