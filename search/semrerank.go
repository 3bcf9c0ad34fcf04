package search

import (
	"cmp"
	"context"
	"slices"

	"github.com/aisle-dev/aisle/store"
	"github.com/viterin/vek/vek32"
)

// SemanticRerank is how many of semantic search's best docs by int8 code
// are scored again with their float32 vectors from the vector store
// (Options.Vectors). Scoring int8 codes caps recall@10 against the exact
// float32 ranking (0.947 at 1M hashed synthetic titles: near-ties ordered
// wrongly), however many lists are probed; re-scoring the int8 top 20 in
// float32 gave 0.999 (ann's BenchmarkSemanticRerank, decision 0056). The
// float32 vectors stay in the store: memory holds only the codes.
const SemanticRerank = 50

// semPrefetch is a semantic search's int8 best and the stored float32
// vectors of its first SemanticRerank, read before the search takes the
// index's read lock for its answer: the store is not read under the lock
// (on PostgreSQL a round trip, which writers, and behind a waiting writer
// every search, would wait for) and is read with the search's context.
type semPrefetch struct {
	changes int64    // kw.changes when codes were found
	k       int      // the depth codes were found for
	codes   []scored // the int8 best, max(k, SemanticRerank) of them
	ids     []string // the item ids of codes[:SemanticRerank]
	vecs    []store.ItemVector
}

// prefetchSemantic finds the int8 best of a semantic search for q (the
// query p and the filters of req, depth k) under the read lock, then reads
// the stored vectors of the first SemanticRerank without it. nil when
// there is nothing to re-rank from (no vector store, float32 vectors in
// memory, no query vector).
func (ix *Index) prefetchSemantic(ctx context.Context, q []float32, p parsedQuery, req *Request, k int) *semPrefetch {
	if ix.vstore == nil || ix.floatVecs || len(q) == 0 || k <= 0 {
		return nil
	}
	space := ix.VectorSpace()
	if space == "" {
		return nil
	}
	pre := &semPrefetch{k: k}
	ix.mu.RLock()
	c := ix.compile(p)
	f := ix.compileFilter(req, &c)
	pre.changes = ix.kw.changes.Load()
	pre.codes = ix.semanticCodes(q, &f, max(k, SemanticRerank))
	r := min(len(pre.codes), SemanticRerank)
	pre.ids = make([]string, r)
	for i := range pre.ids {
		pre.ids[i] = ix.docs[pre.codes[i].doc].item.ID
	}
	ix.mu.RUnlock()
	if r < 2 {
		return pre
	}
	got, err := ix.vstore.GetVectors(ctx, space, pre.ids)
	if err != nil || len(got) != r {
		if ctx.Err() == nil {
			ix.log.Warn("search: semantic re-rank skipped: stored vectors not read", "docs", r, "err", err)
		}
		return pre
	}
	pre.vecs = got
	return pre
}

// rerankSemantic re-scores the first SemanticRerank docs of s (best first
// by int8 code) with the float32 vectors pre read from the store when
// those match the docs' embedded text (same text hash and dimension), and
// orders them again; docs without such a vector keep their int8 score,
// the docs past SemanticRerank their place. Without vectors read, s is
// returned as it is. Caller holds the read lock.
func (ix *Index) rerankSemantic(q []float32, s []scored, pre *semPrefetch) []scored {
	if pre == nil || pre.vecs == nil || len(s) < 2 {
		return s
	}
	r := min(len(s), SemanticRerank)
	for i := range s[:r] {
		dc := &ix.docs[s[i].doc]
		j := i // the same docs in the same order unless the index changed since
		if j >= len(pre.ids) || pre.ids[j] != dc.item.ID {
			if j = slices.Index(pre.ids, dc.item.ID); j < 0 {
				continue
			}
		}
		if g := pre.vecs[j]; len(g.Vec) == len(q) && g.TextHash == dc.vhash {
			s[i].score = float64(vek32.Dot(g.Vec, q))
		}
	}
	slices.SortStableFunc(s[:r], func(a, b scored) int { return cmp.Compare(b.score, a.score) })
	return s
}
