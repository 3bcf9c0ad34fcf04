package ann

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/viterin/vek/vek32"
)

// Lists is the partition of an IVF index without the vectors: k-means
// centroids and, per centroid, the ids assigned to it. It is for callers
// that keep their vectors themselves (semantic search keeps one Code per
// document and renumbers documents when it compacts): they ask Probe for
// the ids of the lists nearest to a query, best first, and score those
// ids from their own storage, so the vectors are not held twice.
//
// Ids are the caller's (any int32 ≥ 0, in any order); an id assigned twice
// is in two lists and must be de-duplicated or avoided by the caller.
// Lists is safe for concurrent Probe and Assign.
type Lists struct {
	mu    sync.RWMutex
	dim   int
	cent  []float32
	half  []float32
	lists [][]int32
	n     int
}

// BuildLists clusters the row-major sample (len = m × dim) into nlists
// centroids (0: √(expected), where expected is the number of ids the
// caller means to assign) with k-means, and returns empty lists.
func BuildLists(ctx context.Context, dim int, sample []float32, nlists, expected int, seed uint64) (*Lists, error) {
	if dim <= 0 || len(sample)%dim != 0 || len(sample) == 0 {
		return nil, fmt.Errorf("ann: %d floats do not make a sample of vectors of dimension %d", len(sample), dim)
	}
	m := len(sample) / dim
	if nlists <= 0 {
		nlists = int(math.Sqrt(float64(max(expected, m))))
	}
	nlists = max(1, min(nlists, m))
	rng := rand.New(rand.NewPCG(seed, 0x11575))
	cent, err := kmeans(ctx, sample, dim, nlists, 10, defaultWorkers(0), rng, nil)
	if err != nil {
		return nil, err
	}
	l := &Lists{dim: dim, cent: cent, half: make([]float32, nlists), lists: make([][]int32, nlists)}
	for c := range l.half {
		row := cent[c*dim : (c+1)*dim]
		l.half[c] = vek32.Dot(row, row) / 2
	}
	return l, nil
}

// Assign puts id in the list of the centroid nearest to v.
func (l *Lists) Assign(id int32, v []float32) error {
	if len(v) != l.dim {
		return fmt.Errorf("ann: assign a vector of dimension %d to lists of dimension %d", len(v), l.dim)
	}
	c := nearest(v, l.cent, l.half, l.dim)
	l.mu.Lock()
	l.lists[c] = append(l.lists[c], id)
	l.n++
	l.mu.Unlock()
	return nil
}

// Len is the number of ids assigned.
func (l *Lists) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.n
}

// NumLists is the number of lists.
func (l *Lists) NumLists() int { return len(l.lists) }

// Dim is the vector dimension.
func (l *Lists) Dim() int { return l.dim }

// Probe calls visit with the ids of every non-empty list, the list whose
// centroid is nearest to q (Euclidean, as Assign) first, until
// visit returns false. The slices are read-only and valid during the call.
// It panics when len(q) != Dim().
func (l *Lists) Probe(q []float32, visit func(ids []int32) bool) {
	if len(q) != l.dim {
		panic(fmt.Sprintf("ann: query of dimension %d for lists of dimension %d", len(q), l.dim))
	}
	nl := len(l.lists)
	cs := scoreRows(make([]float32, nl), l.cent, q, l.dim)
	order := newTopK(nl)
	for c := range cs {
		order.Push(int32(c), cs[c]-l.half[c])
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, h := range order.Sorted() {
		if ids := l.lists[h.Index]; len(ids) > 0 && !visit(ids) {
			return
		}
	}
}

// Bytes is the memory the lists hold (ids and centroids).
func (l *Lists) Bytes() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	b := int64(len(l.cent)+len(l.half)) * 4
	for _, ids := range l.lists {
		b += int64(cap(ids)) * 4
	}
	return b
}

// AssignBatch assigns ids[i] by the row-major vectors vecs (row i), with
// one matrix product per block: much faster than Assign one by one.
func (l *Lists) AssignBatch(ids []int32, vecs []float32) error {
	if len(vecs) != len(ids)*l.dim {
		return fmt.Errorf("ann: %d floats for %d vectors of dimension %d", len(vecs), len(ids), l.dim)
	}
	assign := make([]int32, len(ids))
	assignNearest(vecs, l.cent, l.dim, assign)
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, c := range assign {
		l.lists[c] = append(l.lists[c], ids[i])
	}
	l.n += len(ids)
	return nil
}
