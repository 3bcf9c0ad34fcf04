package search

import (
	"cmp"
	"context"
	"slices"

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

// rerankSemantic re-scores the first SemanticRerank docs of s (best first
// by int8 code) with their stored float32 vectors when those match the
// docs' embedded text (same text hash and dimension), and orders them
// again; docs without such a vector keep their int8 score, the docs past
// SemanticRerank their place. Without a vector store, or with float32
// vectors in memory (already exact), s is returned as it is. Caller holds
// the read lock.
func (ix *Index) rerankSemantic(q []float32, s []scored) []scored {
	if ix.vstore == nil || ix.floatVecs || len(s) < 2 {
		return s
	}
	space := ix.VectorSpace()
	if space == "" {
		return s
	}
	r := min(len(s), SemanticRerank)
	ids := make([]string, r)
	for i := range ids {
		ids[i] = ix.docs[s[i].doc].item.ID
	}
	got, err := ix.vstore.GetVectors(context.Background(), space, ids)
	if err != nil || len(got) != r {
		ix.log.Warn("search: semantic re-rank skipped: stored vectors not read", "docs", r, "err", err)
		return s
	}
	for i, g := range got {
		if dc := &ix.docs[s[i].doc]; len(g.Vec) == len(q) && g.TextHash == dc.vhash {
			s[i].score = float64(vek32.Dot(g.Vec, q))
		}
	}
	slices.SortStableFunc(s[:r], func(a, b scored) int { return cmp.Compare(b.score, a.score) })
	return s
}
