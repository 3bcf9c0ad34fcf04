package search

import (
	"math"
	"math/bits"
	"slices"
	"sort"

	"github.com/aisle-dev/aisle/internal/topk"
)

// Relevance retrieval with dynamic pruning.
//
// The keyword score of a doc is (Σ over query words of the best BM25F score
// of the word's terms) · (matched words / words)^Coverage. The best `depth`
// docs under (score desc, doc id asc) are found without scoring every
// posting: MaxScore (Turtle & Flood 1995) splits the query words into
// essential and non-essential ones by their score upper bounds, so only docs
// containing an essential word become candidates, and block-max bounds
// (Ding & Suel 2011) over postBlock postings skip whole ranges of postings
// and reject candidates early. Docs are visited in increasing id, so a doc
// whose upper bound is not above the current threshold (the depth-th best
// score) can never enter the top: the result is exactly the exhaustive one.
//
// The matched set (Total, facets, the filter) is computed separately as a
// dense bitmap: setting one bit per posting is an order of magnitude cheaper
// than scoring it.

// boundSlack inflates upper bounds so that float rounding (float32 sums)
// can never make a bound smaller than the score it bounds.
const boundSlack = 1 + 1e-4

// bm25 holds the constants of one search's BM25F scoring.
type bm25 struct {
	k1  float64
	w   [numFields]float64
	b   [numFields]float64
	avg [numFields]float64
	n   float64 // docs in the index, dead ones included (as df counts them)
}

// bm25Params snapshots the scoring constants. Caller holds the read lock.
func (ix *Index) bm25Params() bm25 {
	p := bm25{k1: ix.cfg.K1, w: ix.cfg.FieldWeights, b: ix.cfg.FieldB, n: float64(len(ix.docs))}
	for fl := range p.avg {
		p.avg[fl] = 1
		if ix.nLive > 0 && ix.lenSum[fl] > 0 {
			p.avg[fl] = ix.lenSum[fl] / float64(ix.nLive)
		}
	}
	return p
}

// idf is BM25's inverse document frequency of a term in df docs.
func (p *bm25) idf(df int) float64 {
	d := float64(df)
	return math.Log(1 + (p.n-d+0.5)/(d+0.5))
}

// pseudoTF is BM25F's length-normalised, field-weighted term frequency of a
// term with frequencies tf in a doc with field lengths lens.
func (p *bm25) pseudoTF(tf []uint8, lens *[numFields]uint16) float64 {
	var t float64
	for fl := 0; fl < int(numFields); fl++ {
		if tf[fl] != 0 {
			t += p.w[fl] * float64(tf[fl]) / (1 - p.b[fl] + p.b[fl]*float64(lens[fl])/p.avg[fl])
		}
	}
	return t
}

// score is the BM25F score of one term match: weight w (of the query
// word's alternative), inverse document frequency idf, pseudo-frequency t.
func (p *bm25) score(w, idf, t float64) float32 {
	return float32(w * idf * t / (p.k1 + t))
}

// refScale returns κ such that the pseudo-frequency of any posting under p
// is at most κ times its pseudo-frequency under ref, or 0 when the field
// weights or b differ. Per field, with r = avg_ref/avg ≤ 1, the length
// norm 1-b+b·len/avg ≥ r·(1-b+b·len/avg_ref), so κ = max(1, max avg/avg_ref).
func (p *bm25) refScale(ref *bm25) float64 {
	if p.w != ref.w || p.b != ref.b {
		return 0
	}
	k := 1.0
	for f := range p.avg {
		k = max(k, p.avg[f]/ref.avg[f])
	}
	return k
}

// blockBound bounds score over every posting summarised by blk: the
// smaller of the per-field bound and, when kappa > 0, kappa·tmax.
func (p *bm25) blockBound(blk *postBlockMax, w, idf, kappa float64) float64 {
	var t float64
	for fl := 0; fl < int(numFields); fl++ {
		if blk.tf[fl] != 0 {
			t += p.w[fl] * float64(blk.tf[fl]) / (1 - p.b[fl] + p.b[fl]*float64(blk.minLen[fl])/p.avg[fl])
		}
	}
	if kappa > 0 {
		t = min(t, kappa*float64(blk.tmax)*boundSlack)
	}
	return w * idf * t / (p.k1 + t) * boundSlack
}

// cursor walks the postings of one term of the query.
type cursor struct {
	p   *postings
	pos int       // current posting
	blk int       // block of the last shallow seek
	bub []float64 // score upper bound per block
	ub  float64   // largest of bub
	w   float64
	idf float64
	g   int // query word (group)
}

const noDoc = math.MaxUint32

func (c *cursor) doc() uint32 {
	if c.pos < len(c.p.docs) {
		return c.p.docs[c.pos]
	}
	return noDoc
}

// shallow moves the block pointer to the block that may hold d and returns
// its bound and last doc; (0, noDoc) when the term has no doc >= d.
func (c *cursor) shallow(d uint32) (float64, uint32) {
	b := c.p.blks
	for c.blk < len(b) && b[c.blk].last < d {
		c.blk++
	}
	if c.blk == len(b) {
		return 0, noDoc
	}
	return c.bub[c.blk], b[c.blk].last
}

// seek moves to the first posting >= d.
func (c *cursor) seek(d uint32) {
	if c.doc() >= d {
		return
	}
	c.shallow(d)
	if c.blk == len(c.p.blks) {
		c.pos = len(c.p.docs)
		return
	}
	lo := max(c.pos, c.blk*postBlock)
	hi := min(len(c.p.docs), (c.blk+1)*postBlock)
	k, _ := slices.BinarySearch(c.p.docs[lo:hi], d)
	c.pos = lo + k
}

// matchSet fills s.match with the docs matching at least one query word
// (with a score above zero) and passing the filters, and returns how many.
func (ix *Index) matchSet(c *compiled, f *filter, bm *bm25, s *scratch) int {
	nw := (len(ix.docs) + 63) / 64
	s.match = resetWords(s.match, nw)
	m := s.match
	zeroW := false // some field weight is 0: a term only there does not match
	for _, w := range bm.w {
		zeroW = zeroW || w == 0
	}
	for _, g := range c.groups {
		for _, a := range g.alts {
			if a.w <= 0 {
				continue
			}
			p := &ix.post[a.term]
			if !zeroW {
				for _, d := range p.docs {
					m[d>>6] |= 1 << (d & 63)
				}
				continue
			}
			for k, d := range p.docs {
				if bm.pseudoTF(p.tf[k*int(numFields):(k+1)*int(numFields)], &ix.hot[d].lens) > 0 {
					m[d>>6] |= 1 << (d & 63)
				}
			}
		}
	}
	if f.allow != nil {
		s.tmp = resetWords(s.tmp, nw)
		if int(f.allow.DenseSize()) <= nw {
			f.allow.WriteDenseTo(s.tmp)
		}
		for i := range m {
			m[i] &= s.tmp[i]
		}
	}
	if f.excluded != nil {
		it := f.excluded.Iterator()
		for it.HasNext() {
			d := it.Next()
			if int(d>>6) < nw {
				m[d>>6] &^= 1 << (d & 63)
			}
		}
	}
	for _, d := range f.hidden {
		if int(d>>6) < nw {
			m[d>>6] &^= 1 << (d & 63)
		}
	}
	total := 0
	if !f.price {
		// dead docs out with one AND (the allow bitmap already excludes them)
		if f.allow == nil {
			s.tmp = resetWords(s.tmp, nw)
			if int(ix.live.DenseSize()) <= nw {
				ix.live.WriteDenseTo(s.tmp)
			}
			for i := range m {
				m[i] &= s.tmp[i]
			}
		}
		for _, w := range m {
			total += bits.OnesCount64(w)
		}
		return total
	}
	if mask := ix.pmasks.mask(ix, f); mask != nil {
		// a range asked before: its mask holds the same test per doc
		for i := range m {
			m[i] &= mask[i]
			total += bits.OnesCount64(m[i])
		}
		return total
	}
	for i, w := range m {
		for x := w; x != 0; x &= x - 1 {
			d := uint32(i<<6 + bits.TrailingZeros64(x))
			h := &ix.hot[d]
			if !h.live || (f.price && (!h.hasPrice || h.price < f.minPrice || h.price > f.maxPrice)) {
				w &^= 1 << (d & 63)
			}
		}
		m[i] = w
		total += bits.OnesCount64(w)
	}
	return total
}

func resetWords(w []uint64, n int) []uint64 {
	if cap(w) < n {
		return make([]uint64, n, n+n/4)
	}
	w = w[:n]
	clear(w)
	return w
}

// topPruned returns the best depth docs of s.match (see matchSet) by
// keyword score, best first, with the same scores and order as exhaustive
// scoring. covf[k] is the coverage factor of k matched words; it must be
// non-decreasing.
func (ix *Index) topPruned(c *compiled, bm *bm25, s *scratch, depth int, covf []float64) []scored {
	m := len(c.groups)
	match := s.match
	kappa := bm.refScale(&ix.ref)
	// cursors, per-block bounds and per-word bounds
	var curs []*cursor
	groupCurs := make([][]*cursor, m)
	gub := make([]float64, m)
	for g, grp := range c.groups {
		for _, a := range grp.alts {
			p := &ix.post[a.term]
			if a.w <= 0 || len(p.docs) == 0 {
				continue
			}
			cu := &cursor{p: p, w: a.w, idf: bm.idf(len(p.docs)), g: g}
			cu.bub = make([]float64, len(p.blks))
			for k := range p.blks {
				cu.bub[k] = bm.blockBound(&p.blks[k], a.w, cu.idf, kappa)
				cu.ub = max(cu.ub, cu.bub[k])
			}
			curs = append(curs, cu)
			groupCurs[g] = append(groupCurs[g], cu)
			gub[g] = max(gub[g], cu.ub)
		}
	}
	// words by bound, ascending; thr[e]: bound of a doc matching only words order[:e]
	order := make([]int, m)
	for g := range order {
		order[g] = g
	}
	sort.SliceStable(order, func(a, b int) bool { return gub[order[a]] < gub[order[b]] })
	prefix := make([]float64, m+1) // prefix[e] = Σ gub[order[:e]]
	for i, g := range order {
		prefix[i+1] = prefix[i] + gub[g]
	}
	thr := make([]float64, m+1)
	for e := 1; e <= m; e++ {
		for k := 1; k <= e; k++ {
			thr[e] = max(thr[e], (prefix[e]-prefix[e-k])*covf[k])
		}
	}
	ne := 0 // words order[:ne] are non-essential
	essential := func() []*cursor {
		var out []*cursor
		for _, g := range order[ne:] {
			out = append(out, groupCurs[g]...)
		}
		return out
	}
	ess := essential()

	h := topk.New[uint32, float64](depth)
	theta := 0.0 // a doc must score above theta to enter
	gs := make([]float32, m)
	gb := make([]float64, m)   // block bounds per word, for the range check
	nb := make([]float64, m+1) // nb[i] = Σ block bounds of order[:i] at the candidate
	var okUntil uint32         // docs up to here passed the range check
	started := false
	for {
		d := uint32(noDoc)
		for _, cu := range ess {
			d = min(d, cu.doc())
		}
		if d == noDoc {
			break
		}
		if !started || d > okUntil {
			// Block-max range check: bound every doc in [d, last] by the
			// blocks of all words; skip the range when it cannot beat theta.
			started = true
			last := uint32(noDoc)
			for g := range gb {
				gb[g] = 0
				for _, cu := range groupCurs[g] {
					b, l := cu.shallow(d)
					gb[g] = max(gb[g], b)
					last = min(last, l)
				}
			}
			if coverageBound(gb, covf) <= theta {
				if last == noDoc {
					break
				}
				for _, cu := range ess {
					cu.seek(last + 1)
				}
				continue
			}
			okUntil = last
		}
		if match[d>>6]&(1<<(d&63)) == 0 {
			for _, cu := range ess {
				if cu.doc() == d {
					cu.pos++
				}
			}
			continue
		}
		// essential words: exact scores
		lens := &ix.hot[d].lens
		clear(gs)
		cover := 0
		var sum float64
		for _, cu := range ess {
			if cu.doc() != d {
				continue
			}
			k := cu.pos
			cu.pos++
			sc := bm.score(cu.w, cu.idf, bm.pseudoTF(cu.p.tf[k*int(numFields):(k+1)*int(numFields)], lens))
			if sc <= 0 {
				continue
			}
			if gs[cu.g] == 0 {
				cover++
			}
			if sc > gs[cu.g] {
				sum += float64(sc - gs[cu.g])
				gs[cu.g] = sc
			}
		}
		// non-essential words, largest bound first, while the doc can still
		// beat theta with the block bounds of the words left
		rejected := false
		if ne > 0 {
			for i, g := range order[:ne] {
				b := 0.0
				for _, cu := range groupCurs[g] {
					bb, _ := cu.shallow(d)
					b = max(b, bb)
				}
				nb[i+1] = nb[i] + b
			}
			for i := ne - 1; i >= 0; i-- {
				if (sum*boundSlack+nb[i+1])*covf[cover+i+1] <= theta {
					rejected = true
					break
				}
				g := order[i]
				for _, cu := range groupCurs[g] {
					cu.seek(d)
					if cu.doc() != d {
						continue
					}
					k := cu.pos
					sc := bm.score(cu.w, cu.idf, bm.pseudoTF(cu.p.tf[k*int(numFields):(k+1)*int(numFields)], lens))
					if sc <= 0 {
						continue
					}
					if gs[g] == 0 {
						cover++
					}
					if sc > gs[g] {
						sum += float64(sc - gs[g])
						gs[g] = sc
					}
				}
			}
		}
		if rejected || cover == 0 {
			continue
		}
		var total float32 // in query-word order, as exhaustive scoring adds
		for _, v := range gs {
			total += v
		}
		// Docs come in increasing id order, so an equal score never
		// displaces a kept doc, as in exhaustive scoring.
		if !h.Push(d, float64(total)*covf[cover]) || !h.Full() {
			continue
		}
		if worst, _ := h.Min(); worst.Score > theta {
			theta = worst.Score
			moved := false
			for ne < m && thr[ne+1] <= theta {
				ne++
				moved = true
			}
			if moved {
				if ne == m {
					break
				}
				ess = essential()
			}
		}
	}
	return topScored(h)
}

// coverageBound bounds the score of a doc whose word scores are bounded by
// b: the best over k of (sum of the k largest bounds) · covf[k]. It sorts b.
func coverageBound(b []float64, covf []float64) float64 {
	if len(b) == 1 {
		return b[0] * covf[1]
	}
	slices.SortFunc(b, func(x, y float64) int {
		switch {
		case x > y:
			return -1
		case x < y:
			return 1
		}
		return 0
	})
	best, sum := 0.0, 0.0
	for k, v := range b {
		if v == 0 {
			break
		}
		sum += v
		best = max(best, sum*covf[k+1])
	}
	return best
}

// sortCandidates serves the price and age orders: it returns, with their
// keyword scores (no rescoring), the docs of s.match that can be among the
// first need in that order (ties broken by score, then doc id, as sortBy
// does): every doc whose sort key is better than the need-th best key and
// every doc tied with it. Only those are scored, with one merge of each
// term's postings against the candidate list. The caller sorts them.
func (ix *Index) sortCandidates(c *compiled, bm *bm25, s *scratch, order Sort, need int) []scored {
	// the sort key, smaller first; float rounding of the age keeps the order
	// (never inverts it), so ties it creates only add candidates
	key := func(d uint32) (int, float64) {
		h := &ix.hot[d]
		switch order {
		case SortNewest:
			return 0, -float64(h.created)
		case SortPriceDesc:
			if !h.hasPrice {
				return 1, 0
			}
			return 0, -h.price
		default:
			if !h.hasPrice {
				return 1, 0
			}
			return 0, h.price
		}
	}
	type kv struct {
		class int
		v     float64
	}
	less := func(a, b kv) bool { return a.class < b.class || (a.class == b.class && a.v < b.v) }
	// the need smallest keys in a max-heap: its root is the need-th best key
	var h []kv
	down := func(i int) {
		for {
			c := 2*i + 1
			if c >= len(h) {
				return
			}
			if c+1 < len(h) && less(h[c], h[c+1]) {
				c++
			}
			if !less(h[i], h[c]) {
				return
			}
			h[i], h[c] = h[c], h[i]
			i = c
		}
	}
	eachMatch := func(fn func(d uint32)) {
		for i, w := range s.match {
			for x := w; x != 0; x &= x - 1 {
				fn(uint32(i<<6 + bits.TrailingZeros64(x)))
			}
		}
	}
	eachMatch(func(d uint32) {
		cl, v := key(d)
		k := kv{cl, v}
		if len(h) < need {
			h = append(h, k)
			for i := len(h) - 1; i > 0; {
				up := (i - 1) / 2
				if !less(h[up], h[i]) {
					break
				}
				h[i], h[up] = h[up], h[i]
				i = up
			}
		} else if less(k, h[0]) {
			h[0] = k
			down(0)
		}
	})
	if len(h) == 0 {
		return nil
	}
	bound := h[0]
	var cands []uint32 // increasing doc ids
	eachMatch(func(d uint32) {
		cl, v := key(d)
		if !less(bound, kv{cl, v}) {
			cands = append(cands, d)
		}
	})
	// scores: per candidate and query word, the best alternative
	m := len(c.groups)
	gs := make([]float32, len(cands)*m)
	for g, grp := range c.groups {
		for _, a := range grp.alts {
			p := &ix.post[a.term]
			if a.w <= 0 || len(p.docs) == 0 {
				continue
			}
			idf := bm.idf(len(p.docs))
			k := 0
			for j, d := range cands {
				if k < len(p.docs) && p.docs[k] < d {
					k += sort.Search(len(p.docs)-k, func(i int) bool { return p.docs[k+i] >= d })
				}
				if k == len(p.docs) {
					break
				}
				if p.docs[k] != d {
					continue
				}
				sc := bm.score(a.w, idf, bm.pseudoTF(p.tf[k*int(numFields):(k+1)*int(numFields)], &ix.hot[d].lens))
				if sc > gs[j*m+g] {
					gs[j*m+g] = sc
				}
			}
		}
	}
	covf := ix.coverageFactors(m)
	out := make([]scored, len(cands))
	for j, d := range cands {
		var sum float32
		cover := 0
		for _, v := range gs[j*m : (j+1)*m] {
			if v > 0 {
				sum += v
				cover++
			}
		}
		out[j] = scored{doc: d, score: float64(sum) * covf[cover]}
	}
	return out
}
