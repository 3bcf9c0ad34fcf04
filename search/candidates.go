package search

import (
	"context"
	"fmt"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
)

// Candidate is one item that ModeLTR would re-rank for a request, with its
// feature vector (see FeatureNames).
type Candidate struct {
	ID       string
	Features []float32
}

// Candidates returns what ModeLTR re-ranks for req: the union of the
// keyword list and (with an embedder) the semantic list, each cut at the
// fusion depth (Config.Fusion.Depth or req.Fusion.Depth, at least the
// page), after req's filters, with their features. It is the way to build
// training data for a Ranker: label each candidate and train on the
// vectors. The order is the keyword list's, then the semantic-only items.
func (ix *Index) Candidates(ctx context.Context, req Request) ([]Candidate, error) {
	return ix.candidates(ctx, req, ix.rank.snapshot())
}

// CandidatesWith is Candidates computed with other signals than the
// index's: training on logged behaviour takes click-through from before
// the period its labels come from, so no feature sees its own label.
func (ix *Index) CandidatesWith(ctx context.Context, req Request, sig Signals) ([]Candidate, error) {
	rs := ix.rank.snapshot()
	rs.signals = sig
	return ix.candidates(ctx, req, rs)
}

func (ix *Index) candidates(ctx context.Context, req Request, rs rankState) ([]Candidate, error) {
	if req.N <= 0 {
		req.N = 10
	}
	p := parseQuery(req.Query)
	qvec, err := ix.queryVector(ctx, p)
	if err != nil {
		return nil, err
	}
	// the stored vectors are read before the lock is taken (semrerank.go)
	pre := ix.prefetchSemantic(ctx, qvec, p, &req, ix.fusionDepth(&req, req.Offset+req.N))
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	c := ix.compile(p)
	if len(c.groups) == 0 && len(qvec) == 0 {
		return nil, nil
	}
	f := ix.compileFilter(&req, &c)
	lc := ix.ltrCandidates(&c, &f, &req, qvec, &rs, req.Offset+req.N, false, pre)
	out := make([]Candidate, len(lc.docs))
	for i, s := range lc.docs {
		out[i] = Candidate{ID: ix.docs[s.doc].item.ID, Features: lc.feats[i]}
	}
	return out, nil
}

// queryVector embeds the query text when the index has an embedder.
func (ix *Index) queryVector(ctx context.Context, p parsedQuery) ([]float32, error) {
	if ix.emb == nil || strings.TrimSpace(p.text) == "" {
		return nil, nil
	}
	vs, err := ix.qemb.Embed(ctx, []string{p.text})
	if err != nil {
		return nil, fmt.Errorf("search: embed query: %w", err)
	}
	if len(vs) != 1 || len(vs[0]) != ix.emb.Dim() {
		return nil, fmt.Errorf("search: embed query: got %d vectors", len(vs))
	}
	return normalized(vs[0]), nil
}

// ltrList is the candidate set of a learned-ranking search.
type ltrList struct {
	docs    []scored // candidates (keyword order, then semantic-only)
	feats   [][]float32
	kw      []scored // the keyword list, for the exact-match guard
	matched *roaring.Bitmap
	total   int
}

// ltrCandidates collects and featurises the candidates; with wantSet it
// also builds the matched set (for facets, and to count semantic-only
// items in the total); pre is the semantic side's prefetch (see
// semantic). Caller holds the read lock.
func (ix *Index) ltrCandidates(c *compiled, f *filter, req *Request, qvec []float32, rs *rankState, need int, wantSet bool, pre *semPrefetch) ltrList {
	depth := ix.fusionDepth(req, need)
	var l ltrList
	// without the shopper's boost: the keyword features are then those the
	// ranker was trained on (judged queries have no shopper), and the
	// boost enters only as the affinity feature and rerank's bounded lift
	kw, kwSet, total := ix.keyword(c, f, SortRelevance, depth, nil, wantSet)
	if len(kw) > depth {
		kw = kw[:depth]
	}
	sem := ix.semantic(qvec, f, depth, pre)
	l.kw, l.matched, l.total = kw, kwSet, total
	pos := make(map[uint32]int, len(kw)+len(sem))
	kwRank := make([]int, 0, len(kw)+len(sem))
	semRank := make([]int, 0, len(kw)+len(sem))
	for i, s := range kw {
		pos[s.doc] = len(l.docs)
		l.docs = append(l.docs, s)
		kwRank = append(kwRank, i)
		semRank = append(semRank, -1)
	}
	for i, s := range sem {
		if k, ok := pos[s.doc]; ok {
			semRank[k] = i
			continue
		}
		pos[s.doc] = len(l.docs)
		l.docs = append(l.docs, scored{doc: s.doc})
		kwRank = append(kwRank, -1)
		semRank = append(semRank, i)
		if wantSet {
			l.matched.Add(s.doc)
		}
	}
	if wantSet {
		l.total = int(l.matched.GetCardinality())
	}
	l.feats = ix.featurize(c, l.docs, kwRank, semRank, qvec, req, rs)
	return l
}

// fusionDepth is how deep each side of a fused search looks for a page
// ending at need: the fusion's depth (req's, else the index's), at least
// need.
func (ix *Index) fusionDepth(req *Request, need int) int {
	fusion := ix.cfg.Fusion
	if req.Fusion != nil {
		fusion = *req.Fusion
	}
	return max(need, fusion.Depth)
}
