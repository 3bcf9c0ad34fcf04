package ann

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/aisle-dev/aisle/internal/topk"
	"github.com/viterin/vek/vek32"
)

// IVFOptions configure BuildIVF. Zero values choose the defaults.
type IVFOptions struct {
	// Lists is the number of k-means clusters (inverted lists); default
	// √n, at least 1.
	Lists int
	// NProbe is how many lists a search scans by default; default
	// DefaultNProbe (at most Lists).
	NProbe int
	// Iterations of k-means; default 10.
	Iterations int
	// Sample is how many vectors k-means trains on; default 64 per list
	// (all when fewer).
	Sample int
	// Seed makes the build reproducible; the same seed and data give the
	// same index.
	Seed uint64
	// Workers is the number of goroutines for the build; default GOMAXPROCS.
	Workers int
	// Head is the fraction of items, those with the largest vectors, kept
	// in a head list that every search scans; default DefaultHead, a
	// negative value means none. Learned embeddings give popular items long
	// vectors, and those win most dot products whatever list they are in.
	Head float64
}

// DefaultHead is the default fraction of items in the always-scanned head
// list. On iALS embeddings of Amazon Beauty it raised recall@10 from 0.61 to
// 0.91 at nprobe 4 and from 0.78 to 0.98 at nprobe 16 (docs/benchmarks.md).
const DefaultHead = 0.01

// DefaultNProbe is the default number of lists an IVF search scans. With √n
// lists it gave recall@10 0.994 on overlapping clusters of 1M × 64 and 0.98
// on iALS embeddings of Amazon Beauty (docs/benchmarks.md).
const DefaultNProbe = 24

// IVF is an inverted-file index (IVF-flat): k-means splits the items into
// lists around centroids; a search scans the head list (the items with the
// longest vectors) and the NProbe lists whose centroids are nearest to the
// query rescaled to the longest vector, exactly. Each list stores its
// vectors contiguously, so a scan streams memory.
//
// It is approximate: an item in an unprobed list is missed. When a filter
// leaves fewer than k items in the probed lists, the search goes on with the
// next lists until it has k or has scanned everything.
type IVF struct {
	mu      sync.RWMutex
	dim     int
	nprobe  int // fixed at build
	n       int
	cent    []float32 // lists × dim
	half    []float32 // ‖c‖²/2 per list
	scale   float32   // longest vector: queries are rescaled to it
	head    ivfList   // the items with the longest vectors, always scanned
	headMin float32   // shortest vector in head; Add puts longer ones there
	lists   []ivfList
}

type ivfList struct {
	ids  []int32
	vecs []float32
}

// BuildIVF clusters the row-major vectors vecs (len = n × dim) and builds an
// IVF index holding a copy of them. It returns ctx.Err() when ctx ends.
func BuildIVF(ctx context.Context, dim int, vecs []float32, opt IVFOptions, progress Progress) (*IVF, error) {
	if dim <= 0 || len(vecs)%dim != 0 {
		return nil, fmt.Errorf("ann: %d floats do not make vectors of dimension %d", len(vecs), dim)
	}
	n := len(vecs) / dim
	if n >= math.MaxInt32 {
		return nil, fmt.Errorf("ann: %d items exceed the int32 item index", n)
	}
	nl := opt.Lists
	if nl <= 0 {
		nl = int(math.Sqrt(float64(n)))
	}
	nl = max(1, min(nl, n))
	iters := opt.Iterations
	if iters <= 0 {
		iters = 10
	}
	sample := opt.Sample
	if sample <= 0 {
		sample = 64 * nl
	}
	sample = max(min(sample, n), min(n, nl))
	workers := defaultWorkers(opt.Workers)
	rng := rand.New(rand.NewPCG(opt.Seed, 0x1f0e_a15e))

	x := &IVF{dim: dim, nprobe: opt.NProbe}
	if x.nprobe <= 0 {
		x.nprobe = DefaultNProbe
	}
	if n == 0 {
		x.cent = nil
		return x, nil
	}
	// The head: the longest vectors (ties by lower index, for a reproducible
	// build). They are left out of the lists.
	headFrac := opt.Head
	if headFrac == 0 {
		headFrac = DefaultHead
	}
	inHead := make([]bool, n)
	if nh := int(max(0, min(1, headFrac)) * float64(n)); nh > 0 {
		norms := make([]float32, n)
		order := make([]int32, n)
		for i := range norms {
			row := vecs[i*dim : (i+1)*dim]
			norms[i], order[i] = vek32.Dot(row, row), int32(i)
		}
		slices.SortFunc(order, func(a, b int32) int {
			if norms[a] != norms[b] {
				if norms[a] > norms[b] {
					return -1
				}
				return 1
			}
			return int(a - b)
		})
		order = order[:nh]
		slices.Sort(order)
		x.headMin = float32(math.Inf(1))
		for _, i := range order {
			inHead[i] = true
			x.head.ids = append(x.head.ids, i)
			x.head.vecs = append(x.head.vecs, vecs[int(i)*dim:int(i+1)*dim]...)
			x.headMin = min(x.headMin, float32(math.Sqrt(float64(norms[i]))))
		}
		nl = max(1, min(nl, n-nh))
	}
	// Training sample: a random subset (Floyd's algorithm keeps it O(sample)).
	pts := vecs
	if sample < n {
		if progress != nil {
			progress("sample", 0, sample)
		}
		// k-means trains on a sample of all items, the head included (its
		// long vectors pull their lists' centroids outwards, towards queries).
		chosen := make(map[int]struct{}, sample)
		for j := n - sample; j < n; j++ {
			t := rng.IntN(j + 1)
			if _, ok := chosen[t]; ok {
				t = j
			}
			chosen[t] = struct{}{}
		}
		idx := make([]int, 0, sample)
		for i := range chosen {
			idx = append(idx, i)
		}
		slices.Sort(idx) // map order is random: sort for a reproducible build
		pts = make([]float32, 0, sample*dim)
		for _, i := range idx {
			pts = append(pts, vecs[i*dim:(i+1)*dim]...)
		}
	}
	cent, err := kmeans(ctx, pts, dim, nl, iters, workers, rng, progress)
	if err != nil {
		return nil, err
	}
	x.setCentroids(cent)

	if progress != nil {
		progress("assign", 0, n)
	}
	assign := make([]int32, n)
	const block = 1 << 16
	for lo := 0; lo < n; lo += block {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(n, lo+block)
		assignNearest(vecs[lo*dim:hi*dim], cent, dim, assign[lo:hi])
		if progress != nil {
			progress("assign", hi, n)
		}
	}
	counts := make([]int, nl)
	for i, a := range assign {
		if !inHead[i] {
			counts[a]++
		}
	}
	x.lists = make([]ivfList, nl)
	for c := range x.lists {
		x.lists[c] = ivfList{ids: make([]int32, 0, counts[c]), vecs: make([]float32, 0, counts[c]*dim)}
	}
	for i, a := range assign {
		if inHead[i] {
			continue
		}
		l := &x.lists[a]
		l.ids = append(l.ids, int32(i))
		l.vecs = append(l.vecs, vecs[i*dim:(i+1)*dim]...)
	}
	x.n = n
	x.setScale()
	return x, nil
}

// setScale finds the longest vector (and the shortest in the head).
func (x *IVF) setScale() {
	var m float32
	for _, l := range append([]ivfList{x.head}, x.lists...) {
		for j := range l.ids {
			m = max(m, vek32.Norm(l.vecs[j*x.dim:(j+1)*x.dim]))
		}
	}
	x.scale = m
	if len(x.head.ids) > 0 {
		x.headMin = float32(math.Inf(1))
		for j := range x.head.ids {
			x.headMin = min(x.headMin, vek32.Norm(x.head.vecs[j*x.dim:(j+1)*x.dim]))
		}
	}
}

func (x *IVF) setCentroids(cent []float32) {
	x.cent = cent
	k := len(cent) / x.dim
	x.half = make([]float32, k)
	for c := 0; c < k; c++ {
		row := cent[c*x.dim : (c+1)*x.dim]
		x.half[c] = vek32.Dot(row, row) / 2
	}
}

// Len is the number of items.
func (x *IVF) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.n
}

// Dim is the vector dimension.
func (x *IVF) Dim() int { return x.dim }

// Lists is the number of inverted lists.
func (x *IVF) Lists() int { return len(x.lists) }

// NProbe is the number of lists Search scans (IVFOptions.NProbe).
func (x *IVF) NProbe() int { return x.nprobe }

// Add appends one vector as item Len(), into the list of its nearest
// centroid, and returns its index. The centroids stay as built: after many
// additions that shift the distribution, rebuild the index.
func (x *IVF) Add(vec []float32) (int32, error) {
	if len(vec) != x.dim {
		return 0, fmt.Errorf("ann: add vector of dimension %d to an index of dimension %d", len(vec), x.dim)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.n >= math.MaxInt32 {
		return 0, fmt.Errorf("ann: index full (%d items)", x.n)
	}
	if len(x.lists) == 0 { // built from no items: the first vector is the centroid
		x.setCentroids(slices.Clone(vec))
		x.lists = make([]ivfList, 1)
	}
	id := int32(x.n)
	norm := vek32.Norm(vec)
	var l *ivfList
	if len(x.head.ids) > 0 && norm >= x.headMin {
		l = &x.head
	} else {
		l = &x.lists[nearest(vec, x.cent, x.half, x.dim)]
	}
	x.scale = max(x.scale, norm)
	l.ids = append(l.ids, id)
	l.vecs = append(l.vecs, vec...)
	x.n++
	return id, nil
}

// Search returns about the k items with the highest dot product with q that
// pass filter, best first, scanning NProbe lists. It panics when
// len(q) != Dim().
func (x *IVF) Search(q []float32, k int, filter func(int32) bool) []Hit {
	return x.SearchProbe(q, k, 0, filter)
}

// SearchProbe is Search scanning nprobe lists (0: the index's NProbe).
func (x *IVF) SearchProbe(q []float32, k, nprobe int, filter func(int32) bool) []Hit {
	if len(q) != x.dim {
		panic(fmt.Sprintf("ann: query of dimension %d for an index of dimension %d", len(q), x.dim))
	}
	if k <= 0 {
		return nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if nprobe <= 0 {
		nprobe = x.nprobe
	}
	nl := len(x.lists)
	nprobe = min(nprobe, nl)
	if nl == 0 {
		t := newTopK(k)
		x.scanList(t, q, &x.head, filter, make([]float32, block))
		return t.Sorted()
	}
	// Rank the lists by the Euclidean distance of their centroid c to the
	// query rescaled to the longest vector M: the largest
	// (M/‖q‖)·q·c − ‖c‖²/2. The top k does not depend on the query's length,
	// and neither does this ranking.
	cs := scoreRows(make([]float32, nl), x.cent, q, x.dim)
	var s float32
	if qn := vek32.Norm(q); qn > 0 {
		s = x.scale / qn
	}
	for c := range cs {
		cs[c] = s*cs[c] - x.half[c]
	}
	scores := make([]float32, block)
	best := newTopK(nprobe)
	for c, s := range cs {
		if len(x.lists[c].ids) > 0 {
			best.Push(int32(c), s)
		}
	}
	t := newTopK(k)
	x.scanList(t, q, &x.head, filter, scores)
	probed := best.Sorted()
	for _, h := range probed {
		x.scanList(t, q, &x.lists[h.Index], filter, scores)
	}
	if t.Full() || len(probed) == nl {
		return t.Sorted()
	}
	// A filter left too few: scan the remaining lists, best first.
	done := make(map[int32]bool, len(probed))
	for _, h := range probed {
		done[h.Index] = true
	}
	rest := make([]Hit, 0, nl-len(probed))
	for c := 0; c < nl; c++ {
		if !done[int32(c)] && len(x.lists[c].ids) > 0 {
			rest = append(rest, Hit{Index: int32(c), Score: cs[c]})
		}
	}
	slices.SortFunc(rest, topk.Compare[int32, float32])
	for _, h := range rest {
		x.scanList(t, q, &x.lists[h.Index], filter, scores)
		if t.Full() {
			break
		}
	}
	return t.Sorted()
}

func (x *IVF) scanList(t *topK, q []float32, l *ivfList, filter func(int32) bool, scores []float32) {
	d := x.dim
	n := len(l.ids)
	for lo := 0; lo < n; lo += block {
		hi := min(n, lo+block)
		for j, s := range scoreRows(scores, l.vecs[lo*d:hi*d], q, d) {
			id := l.ids[lo+j]
			if !t.Beats(id, s) {
				continue
			}
			if filter != nil && !filter(id) {
				continue
			}
			t.Push(id, s)
		}
	}
}

// HeadLen is the number of items in the head list, scanned by every search.
func (x *IVF) HeadLen() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.head.ids)
}

// Sizes returns the number of items of every list (not counting the head),
// e.g. to check balance.
func (x *IVF) Sizes() []int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	s := make([]int, len(x.lists))
	for i, l := range x.lists {
		s[i] = len(l.ids)
	}
	return s
}
