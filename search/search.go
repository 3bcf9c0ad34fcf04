package search

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/aisle-dev/aisle/ann"
	"github.com/aisle-dev/aisle/internal/topk"
	"github.com/viterin/vek/vek32"
)

// scored is one candidate with its score.
type scored struct {
	doc   uint32
	score float64
	exact bool // every query word is in the title as typed (or a synonym)
}

// filter is a request's filters compiled against the index.
type filter struct {
	allow    *roaring.Bitmap // nil: all live docs
	minPrice float64
	maxPrice float64
	price    bool
	excluded *roaring.Bitmap // docs of the query's excluded words
	hidden   []uint32        // docs of Request.Exclude, sorted (a few: rules' hidden and pinned items)
}

func (ix *Index) compileFilter(req *Request, c *compiled) filter {
	f := filter{minPrice: math.Inf(-1), maxPrice: math.Inf(1)}
	if len(req.Categories) > 0 {
		u := roaring.New()
		for _, cat := range req.Categories {
			if id, ok := ix.cats.ids[strings.Trim(cat, "/")]; ok {
				u.Or(ix.cats.bits[id])
			}
		}
		f.allow = u
	}
	if len(req.Brands) > 0 {
		u := roaring.New()
		for _, b := range req.Brands {
			if id, ok := ix.brands.ids[strings.ToLower(strings.TrimSpace(b))]; ok {
				u.Or(ix.brands.bits[id])
			}
		}
		if f.allow == nil {
			f.allow = u
		} else {
			f.allow.And(u)
		}
	}
	if f.allow != nil {
		f.allow.And(ix.live)
	}
	if req.MinPrice != nil {
		f.minPrice, f.price = *req.MinPrice, true
	}
	if req.MaxPrice != nil {
		f.maxPrice, f.price = *req.MaxPrice, true
	}
	if c != nil && len(c.excluded) > 0 {
		f.excluded = roaring.New()
		for _, t := range c.excluded {
			f.excluded.AddMany(ix.post[t].docs)
		}
	}
	for _, id := range req.Exclude {
		if d, ok := ix.byID[id]; ok {
			f.hidden = append(f.hidden, d)
		}
	}
	slices.Sort(f.hidden)
	return f
}

func (ix *Index) passes(f *filter, d uint32) bool {
	dc := &ix.hot[d]
	if !dc.live {
		return false
	}
	if f.allow != nil && !f.allow.Contains(d) {
		return false
	}
	if f.price && (!dc.hasPrice || dc.price < f.minPrice || dc.price > f.maxPrice) {
		return false
	}
	if f.excluded != nil && f.excluded.Contains(d) {
		return false
	}
	if len(f.hidden) > 0 {
		if _, hidden := slices.BinarySearch(f.hidden, d); hidden {
			return false
		}
	}
	return true
}

// Limits of a request: larger pages are cut to MaxN items, larger offsets
// are errors.
const (
	MaxN      = 1000
	MaxOffset = 100_000
)

// Search runs one search. It is safe to call concurrently with other
// searches and with Upsert and Delete.
func (ix *Index) Search(ctx context.Context, req Request) (*Result, error) {
	start := time.Now()
	if len(req.Query) > MaxQueryBytes {
		return nil, fmt.Errorf("search: the query is %d bytes, longer than the %d allowed: shorten it", len(req.Query), MaxQueryBytes)
	}
	if req.N <= 0 {
		req.N = 10
	}
	if req.N > MaxN {
		req.N = MaxN
	}
	if req.Offset < 0 || req.Offset > MaxOffset {
		return nil, fmt.Errorf("search: offset %d out of range [0, %d]", req.Offset, MaxOffset)
	}
	if req.Sort == "" {
		req.Sort = SortRelevance
	}
	if _, err := ParseSort(string(req.Sort)); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	for _, fc := range req.Facets {
		if fc != FacetCategory && fc != FacetBrand && fc != FacetPrice {
			return nil, fmt.Errorf("search: unknown facet %q (want category, brand or price)", fc)
		}
	}
	mode := req.Mode
	if mode == ModeDefault {
		mode = ix.cfg.DefaultMode
		if mode == ModeDefault {
			mode = ModeKeyword
		}
	}
	if _, err := ParseMode(string(mode)); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	var rs rankState
	if mode == ModeLTR {
		// learned ranking re-orders relevance only; without a model, for
		// another order, or for a query a click-scoped model has no clicks
		// of, search as the default (non-LTR) mode would
		if rs = ix.rank.snapshot(); req.Ranker != nil {
			rs.ranker = req.Ranker
		}
		if rs.ranker == nil || req.Sort != SortRelevance || !rs.covers(req.Query) {
			mode = ix.cfg.DefaultMode
			if mode == ModeDefault || mode == ModeLTR {
				mode = ModeKeyword
			}
		}
	}
	if (mode == ModeSemantic || mode == ModeHybrid) && ix.emb == nil {
		return nil, fmt.Errorf("search: mode %s needs an embedder, and this index has none", mode)
	}
	fusion := ix.cfg.Fusion
	if req.Fusion != nil {
		fusion = *req.Fusion
	}
	p := parseQuery(req.Query)
	var qvec []float32
	if (mode == ModeSemantic || mode == ModeHybrid || mode == ModeLTR && ix.emb != nil) && strings.TrimSpace(p.text) != "" {
		vs, err := ix.qemb.Embed(ctx, []string{p.text})
		if err == nil && (len(vs) != 1 || len(vs[0]) != ix.emb.Dim()) {
			err = fmt.Errorf("got %d vectors", len(vs))
		}
		switch {
		case err == nil:
			qvec = normalized(vs[0])
		case (mode == ModeHybrid || mode == ModeLTR) && ctx.Err() == nil:
			// the keyword side still answers, and the result says so: a
			// learned ranker would see its semantic features at 0 for every
			// candidate, which it never saw in training, so ltr falls back
			// to keyword ranking too
			ix.log.Warn("search: embed query failed; searching by keyword only", "mode", mode, "err", err)
			mode = ModeKeyword
		default:
			return nil, fmt.Errorf("search: embed query: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	need := req.Offset + req.N
	// the semantic side's stored vectors are read before the lock is
	// taken, with the search's context (semrerank.go)
	var pre *semPrefetch
	if len(qvec) > 0 && (mode == ModeSemantic || mode == ModeHybrid || mode == ModeLTR) {
		pre = ix.prefetchSemantic(ctx, qvec, p, &req, max(need, fusion.Depth))
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	c := ix.compile(p)
	f := ix.compileFilter(&req, &c)
	var ranked []scored
	var matched *roaring.Bitmap
	total := 0
	switch {
	case len(c.groups) == 0 && len(qvec) == 0:
		// browse: every item passing the filters
		ranked, matched = ix.browse(&f)
		total = len(ranked)
	case mode == ModeKeyword:
		ranked, matched, total = ix.keyword(&c, &f, req.Sort, need, req.Boost, len(req.Facets) > 0)
	case mode == ModeLTR:
		l := ix.ltrCandidates(&c, &f, &req, qvec, &rs, need, len(req.Facets) > 0 || len(qvec) > 0, pre)
		ranked, matched, total = rerank(&l, rs.ranker, ix.cfg.BoostWeight), l.matched, l.total
	case mode == ModeSemantic:
		ranked = ix.semantic(qvec, &f, max(need, fusion.Depth), pre)
		matched = roaring.New()
		for _, s := range ranked {
			matched.Add(s.doc)
		}
		total = len(ranked)
	default:
		depth := max(need, fusion.Depth)
		kw, kwSet, _ := ix.keyword(&c, &f, SortRelevance, depth, req.Boost, true)
		if len(kw) > depth {
			kw = kw[:depth]
		}
		sem := ix.semantic(qvec, &f, depth, pre)
		ranked = fuseWith(kw, sem, ix.simFunc(qvec), fusion)
		matched = kwSet
		for _, s := range sem {
			matched.Add(s.doc)
		}
		total = int(matched.GetCardinality())
	}
	if req.Sort != SortRelevance || (len(c.groups) == 0 && len(qvec) == 0) {
		ix.sortBy(ranked, req.Sort)
	}
	res := &Result{Total: total, Mode: mode, hl: c.hlTerms, compiled: true}
	if len(req.Facets) > 0 {
		res.Facets = ix.facets(matched, req.Facets)
	}
	if k := min(len(ranked), need) - req.Offset; k > 0 {
		if cap(req.Hits) >= k {
			res.Items = req.Hits[:0] // the caller's storage
		} else {
			res.Items = make([]Hit, 0, k) // sized once: a 100-hit window grew it 8 times
		}
	}
	for i := req.Offset; i < len(ranked) && i < need; i++ {
		s := ranked[i]
		dc := &ix.docs[s.doc]
		h := Hit{ID: dc.item.ID, Title: dc.item.Title, Score: s.score, doc: s.doc + 1}
		if !req.NoHighlights && len(c.hlTerms) > 0 {
			h.Highlights = ix.highlights(dc, c.hlTerms)
		}
		res.Items = append(res.Items, h)
	}
	res.TookMS = float64(time.Since(start).Microseconds()) / 1000
	return res, nil
}

// browse lists every doc passing the filters (empty query).
func (ix *Index) browse(f *filter) ([]scored, *roaring.Bitmap) {
	base := f.allow
	if base == nil {
		base = ix.live
	}
	m := roaring.New()
	var out []scored
	it := base.Iterator()
	for it.HasNext() {
		d := it.Next()
		if ix.passes(f, d) {
			out = append(out, scored{doc: d})
			m.Add(d)
		}
	}
	return out, m
}

// keyword finds the docs matching at least one query word, scored with
// BM25F weighted by query-word coverage, and returns the best `need` (at
// least Config.RescoreDepth when sorting by relevance) after proximity and
// personalisation rescoring, the matched set (only if wantSet) and its size.
// Relevance order uses dynamic pruning (pruned.go); other orders need every
// matched doc's score and use keywordExhaustive.
func (ix *Index) keyword(c *compiled, f *filter, order Sort, need int, boost func(string) float64, wantSet bool) ([]scored, *roaring.Bitmap, int) {
	if ix.cfg.Coverage < 0 {
		return ix.keywordExhaustive(c, f, order, need, boost, wantSet)
	}
	s := ix.scratch.get()
	defer ix.scratch.put(s)
	bm := ix.bm25Params()
	total := ix.matchSet(c, f, &bm, s)
	var matched *roaring.Bitmap
	if wantSet {
		matched = roaring.FromDense(s.match, true)
	}
	if total == 0 {
		return nil, matched, 0
	}
	if order != SortRelevance {
		return ix.sortCandidates(c, &bm, s, order, need), matched, total
	}
	top := ix.topPruned(c, &bm, s, max(need, ix.cfg.RescoreDepth), ix.coverageFactors(len(c.groups)))
	for i := range top {
		ix.rescore(&top[i], c, boost)
	}
	sortScored(top)
	return top, matched, total
}

// coverageFactors returns (k/m)^Coverage for k = 0..m matched words of m.
func (ix *Index) coverageFactors(m int) []float64 {
	covf := make([]float64, m+1)
	for k := range covf {
		covf[k] = math.Pow(float64(k)/float64(m), ix.cfg.Coverage)
	}
	return covf
}

// keywordExhaustive is keyword without pruning: it scores every posting of
// every query term. It serves the price and age orders (which need every
// matched doc) and is the reference the pruned retrieval is tested against.
func (ix *Index) keywordExhaustive(c *compiled, f *filter, order Sort, need int, boost func(string) float64, wantSet bool) ([]scored, *roaring.Bitmap, int) {
	s := ix.scratch.get()
	s.perDoc(len(ix.docs))
	defer ix.scratch.put(s)
	bm := ix.bm25Params()
	for _, g := range c.groups {
		for _, a := range g.alts {
			p := &ix.post[a.term]
			idf := bm.idf(len(p.docs))
			for k, d := range p.docs {
				switch s.state[d] {
				case 0:
					s.seen = append(s.seen, d)
					if ix.passes(f, d) {
						s.state[d] = 1
					} else {
						s.state[d] = 2
						continue
					}
				case 2:
					continue
				}
				sc := bm.score(a.w, idf, bm.pseudoTF(p.tf[k*int(numFields):(k+1)*int(numFields)], &ix.hot[d].lens))
				if sc <= 0 {
					continue
				}
				if s.gscore[d] == 0 {
					s.gtouch = append(s.gtouch, d)
				}
				if sc > s.gscore[d] {
					s.gscore[d] = sc
				}
			}
		}
		for _, d := range s.gtouch {
			if s.score[d] == 0 && s.cover[d] == 0 {
				s.touched = append(s.touched, d)
			}
			s.score[d] += s.gscore[d]
			s.cover[d]++
			s.gscore[d] = 0
		}
		s.gtouch = s.gtouch[:0]
	}
	covf := ix.coverageFactors(len(c.groups))
	var matched *roaring.Bitmap
	if wantSet {
		matched = ix.docSet(s.touched)
	}
	total := len(s.touched)
	if order != SortRelevance {
		out := make([]scored, len(s.touched))
		for i, d := range s.touched {
			out[i] = scored{doc: d, score: float64(s.score[d]) * covf[s.cover[d]]}
		}
		return out, matched, total
	}
	depth := max(need, ix.cfg.RescoreDepth)
	h := topk.New[uint32, float64](depth)
	for _, d := range s.touched {
		if sc := float64(s.score[d]) * covf[s.cover[d]]; !(sc < h.Floor()) {
			h.Push(d, sc)
		}
	}
	top := topScored(h)
	for i := range top {
		ix.rescore(&top[i], c, boost)
	}
	sortScored(top)
	return top, matched, total
}

// docSet turns a list of doc ids into a bitmap: through a dense bit array
// when the list is large, else by sorting it.
func (ix *Index) docSet(docs []uint32) *roaring.Bitmap {
	if len(docs) > len(ix.docs)/64 {
		dense := make([]uint64, len(ix.docs)/64+1)
		for _, d := range docs {
			dense[d/64] |= 1 << (d % 64)
		}
		return roaring.FromDense(dense, false)
	}
	c := slices.Clone(docs)
	slices.Sort(c)
	return roaring.BitmapOf(c...)
}

// sortScored orders by score, then doc id for a stable order.
func sortScored(s []scored) {
	sort.Slice(s, func(a, b int) bool {
		if s[a].score != s[b].score {
			return s[a].score > s[b].score
		}
		return s[a].doc < s[b].doc
	})
}

// rescore applies the title proximity, all-words-in-title and
// personalisation factors to one candidate.
func (ix *Index) rescore(s *scored, c *compiled, boost func(string) float64) {
	dc := &ix.docs[s.doc]
	m := len(c.groups)
	inGroup := func(t uint32, g int, exactOnly bool) bool {
		for _, a := range c.groups[g].alts {
			if a.term == t && (!exactOnly || a.exact) {
				return true
			}
		}
		return false
	}
	// which groups appear in the title, and adjacent pairs in query order
	all, allExact := true, true
	for g := 0; g < m; g++ {
		found, foundExact := false, false
		for _, t := range dc.title {
			if inGroup(t, g, false) {
				found = true
				if inGroup(t, g, true) {
					foundExact = true
					break
				}
			}
		}
		all = all && found
		allExact = allExact && foundExact
	}
	f := 1.0
	if all && m > 0 {
		f *= 1 + ix.cfg.TitleAllBoost
	}
	s.exact = allExact && m > 0
	if m > 1 && ix.cfg.ProximityBoost > 0 {
		pairs := 0
		for g := 0; g+1 < m; g++ {
			for i := 0; i+1 < len(dc.title); i++ {
				if inGroup(dc.title[i], g, false) && inGroup(dc.title[i+1], g+1, false) {
					pairs++
					break
				}
			}
		}
		f *= 1 + ix.cfg.ProximityBoost*float64(pairs)/float64(m-1)
	}
	for _, ph := range c.phrases {
		if titleHasSequence(dc.title, ph, inGroup) {
			f *= 1 + 2*ix.cfg.ProximityBoost
		}
	}
	if boost != nil {
		bv := boost(dc.item.ID)
		if math.IsNaN(bv) {
			bv = 0
		}
		f *= 1 + ix.cfg.BoostWeight*min(1, max(0, bv))
	}
	s.score *= f
}

func titleHasSequence(title []uint32, groups []int, inGroup func(uint32, int, bool) bool) bool {
	for i := 0; i+len(groups) <= len(title); i++ {
		ok := true
		for k, g := range groups {
			if !inGroup(title[i+k], g, false) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// topScored empties h into candidates, best first (ties by doc id, the
// order of sortScored).
func topScored(h *topk.Heap[uint32, float64]) []scored {
	hits := h.Sorted()
	out := make([]scored, len(hits))
	for i, x := range hits {
		out[i] = scored{doc: x.Index, score: x.Score}
	}
	return out
}

// sortBy orders candidates by price or age; ties keep relevance order.
func (ix *Index) sortBy(s []scored, order Sort) {
	less := func(a, b scored) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return int(int64(a.doc) - int64(b.doc))
	}
	switch order {
	case SortPriceAsc, SortPriceDesc:
		sign := 1.0
		if order == SortPriceDesc {
			sign = -1
		}
		slices.SortStableFunc(s, func(a, b scored) int {
			da, db := &ix.docs[a.doc], &ix.docs[b.doc]
			if da.hasPrice != db.hasPrice { // items without a price go last
				if da.hasPrice {
					return -1
				}
				return 1
			}
			if da.price != db.price {
				if sign*(da.price-db.price) < 0 {
					return -1
				}
				return 1
			}
			return less(a, b)
		})
	case SortNewest:
		slices.SortStableFunc(s, func(a, b scored) int {
			ca, cb := ix.hot[a.doc].created, ix.hot[b.doc].created
			if ca != cb {
				if ca > cb {
					return -1
				}
				return 1
			}
			return less(a, b)
		})
	default:
		slices.SortStableFunc(s, less)
	}
}

// semantic returns the k docs passing the filters whose vectors are most
// similar (cosine) to q: from the semantic index's nearest lists once it is
// built (semindex.go), else by exact scan of the int8 vectors (of the
// float32 ones with Options.Float32Vectors, which never builds lists). The
// filters apply inside the scan, so a filtered search still returns k docs
// when k pass. With a vector store, the int8 best are re-scored with the
// stored float32 vectors pre read before the lock was taken (nil: they
// are not; semrerank.go), and pre's int8 best are used when the index
// did not change since. Caller holds the read lock.
func (ix *Index) semantic(q []float32, f *filter, k int, pre *semPrefetch) []scored {
	if len(q) == 0 || k <= 0 {
		return nil
	}
	// the best by int8 code, SemanticRerank of them at least, re-scored
	// from the stored float32 vectors (semrerank.go)
	if ix.vstore == nil || ix.floatVecs {
		return ix.semanticCodes(q, f, k)
	}
	var s []scored
	if pre != nil && pre.k == k && pre.changes == ix.kw.changes.Load() {
		s, pre.codes = pre.codes, nil // found before, and nothing changed since
	} else {
		s = ix.semanticCodes(q, f, max(k, SemanticRerank))
	}
	s = ix.rerankSemantic(q, s, pre)
	return s[:min(k, len(s))]
}

// semanticCodes is semantic's search by int8 code (by float32 vector with
// Options.Float32Vectors). Caller holds the read lock.
func (ix *Index) semanticCodes(q []float32, f *filter, k int) []scored {
	ix.maybeBuildSemantic()
	if ix.sem.lists != nil && ix.sem.lists.Dim() == len(q) && (f.allow == nil || f.allow.GetCardinality() >= uint64(min(semanticExactBelow, ix.semMin/2))) {
		return topScored(ix.semanticLists(q, f, k))
	}
	h := topk.New[uint32, float64](k)
	base := f.allow
	if base == nil {
		base = ix.live
	}
	qq := ann.NewQuery(q)
	it := base.Iterator()
	for it.HasNext() {
		d := it.Next()
		dc := &ix.docs[d]
		if dc.vec.Len() != len(q) || !ix.passes(f, d) {
			continue
		}
		var sc float64
		if dc.vecf != nil {
			sc = float64(vek32.Dot(dc.vecf, q))
		} else {
			sc = float64(qq.Score(dc.vec))
		}
		if !(sc < h.Floor()) {
			h.Push(d, sc)
		}
	}
	return topScored(h)
}

// setVec attaches a unit-length embedding to dc: as int8, and as float32
// too with Options.Float32Vectors. A nil v detaches.
func (ix *Index) setVec(dc *doc, v []float32) {
	dc.vec, dc.vecf = ann.Encode(v), nil
	if ix.floatVecs && v != nil {
		dc.vecf = v
	}
}

// docVec returns doc d's embedding: the float32 one when kept, else the
// int8 one decoded. The caller holds the lock.
func (ix *Index) docVec(d uint32) []float32 {
	if v := ix.docs[d].vecf; v != nil {
		return v
	}
	if ix.docs[d].vec.Len() == 0 {
		return nil
	}
	return ix.docs[d].vec.Decode(nil)
}
