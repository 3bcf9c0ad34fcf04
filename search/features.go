package search

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
)

// Ranker re-ranks the candidates of a search in ModeLTR from their feature
// vectors (see FeatureNames); higher scores rank first. *ltr.Model of
// package search/ltr implements it.
type Ranker interface {
	// Score scores one candidate's features.
	Score(features []float32) float64
	// Check returns an error unless names is the ranker's feature schema.
	Check(names []string) error
}

// ClickScoped is implemented by a Ranker learned from what shoppers did
// after searching: ModeLTR uses it only for queries shoppers acted on
// (Signals.Clicks has them) and searches other queries in the default
// mode. On simulated shoppers over ESCI such a ranker beat keyword ranking
// on queries with click history and lost to it on the others
// (docs/benchmarks.md, "Learning from clicks").
type ClickScoped interface {
	Ranker
	// ClickScoped reports whether the ranker is scoped to clicked queries.
	ClickScoped() bool
}

// covers reports whether the ranker may rank query q.
func (rs *rankState) covers(q string) bool {
	cs, ok := rs.ranker.(ClickScoped)
	if !ok || !cs.ClickScoped() {
		return true
	}
	return rs.signals.Clicks != nil && rs.signals.Clicks.has(q)
}

// Signals are the inputs of learned ranking beyond the text: all optional.
type Signals struct {
	// Popularity returns an item's popularity in [0, 1] relative to the
	// most popular item of the catalogue (for example log(1+count) /
	// log(1+max count) of recent interactions).
	Popularity func(itemID string) float64
	// Clicks supplies the click-through of the query and the item.
	Clicks *Clicks
}

// rankState is the learned-ranking setup of an index.
type rankState struct {
	ranker  Ranker
	signals Signals
}

// SetRanker sets the model of ModeLTR; nil removes it (searches in ModeLTR
// then use the default mode). It fails when the model was trained on other
// features than FeatureNames.
func (ix *Index) SetRanker(r Ranker) error {
	if r != nil {
		if err := r.Check(featureNames); err != nil {
			return fmt.Errorf("search: set ranker: %w", err)
		}
	}
	ix.rankMu.Lock()
	defer ix.rankMu.Unlock()
	ix.rank.ranker = r
	return nil
}

// Ranker returns the model of ModeLTR, or nil.
func (ix *Index) Ranker() Ranker {
	ix.rankMu.RLock()
	defer ix.rankMu.RUnlock()
	return ix.rank.ranker
}

// SetSignals sets the popularity and click-through inputs of the learned
// ranking features.
func (ix *Index) SetSignals(s Signals) {
	ix.rankMu.Lock()
	defer ix.rankMu.Unlock()
	ix.rank.signals = s
}

func (ix *Index) rankSetup() rankState {
	ix.rankMu.RLock()
	defer ix.rankMu.RUnlock()
	return ix.rank
}

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
	return ix.candidates(ctx, req, ix.rankSetup())
}

// CandidatesWith is Candidates computed with other signals than the
// index's: training on logged behaviour takes click-through from before
// the period its labels come from, so no feature sees its own label.
func (ix *Index) CandidatesWith(ctx context.Context, req Request, sig Signals) ([]Candidate, error) {
	rs := ix.rankSetup()
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
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	c := ix.compile(p)
	if len(c.groups) == 0 && len(qvec) == 0 {
		return nil, nil
	}
	f := ix.compileFilter(&req, &c)
	lc := ix.ltrCandidates(&c, &f, &req, qvec, &rs, req.Offset+req.N, false)
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
// items in the total). Caller holds the read lock.
func (ix *Index) ltrCandidates(c *compiled, f *filter, req *Request, qvec []float32, rs *rankState, need int, wantSet bool) ltrList {
	fusion := ix.cfg.Fusion
	if req.Fusion != nil {
		fusion = *req.Fusion
	}
	depth := max(need, fusion.Depth)
	var l ltrList
	// without the shopper's boost: the keyword features are then those the
	// ranker was trained on (judged queries have no shopper), and the
	// boost enters only as the affinity feature and rerank's bounded lift
	kw, kwSet, total := ix.keyword(c, f, SortRelevance, depth, nil, wantSet)
	if len(kw) > depth {
		kw = kw[:depth]
	}
	sem := ix.semantic(qvec, f, depth)
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

// rerank orders the candidates by the ranker's score, then applies the
// exact-match guard to exact matches as a class: at every rank, the
// re-ranked list holds at least as many exact keyword matches (every query
// word in the title as typed) as the keyword list does. The ranker may
// reorder exact matches among themselves (with one-word queries nearly
// every match is exact, and a per-item guard would freeze the keyword
// order), but no other item ever pushes an exact match further down than
// keyword ranking put exact matches.
//
// The shopper's affinity (the affinity feature, from Request.Boost) then
// lifts an item by at most boostWeight times the spread of the ranker's
// scores over the candidates, so personalisation reorders close calls
// and relevance dominates, as in the other modes.
func rerank(l *ltrList, r Ranker, boostWeight float64) []scored {
	out := make([]scored, len(l.docs))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, s := range l.docs {
		out[i] = scored{doc: s.doc, score: r.Score(l.feats[i]), exact: s.exact}
		lo, hi = min(lo, out[i].score), max(hi, out[i].score)
	}
	if boostWeight > 0 && hi > lo {
		for i := range out {
			if a := float64(l.feats[i][fAffinity]); a > 0 {
				out[i].score += boostWeight * min(a, 1) * (hi - lo)
			}
		}
	}
	sortScored(out)
	return guardExactClass(out, l.kw)
}

// guardExactClass moves exact matches of ranked forward (keeping their
// order, and the order of the others) until every prefix of the result
// holds at least as many exact matches as the same prefix of kw. Scores
// stay non-increasing: a moved item takes the score of the item it passes.
func guardExactClass(ranked, kw []scored) []scored {
	need := make([]int, len(ranked)+1) // exact matches in kw[:r]
	for r := 1; r <= len(ranked); r++ {
		need[r] = need[r-1]
		if r-1 < len(kw) && kw[r-1].exact {
			need[r]++
		}
	}
	var exact, other []scored
	for _, s := range ranked {
		if s.exact {
			exact = append(exact, s)
		} else {
			other = append(other, s)
		}
	}
	out := make([]scored, 0, len(ranked))
	e, o := 0, 0
	for len(out) < len(ranked) {
		takeExact := e < len(exact) && (o >= len(other) || need[len(out)+1] > e || less(other[o], exact[e]))
		var s scored
		if takeExact {
			s = exact[e]
			e++
		} else {
			s = other[o]
			o++
		}
		if n := len(out); n > 0 && s.score > out[n-1].score {
			s.score = out[n-1].score
		}
		out = append(out, s)
	}
	return out
}

// less reports whether a ranks after b in score order (ties by doc id).
func less(a, b scored) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	return a.doc > b.doc
}
