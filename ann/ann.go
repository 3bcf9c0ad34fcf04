// Package ann finds the items whose embedding vectors score highest against a
// query vector (maximum inner product search): an exact scan (Flat) for small
// catalogues and an inverted-file index (IVF) for large ones, behind one
// Index interface that the serving layer uses. New picks one by size.
//
// Items are dense indices 0..Len()-1 into row-major float32 vectors, as
// model.ItemEmbedder gives them. Scores are dot products; higher is better.
// Results are ordered by score, ties by the lower index, so they are
// deterministic.
//
// IVF lists can store vectors as float32 or as int8 codes (Quant: one
// scale per vector or per dimension), scored by an AVX2 int8 kernel, with
// exact re-ranking of a short list when the caller gives float32 scores
// (SetRescore). An index is saved and loaded with a tag naming what it was
// built from (SaveIVF, LoadIVF; format in file.go). Callers that keep
// vectors themselves use Code and Query (one int8 vector, one prepared
// query) and Lists (the k-means partition as ids only). See docs/vectors.md.
package ann

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/aisle-dev/aisle/internal/topk"
)

// Hit is one search result: an item index and its score (dot product).
type Hit = topk.Hit[int32, float32]

// topK keeps the k best hits: higher score first, ties by the lower index.
type topK = topk.Heap[int32, float32]

func newTopK(k int) *topK { return topk.New[int32, float32](k) }

// Index answers top-k queries over item vectors. Implementations are safe for
// concurrent use; Add may run concurrently with Search.
type Index interface {
	// Search returns at most k items with the highest dot product with q,
	// best first, skipping items for which filter (when not nil) returns
	// false. The filter is called only for items that would enter the
	// current top k, so a costly filter is called rarely; it must be safe
	// for concurrent use when searches run concurrently. Items with a NaN
	// score are never returned.
	Search(q []float32, k int, filter func(int32) bool) []Hit
	// Add appends one vector as item Len() and returns its index.
	Add(vec []float32) (int32, error)
	// Len is the number of items.
	Len() int
	// Dim is the vector dimension.
	Dim() int
}

// Progress receives build progress: a stage name ("sample", "kmeans",
// "assign") and how much of it is done. It may be nil.
type Progress func(stage string, done, total int)

// DefaultThreshold is the catalogue size from which New builds an IVF index
// instead of scanning every item. An exact scan of 200k × 64 takes about
// 2.5 ms on the reference machine (docs/benchmarks.md).
const DefaultThreshold = 200_000

// Options configure New.
type Options struct {
	// Threshold is the number of items from which an IVF index is built;
	// 0 means DefaultThreshold, a negative value always builds IVF.
	Threshold int
	// IVF configures the IVF index when one is built.
	IVF IVFOptions
}

// New returns an exact Flat index when vecs holds fewer than the threshold's
// items, else builds an IVF index. vecs is row-major, len(vecs) = n × dim;
// Flat keeps the slice (do not modify it afterwards), IVF copies it.
func New(ctx context.Context, dim int, vecs []float32, opt Options, progress Progress) (Index, error) {
	if dim <= 0 || len(vecs)%dim != 0 {
		return nil, fmt.Errorf("ann: %d floats do not make vectors of dimension %d", len(vecs), dim)
	}
	th := opt.Threshold
	if th == 0 {
		th = DefaultThreshold
	}
	if n := len(vecs) / dim; th > 0 && n < th {
		return NewFlat(dim, vecs)
	}
	return BuildIVF(ctx, dim, vecs, opt.IVF, progress)
}

// Exclude returns a filter that rejects the items in ids and otherwise asks
// filter (nil: accepts). Use it for items the user already bought.
func Exclude(ids []int32, filter func(int32) bool) func(int32) bool {
	if len(ids) == 0 {
		return filter
	}
	s := slices.Clone(ids)
	slices.Sort(s)
	return func(i int32) bool {
		if _, found := slices.BinarySearch(s, i); found {
			return false
		}
		return filter == nil || filter(i)
	}
}

// negInf is the score floor used before any hit is kept.
var negInf = float32(math.Inf(-1))
