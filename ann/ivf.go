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
	// Quant is how the lists store vectors; default Float32.
	Quant Quant
	// Rerank is the length of the short list that a quantised index
	// re-scores exactly when it has a rescorer (SetRescore): a search keeps
	// the best max(2k, Rerank) by the int8 scores, then returns the best k
	// of them by exact score. Default DefaultRerank, DefaultPQRerank for PQ.
	Rerank int
	// PQSub is the number of sub-quantisers (bytes an item) of a PQ
	// index; default DefaultPQSub(dim).
	PQSub int
}

// DefaultRerank is the default short-list length of a quantised search
// with exact re-ranking.
const DefaultRerank = 64

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

	quant    Quant
	pdim     int       // stored code length (dim rounded up to 16) for int8
	dimScale []float32 // Int8Dim: per-dimension scales
	pq       *pqBook   // PQ: the product quantiser (pdim = its sub-vectors)
	rerank   int
	rescore  func(q []float32, id int32) float32
}

// ivfList is one inverted list: item ids and their vectors, as float32
// (vecs) or as int8 codes (codes, pdim a row) with per-vector scales
// (scales, Int8 only).
type ivfList struct {
	ids    []int32
	vecs   []float32
	codes  []int8
	scales []float32
}

// push appends item id with vector v, stored as x keeps vectors.
func (x *IVF) push(l *ivfList, id int32, v []float32) {
	l.ids = append(l.ids, id)
	if x.quant == Float32 {
		l.vecs = append(l.vecs, v...)
		return
	}
	n := len(l.codes)
	l.codes = append(l.codes, make([]int8, x.pdim)...)
	if x.quant == PQ {
		x.pq.encode(l.codes[n:], v)
		return
	}
	s := quantizeRow(l.codes[n:n+x.dim], v, x.dimScale)
	if x.quant == Int8 {
		l.scales = append(l.scales, s)
	}
}

// grow reserves room for n more items in l.
func (x *IVF) grow(l *ivfList, n int) {
	l.ids = slices.Grow(l.ids, n)
	if x.quant == Float32 {
		l.vecs = slices.Grow(l.vecs, n*x.dim)
		return
	}
	l.codes = slices.Grow(l.codes, n*x.pdim)
	if x.quant == Int8 {
		l.scales = slices.Grow(l.scales, n)
	}
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

	x := &IVF{dim: dim, nprobe: opt.NProbe, quant: opt.Quant, rerank: opt.Rerank}
	switch opt.Quant {
	case Float32, Int8, PQ:
	case Int8Dim:
		x.dimScale = dimScales(vecs, dim)
	default:
		return nil, fmt.Errorf("ann: unknown quantisation %d", opt.Quant)
	}
	pqSub := opt.PQSub
	if pqSub <= 0 {
		pqSub = DefaultPQSub(dim)
	}
	switch x.quant {
	case Float32:
	case PQ:
		if pqSub > dim {
			return nil, fmt.Errorf("ann: %d product-quantiser sub-vectors for dimension %d", pqSub, dim)
		}
		x.pdim = pqSub
	default:
		x.pdim = padDim(dim)
	}
	if x.nprobe <= 0 {
		x.nprobe = DefaultNProbe
	}
	if x.rerank <= 0 {
		x.rerank = DefaultRerank
		if x.quant == PQ {
			x.rerank = DefaultPQRerank
		}
	}
	if n == 0 {
		if x.quant == PQ {
			return nil, fmt.Errorf("ann: a PQ index needs vectors to train its quantiser on")
		}
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
	var headIDs []int32 // pushed once the vectors can be coded (PQ trains first)
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
			x.headMin = min(x.headMin, float32(math.Sqrt(float64(norms[i]))))
		}
		headIDs = order
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
	if x.quant == PQ {
		if progress != nil {
			progress("pq", 0, pqSub)
		}
		if x.pq, err = trainPQ(ctx, pts, dim, pqSub, iters, workers, rng); err != nil {
			return nil, err
		}
	}
	x.grow(&x.head, len(headIDs))
	for _, i := range headIDs {
		x.push(&x.head, i, vecs[int(i)*dim:int(i+1)*dim])
	}

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
		x.grow(&x.lists[c], counts[c])
	}
	for i, a := range assign {
		if inHead[i] {
			continue
		}
		x.push(&x.lists[a], int32(i), vecs[i*dim:(i+1)*dim])
	}
	x.n = n
	// the longest vector: queries are rescaled to it
	for i := 0; i < n; i++ {
		x.scale = max(x.scale, vek32.Norm(vecs[i*dim:(i+1)*dim]))
	}
	return x, nil
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
	x.push(l, id, vec)
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
	s := x.newScan(q, k)
	nl := len(x.lists)
	nprobe = min(nprobe, nl)
	if nl == 0 {
		s.list(&x.head, filter)
		return s.result()
	}
	// Rank the lists by the Euclidean distance of their centroid c to the
	// query rescaled to the longest vector M: the largest
	// (M/‖q‖)·q·c − ‖c‖²/2. The top k does not depend on the query's length,
	// and neither does this ranking.
	cs := scoreRows(make([]float32, nl), x.cent, q, x.dim)
	var f float32
	if qn := vek32.Norm(q); qn > 0 {
		f = x.scale / qn
	}
	for c := range cs {
		cs[c] = f*cs[c] - x.half[c]
	}
	best := newTopK(nprobe)
	for c, s := range cs {
		if len(x.lists[c].ids) > 0 {
			best.Push(int32(c), s)
		}
	}
	s.list(&x.head, filter)
	probed := best.Sorted()
	for _, h := range probed {
		s.list(&x.lists[h.Index], filter)
	}
	if s.t.Full() || len(probed) == nl {
		return s.result()
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
		s.list(&x.lists[h.Index], filter)
		if s.t.Full() {
			break
		}
	}
	return s.result()
}

// scan is the state of one search: the query (and its int8 code), the
// kept hits, and scratch space for a block of scores.
type scan struct {
	x      *IVF
	q      []float32
	k      int
	qc     queryCode
	lut    []float32 // PQ: the query's lookup table
	t      *topK
	scores []float32
	sums   []int32
}

func (x *IVF) newScan(q []float32, k int) *scan {
	s := &scan{x: x, q: q, k: k, scores: make([]float32, block)}
	if x.quant == Float32 {
		s.t = newTopK(k)
		return s
	}
	if x.quant == PQ {
		s.lut = x.pq.table(q)
	} else {
		s.qc = quantizeQuery(q, x.dimScale, x.pdim)
		s.sums = make([]int32, block)
	}
	if x.rescore != nil {
		s.t = newTopK(max(2*k, x.rerank)) // the short list, re-scored by result
	} else {
		s.t = newTopK(k)
	}
	return s
}

// list scores every item of l and keeps those that beat the kept ones and
// pass filter.
func (s *scan) list(l *ivfList, filter func(int32) bool) {
	x := s.x
	n := len(l.ids)
	for lo := 0; lo < n; lo += block {
		hi := min(n, lo+block)
		var scores []float32
		if x.quant == Float32 {
			scores = scoreRows(s.scores, l.vecs[lo*x.dim:hi*x.dim], s.q, x.dim)
		} else if x.quant == PQ {
			scores = s.scores[:hi-lo]
			scorePQ(scores, l.codes[lo*x.pdim:hi*x.pdim], s.lut, x.pdim)
		} else {
			sums := s.sums[:hi-lo]
			dotsI8(sums, l.codes[lo*x.pdim:hi*x.pdim], s.qc.code, x.pdim)
			scores = s.scores[:hi-lo]
			if x.quant == Int8 {
				for j, v := range sums {
					scores[j] = float32(v) * s.qc.scale * l.scales[lo+j]
				}
			} else {
				for j, v := range sums {
					scores[j] = float32(v) * s.qc.scale
				}
			}
		}
		for j, sc := range scores {
			id := l.ids[lo+j]
			if !s.t.Beats(id, sc) {
				continue
			}
			if filter != nil && !filter(id) {
				continue
			}
			s.t.Push(id, sc)
		}
	}
}

// result returns the best k hits: the kept ones, or for a quantised index
// with a rescorer the short list re-scored exactly.
func (s *scan) result() []Hit {
	hits := s.t.Sorted()
	if s.x.rescore == nil || s.x.quant == Float32 {
		return hits
	}
	t := newTopK(s.k)
	for _, h := range hits {
		if sc := s.x.rescore(s.q, h.Index); sc == sc {
			t.Push(h.Index, sc)
		}
	}
	return t.Sorted()
}

// SetRescore gives a quantised index the exact score of an item for a
// query (for example the dot product with the model's float32 vector):
// searches then re-rank a short list (IVFOptions.Rerank) by it and return
// exact scores. Call it before the index is searched; fn must be safe for
// concurrent use.
func (x *IVF) SetRescore(fn func(q []float32, id int32) float32) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.rescore = fn
}

// Quant is how the index stores its vectors.
func (x *IVF) Quant() Quant { return x.quant }

// VectorBytes is the memory the stored vectors take (codes, scales and
// ids of every list), not counting the centroids and a PQ index's
// codebooks (CodebookBytes).
func (x *IVF) VectorBytes() int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var b int64
	for _, l := range append([]ivfList{x.head}, x.lists...) {
		b += int64(len(l.ids))*4 + int64(len(l.vecs))*4 + int64(len(l.codes)) + int64(len(l.scales))*4
	}
	return b
}

// CodebookBytes is the memory of a PQ index's sub-quantiser centroids (0
// for other storages).
func (x *IVF) CodebookBytes() int64 {
	if x.pq == nil {
		return 0
	}
	return 4 * int64(len(x.pq.cent))
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
