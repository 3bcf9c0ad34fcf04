package search

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
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

// The features of a candidate, in vector order. Every feature is generic:
// no item id, query text or catalogue-specific value is a feature, so a
// model trained on one catalogue can score another.
var featureNames = []string{
	"bm25_title",         // BM25 of the query words in the title (per-field BM25, summed over words)
	"bm25_brand",         // ... in the brand
	"bm25_categories",    // ... in the category paths
	"bm25_attributes",    // ... in the attribute values
	"bm25_description",   // ... in the description
	"bm25f",              // BM25F over all fields with the configured weights
	"bm25f_rel",          // bm25f / the largest bm25f among the candidates
	"keyword_score_rel",  // the keyword mode's final score / the best candidate's
	"keyword_rrank",      // 1/(1+keyword rank), 0 when not in the keyword list
	"coverage",           // share of query words matched in any field
	"exact_coverage",     // share matched as typed or by a synonym (not a typo or completion)
	"title_coverage",     // share of query words in the title
	"all_in_title",       // every query word is in the title (1/0)
	"all_exact_in_title", // every query word is in the title as typed (1/0)
	"title_proximity",    // share of adjacent query-word pairs adjacent in the title
	"phrase_in_title",    // a quoted phrase of the query is in the title (1/0)
	"semantic_cos",       // cosine of the query and item vectors (0 without an embedder)
	"semantic_cos_rel",   // semantic_cos minus the largest among the candidates
	"semantic_rrank",     // 1/(1+semantic rank), 0 when not in the semantic list
	"query_words",        // analysed words of the query
	"popularity",         // Signals.Popularity
	"has_price",          // the item has a price (1/0)
	"log_price",          // log(1+price)
	"price_rel",          // log((1+price)/(1+median candidate price)), 0 without a price
	"affinity",           // Request.Boost: the shopper's affinity, clamped to [0,1]
	"clicks",             // click-through of this query and item (Signals.Clicks)
	"log_title_len",      // log(1+analysed title words)
	"log_desc_len",       // log(1+analysed description words)
	"prf_category",       // category overlap with the top keyword results (rank-weighted, itself excluded)
	"prf_brand",          // share of the top keyword results of the same brand (rank-weighted, itself excluded)
	"prf_title",          // mean share of the top keyword results whose titles hold each of its title words
	"prf_semantic",       // cosine to the mean vector of the top keyword results (0 without an embedder)
}

// LTRBaseFeature is the feature a LambdaMART model should start from
// (ltr.Params.BaseFeature): the keyword score relative to the best
// candidate's, so the trees learn corrections to keyword ranking.
const LTRBaseFeature = "keyword_score_rel"

// FeatureNames returns the names of the features a Ranker scores, in
// vector order. Models store it and an index refuses a model trained on
// another list.
func FeatureNames() []string { return slices.Clone(featureNames) }

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

// Feature vector positions used below.
const (
	fBM25Title = iota
	fBM25Brand
	fBM25Categories
	fBM25Attributes
	fBM25Description
	fBM25F
	fBM25FRel
	fKeywordRel
	fKeywordRRank
	fCoverage
	fExactCoverage
	fTitleCoverage
	fAllInTitle
	fAllExactInTitle
	fTitleProximity
	fPhraseInTitle
	fSemanticCos
	fSemanticCosRel
	fSemanticRRank
	fQueryWords
	fPopularity
	fHasPrice
	fLogPrice
	fPriceRel
	fAffinity
	fClicks
	fLogTitleLen
	fLogDescLen
	fPRFCategory
	fPRFBrand
	fPRFTitle
	fPRFSemantic
	numFeatures
)

// prfDepth is how many of the best keyword results describe "what the
// query is about" for the prf_* features (pseudo-relevance feedback).
const prfDepth = 10

// featurize computes the feature vector of every candidate. Caller holds
// the read lock.
func (ix *Index) featurize(c *compiled, cands []scored, kwRank, semRank []int, qvec []float32, req *Request, rs *rankState) [][]float32 {
	n := float64(len(ix.docs))
	var avg [numFields]float64
	for fl := range avg {
		avg[fl] = 1
		if ix.nLive > 0 && ix.lenSum[fl] > 0 {
			avg[fl] = ix.lenSum[fl] / float64(ix.nLive)
		}
	}
	k1, w, b := ix.cfg.K1, ix.cfg.FieldWeights, ix.cfg.FieldB
	m := len(c.groups)
	idf := make([][]float64, m)
	for g, gr := range c.groups {
		idf[g] = make([]float64, len(gr.alts))
		for a, al := range gr.alts {
			df := float64(len(ix.post[al.term].docs))
			idf[g][a] = math.Log(1 + (n-df+0.5)/(df+0.5))
		}
	}
	var clicks func(string) float64
	if rs.signals.Clicks != nil {
		clicks = rs.signals.Clicks.Boost(req.Query)
	}
	out := make([][]float32, len(cands))
	flat := make([]float32, len(cands)*numFeatures)
	var prices []float64
	for i, s := range cands {
		x := flat[i*numFeatures : (i+1)*numFeatures : (i+1)*numFeatures]
		out[i] = x
		d := s.doc
		dc := &ix.docs[d]
		var field [numFields]float64
		var bm25f float64
		matched, exactMatched := 0, 0
		for g, gr := range c.groups {
			var best [numFields]float64
			var bestF float64
			exact := false
			for a, al := range gr.alts {
				p := &ix.post[al.term]
				k, ok := slices.BinarySearch(p.docs, d)
				if !ok {
					continue
				}
				tf := p.tf[k*int(numFields) : (k+1)*int(numFields)]
				var t float64
				for fl := 0; fl < int(numFields); fl++ {
					if tf[fl] == 0 {
						continue
					}
					norm := float64(tf[fl]) / (1 - b[fl] + b[fl]*float64(dc.lens[fl])/avg[fl])
					best[fl] = max(best[fl], al.w*idf[g][a]*norm/(k1+norm))
					t += w[fl] * norm
				}
				if t > 0 {
					bestF = max(bestF, al.w*idf[g][a]*t/(k1+t))
					exact = exact || al.exact
				}
			}
			for fl := range field {
				field[fl] += best[fl]
			}
			bm25f += bestF
			if bestF > 0 {
				matched++
				if exact {
					exactMatched++
				}
			}
		}
		for fl := range field {
			x[fBM25Title+fl] = float32(field[fl])
		}
		x[fBM25F] = float32(bm25f)
		x[fKeywordRel] = float32(s.score) // normalised below
		if r := kwRank[i]; r >= 0 {
			x[fKeywordRRank] = 1 / float32(1+r)
		}
		if m > 0 {
			x[fCoverage] = float32(matched) / float32(m)
			x[fExactCoverage] = float32(exactMatched) / float32(m)
		}
		ix.titleFeatures(c, dc.title, x)
		if len(qvec) > 0 && len(dc.vec) == len(qvec) {
			var dot float32
			for k, v := range dc.vec {
				dot += v * qvec[k]
			}
			x[fSemanticCos] = dot
		}
		if r := semRank[i]; r >= 0 {
			x[fSemanticRRank] = 1 / float32(1+r)
		}
		x[fQueryWords] = float32(m)
		if rs.signals.Popularity != nil {
			x[fPopularity] = clamp01(rs.signals.Popularity(dc.item.ID))
		}
		if dc.hasPrice {
			x[fHasPrice] = 1
			x[fLogPrice] = float32(math.Log1p(max(dc.price, 0)))
			prices = append(prices, max(dc.price, 0))
		}
		if req.Boost != nil {
			x[fAffinity] = clamp01(req.Boost(dc.item.ID))
		}
		if clicks != nil {
			x[fClicks] = clamp01(clicks(dc.item.ID))
		}
		x[fLogTitleLen] = float32(math.Log1p(float64(dc.lens[FieldTitle])))
		x[fLogDescLen] = float32(math.Log1p(float64(dc.lens[FieldDescription])))
	}
	ix.prfFeatures(cands, kwRank, out)
	// features relative to the candidate set
	var maxF, maxKW float64
	maxCos := float32(math.Inf(-1))
	for _, x := range out {
		maxF = max(maxF, float64(x[fBM25F]))
		maxKW = max(maxKW, float64(x[fKeywordRel]))
		maxCos = max(maxCos, x[fSemanticCos])
	}
	var median float64
	if len(prices) > 0 {
		sort.Float64s(prices)
		median = prices[len(prices)/2]
	}
	for _, x := range out {
		if maxF > 0 {
			x[fBM25FRel] = float32(float64(x[fBM25F]) / maxF)
		}
		if maxKW > 0 {
			x[fKeywordRel] = float32(float64(x[fKeywordRel]) / maxKW)
		} else {
			x[fKeywordRel] = 0
		}
		if len(qvec) > 0 {
			x[fSemanticCosRel] = x[fSemanticCos] - maxCos
		}
		if x[fHasPrice] == 1 {
			x[fPriceRel] = float32(math.Log((1 + math.Expm1(float64(x[fLogPrice]))) / (1 + median)))
		}
	}
	return out
}

// prfFeatures sets the pseudo-relevance-feedback features: how much a
// candidate looks like the best keyword results (their categories, brands,
// title words and vectors), each weighted by 1/log2(rank+2). A candidate's
// own weight is left out of its own features. Caller holds the read lock.
func (ix *Index) prfFeatures(cands []scored, kwRank []int, out [][]float32) {
	type top struct {
		i int
		w float64
	}
	var tops []top
	var wsum float64
	for i, r := range kwRank {
		if r >= 0 && r < prfDepth {
			w := 1 / math.Log2(float64(r)+2)
			tops = append(tops, top{i, w})
			wsum += w
		}
	}
	if len(tops) == 0 {
		return
	}
	// title words of the top results, weighted
	termW := map[uint32]float64{}
	var centroid []float32
	for _, tp := range tops {
		dc := &ix.docs[cands[tp.i].doc]
		for _, t := range uniqTerms(dc.title) {
			termW[t] += tp.w
		}
		if len(dc.vec) > 0 {
			if centroid == nil {
				centroid = make([]float32, len(dc.vec))
			}
			if len(dc.vec) == len(centroid) {
				for k, v := range dc.vec {
					centroid[k] += float32(tp.w) * v
				}
			}
		}
	}
	if centroid != nil {
		centroid = normalized(centroid)
	}
	selfW := make(map[int]float64, len(tops))
	for _, tp := range tops {
		selfW[tp.i] = tp.w
	}
	for i, s := range cands {
		dc := &ix.docs[s.doc]
		own := selfW[i]
		rest := wsum - own
		if rest <= 0 {
			continue
		}
		var catSum, brandSum float64
		for _, tp := range tops {
			if tp.i == i {
				continue
			}
			o := &ix.docs[cands[tp.i].doc]
			if dc.brand >= 0 && dc.brand == o.brand {
				brandSum += tp.w
			}
			if n := max(len(dc.cats), len(o.cats)); n > 0 {
				common := 0
				for _, c := range dc.cats {
					if slices.Contains(o.cats, c) {
						common++
					}
				}
				catSum += tp.w * float64(common) / float64(n)
			}
		}
		x := out[i]
		x[fPRFCategory] = float32(catSum / rest)
		x[fPRFBrand] = float32(brandSum / rest)
		if terms := uniqTerms(dc.title); len(terms) > 0 {
			var sh float64
			for _, t := range terms {
				w := termW[t]
				if own > 0 {
					w -= own // the candidate's own title holds every one of its words
				}
				sh += w / rest
			}
			x[fPRFTitle] = float32(sh / float64(len(terms)))
		}
		if centroid != nil && len(dc.vec) == len(centroid) {
			var dot float32
			for k, v := range dc.vec {
				dot += v * centroid[k]
			}
			x[fPRFSemantic] = dot
		}
	}
}

func uniqTerms(ts []uint32) []uint32 {
	out := make([]uint32, 0, len(ts))
	for _, t := range ts {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func clamp01(v float64) float32 {
	if math.IsNaN(v) || v < 0 {
		return 0
	}
	return float32(min(v, 1))
}

// titleFeatures sets the title coverage, all-words, proximity and phrase
// features of one candidate.
func (ix *Index) titleFeatures(c *compiled, title []uint32, x []float32) {
	m := len(c.groups)
	if m == 0 {
		return
	}
	inGroup := func(t uint32, g int, exactOnly bool) bool {
		for _, a := range c.groups[g].alts {
			if a.term == t && (!exactOnly || a.exact) {
				return true
			}
		}
		return false
	}
	found, foundExact := 0, 0
	for g := 0; g < m; g++ {
		f, fe := false, false
		for _, t := range title {
			if inGroup(t, g, false) {
				f = true
				if inGroup(t, g, true) {
					fe = true
					break
				}
			}
		}
		if f {
			found++
		}
		if fe {
			foundExact++
		}
	}
	x[fTitleCoverage] = float32(found) / float32(m)
	if found == m {
		x[fAllInTitle] = 1
	}
	if foundExact == m {
		x[fAllExactInTitle] = 1
	}
	if m > 1 {
		pairs := 0
		for g := 0; g+1 < m; g++ {
			for i := 0; i+1 < len(title); i++ {
				if inGroup(title[i], g, false) && inGroup(title[i+1], g+1, false) {
					pairs++
					break
				}
			}
		}
		x[fTitleProximity] = float32(pairs) / float32(m-1)
	}
	for _, ph := range c.phrases {
		if titleHasSequence(title, ph, inGroup) {
			x[fPhraseInTitle] = 1
			break
		}
	}
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
