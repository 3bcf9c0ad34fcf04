package search

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"

	"github.com/aisle-dev/aisle/ann"
	"github.com/aisle-dev/aisle/internal/topk"
)

// The semantic index: once the index holds SemanticIVFMin documents with
// vectors, a background build clusters a sample of their vectors into
// ann.Lists (k-means centroids and, per centroid, the doc ids nearest to
// it); semantic search then scores the docs of the lists nearest to the
// query instead of every doc. The vectors stay in the docs (one ann.Code
// each): the lists hold only ids, so the vectors are not kept twice.
// Vectors attached later join the list of their nearest centroid;
// compaction renumbers docs and drops the lists, which are built again.
// With Options.IndexDir the lists are saved after a build and loaded
// instead of built when the saved file matches (semsave.go).

// Semantic index settings.
const (
	// SemanticIVFMin is the number of docs with vectors from which
	// semantic search probes lists instead of scanning every doc.
	SemanticIVFMin = 20_000
	// SemanticNProbe is how many lists a semantic search scans at least
	// (ann.DefaultProbeBudget, which also asks for a share of the docs);
	// it goes on with the next lists while it has fewer than k results
	// (a selective filter).
	SemanticNProbe = 24
	// semanticExactBelow: a filter that allows fewer docs than this is
	// answered by scanning those docs, cheaper than probing lists.
	semanticExactBelow = 20_000
)

// semState is the semantic index of an Index; the fields are guarded by
// Index.mu except building.
type semState struct {
	lists    *ann.Lists
	building atomic.Bool
	pending  []uint32 // docs whose vector arrived during a build
	gen      int      // bumped by compaction: a build of an older gen is dropped
	builds   atomic.Int64
	loads    atomic.Int64 // lists loaded from Options.IndexDir instead of built
	saves    atomic.Int64 // lists saved to Options.IndexDir
}

// SemanticIndexStats reports how many times the semantic lists were built
// (k-means) and how many times they were loaded from Options.IndexDir.
func (ix *Index) SemanticIndexStats() (builds, loads int64) {
	return ix.sem.builds.Load(), ix.sem.loads.Load()
}

// SemanticLists reports whether semantic search probes lists (the index is
// built) and how many builds have finished.
func (ix *Index) SemanticLists() (built bool, builds int64) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.sem.lists != nil, ix.sem.builds.Load()
}

// vecAttached records that doc d got its first vector. Caller holds the
// write lock.
func (ix *Index) vecAttached(d uint32) {
	if l := ix.sem.lists; l != nil {
		l.Assign(int32(d), ix.docs[d].vec.Decode(nil))
	} else if ix.sem.building.Load() {
		ix.sem.pending = append(ix.sem.pending, d)
	}
}

// maybeBuildSemantic starts a background build of the lists when there are
// enough docs and none is built or building. Caller holds a lock.
func (ix *Index) maybeBuildSemantic() {
	if ix.sem.lists != nil || len(ix.docs) < ix.semMin || ix.noSemIVF {
		return
	}
	if !ix.sem.building.CompareAndSwap(false, true) {
		return
	}
	go ix.buildSemantic()
}

// buildSemantic builds the lists: k-means on a sample of 64 vectors per
// list, then every doc with a vector assigned in blocks, each block under
// the read lock so writers and searches go on meanwhile.
func (ix *Index) buildSemantic() {
	defer ix.sem.building.Store(false)
	ix.mu.RLock()
	gen := ix.sem.gen
	var ids []int32
	dim := 0
	for d := range ix.docs {
		if v := ix.docs[d].vec; v.Len() > 0 && (dim == 0 || v.Len() == dim) {
			dim = v.Len()
			ids = append(ids, int32(d))
		}
	}
	n := len(ids)
	if n < ix.semMin {
		ix.mu.RUnlock()
		return
	}
	ix.mu.RUnlock()

	// A saved index whose tag matches is loaded: its items keep their
	// lists, the others (new, or whose vector changed) are assigned below.
	lists, todo := ix.loadSemantic(gen, dim, ids)
	loaded := lists != nil
	if !loaded {
		todo = ids
		var err error
		if lists, err = ix.clusterSemantic(gen, dim, ids); err != nil || lists == nil {
			if err != nil {
				ix.log.Warn("search: semantic index not built; semantic search scans every product", "err", err)
			}
			return
		}
	}
	buf := make([]float32, dim)
	const block = 4096
	vecs := make([]float32, 0, block*dim)
	for lo := 0; lo < len(todo); lo += block {
		hi := min(len(todo), lo+block)
		vecs = vecs[:0]
		ix.mu.RLock()
		if ix.sem.gen != gen {
			ix.mu.RUnlock()
			return // compacted meanwhile: the next search starts a new build
		}
		for _, d := range todo[lo:hi] {
			vecs = append(vecs, ix.docs[d].vec.Decode(buf)...)
		}
		ix.mu.RUnlock()
		if err := lists.AssignBatch(todo[lo:hi], vecs); err != nil {
			ix.log.Warn("search: semantic index not built", "err", err)
			return
		}
	}
	ix.mu.Lock()
	if ix.sem.gen != gen {
		ix.mu.Unlock()
		return
	}
	slices.Sort(ix.sem.pending)
	for k, d := range ix.sem.pending {
		if (k > 0 && ix.sem.pending[k-1] == d) || int(d) >= len(ix.docs) || ix.docs[d].vec.Len() != dim {
			continue
		}
		if _, found := slices.BinarySearch(ids, int32(d)); !found {
			lists.Assign(int32(d), ix.docs[d].vec.Decode(buf))
		}
	}
	ix.sem.pending = nil
	ix.sem.lists = lists
	if loaded {
		ix.sem.loads.Add(1)
	} else {
		ix.sem.builds.Add(1)
	}
	ix.mu.Unlock()
	// Saved after a build, and after a load that had to assign many items
	// again (so the next start finds them in the file).
	if !loaded || len(todo) > n/10 {
		ix.saveSemantic(gen, dim, lists)
	}
}

// clusterSemantic runs k-means on a sample of 64 vectors per list (√n
// lists) of the docs ids and returns the empty lists; nil, nil when the
// index was compacted meanwhile.
func (ix *Index) clusterSemantic(gen, dim int, ids []int32) (*ann.Lists, error) {
	n := len(ids)
	nl := 1
	for nl*nl < n {
		nl++
	}
	rng := rand.New(rand.NewPCG(uint64(n), 0x5e4))
	m := min(n, 64*nl)
	sample := make([]float32, 0, m*dim)
	buf := make([]float32, dim)
	ix.mu.RLock()
	if ix.sem.gen != gen {
		ix.mu.RUnlock()
		return nil, nil
	}
	for _, k := range rng.Perm(n)[:m] {
		sample = append(sample, ix.docs[ids[k]].vec.Decode(buf)...)
	}
	ix.mu.RUnlock()
	return ann.BuildLists(context.Background(), dim, sample, nl, n, 1)
}

// semanticLists answers semantic from the lists: the lists nearest to q
// within ann.DefaultProbeBudget (SemanticNProbe lists and a share of the
// docs), both divided by the square root of the share of products the
// filter allows (a filter keeping a quarter probes twice as many, so that
// as many allowed products are seen), then more while fewer than k docs
// passed the filters. Caller holds the read lock.
func (ix *Index) semanticLists(q []float32, f *filter, k int) *topk.Heap[uint32, float64] {
	h := topk.New[uint32, float64](k)
	qq := ann.NewQuery(q)
	budget := ann.DefaultProbeBudget()
	budget.Lists = SemanticNProbe
	if f.allow != nil && ix.nLive > 0 {
		frac := float64(f.allow.GetCardinality()) / float64(ix.nLive)
		budget.Scale = 1 / math.Sqrt(max(frac, 1e-6))
	}
	ix.sem.lists.ProbeWithin(q, budget, func(ids []int32) {
		for _, id := range ids {
			d := uint32(id)
			if int(d) >= len(ix.docs) || !ix.passes(f, d) {
				continue
			}
			sc := float64(qq.Score(ix.docs[d].vec)) // NaN without a vector of this dimension
			if sc >= h.Floor() && h.Beats(d, sc) {
				h.Push(d, sc)
			}
		}
	}, func() bool { return !h.Full() })
	return h
}
