package search

import (
	"math"
	"slices"
)

// candFacts is what featurize gathers about one candidate; the features
// of featureTable are computed from it.
type candFacts struct {
	field           [numFields]float64 // per-field BM25
	bm25f           float64
	keyword         float64 // the keyword mode's score
	kwRank, semRank int     // rank in the keyword and semantic lists, -1 when absent
	matched         int     // query words matched in any field
	exactMatched    int     // ... as typed or by a synonym
	title           titleFacts
	cos             float32 // cosine of the query and item vectors
	popularity      float32
	affinity        float32
	clicks          float32
	hasPrice        bool
	price           float64 // at least 0
	logPrice        float32
	titleLen        int // analysed words
	descLen         int
	prf             prfFacts
	imageSim        float32 // see imageFeatures
	hasImageSim     bool
}

// setFacts is what the features relative to the candidate set use.
type setFacts struct {
	words       int  // analysed words of the query
	semantic    bool // the query has a vector
	maxBM25F    float64
	maxKeyword  float64
	maxCos      float32
	medianPrice float64
}

// titleFacts are the title features of one candidate (see titleFacts).
type titleFacts struct {
	coverage, all, allExact, proximity, phrase float32
}

// prfFacts are the pseudo-relevance-feedback features of one candidate.
type prfFacts struct {
	category, brand, title, semantic float32
}

// candidateFacts gathers what the features of each candidate are computed
// from. Caller holds the read lock.
func (ix *Index) candidateFacts(c *compiled, cands []scored, kwRank, semRank []int, qvec []float32, req *Request, rs *rankState) []candFacts {
	n := float64(len(ix.docs))
	var avg [numFields]float64
	for fl := range avg {
		avg[fl] = 1
		if ix.nLive > 0 && ix.lenSum[fl] > 0 {
			avg[fl] = ix.lenSum[fl] / float64(ix.nLive)
		}
	}
	k1, w, b := ix.cfg.K1, ix.cfg.FieldWeights, ix.cfg.FieldB
	idf := make([][]float64, len(c.groups))
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
	facts := make([]candFacts, len(cands))
	for i, s := range cands {
		f := &facts[i]
		d := s.doc
		dc := &ix.docs[d]
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
			for fl := range f.field {
				f.field[fl] += best[fl]
			}
			f.bm25f += bestF
			if bestF > 0 {
				f.matched++
				if exact {
					f.exactMatched++
				}
			}
		}
		f.keyword = s.score
		f.kwRank, f.semRank = kwRank[i], semRank[i]
		f.title = titleFeatures(c, dc.title)
		if len(qvec) > 0 && dc.vec.Len() == len(qvec) {
			f.cos = dc.vec.Dot(qvec)
		}
		if rs.signals.Popularity != nil {
			f.popularity = clamp01(rs.signals.Popularity(dc.item.ID))
		}
		if dc.hasPrice {
			f.hasPrice = true
			f.price = max(dc.price, 0)
			f.logPrice = float32(math.Log1p(f.price))
		}
		if req.Boost != nil {
			f.affinity = clamp01(req.Boost(dc.item.ID))
		}
		if clicks != nil {
			f.clicks = clamp01(clicks(dc.item.ID))
		}
		f.titleLen = int(dc.lens[FieldTitle])
		f.descLen = int(dc.lens[FieldDescription])
	}
	ix.prfFeatures(cands, kwRank, facts)
	ix.imageFeatures(cands, req, rs, facts)
	return facts
}

// MaxImageAnchors is how many of Request.Recent, and how many of the items
// shoppers acted on most after the query, anchor the image_sim feature.
const MaxImageAnchors = 5

// imageFeatures sets the image facts: how much closer than usual each
// candidate looks to the closest of the items the shopper engaged with in
// the session (Request.Recent) and the items shoppers acted on after the
// same query (Signals.Clicks), itself excluded. Without image vectors, or
// without an anchor that has one, every candidate keeps 0 and no presence
// flag. Caller holds the read lock.
func (ix *Index) imageFeatures(cands []scored, req *Request, rs *rankState, facts []candFacts) {
	if rs.images == nil || len(cands) == 0 {
		return
	}
	anchors := slices.Clone(req.Recent[:min(len(req.Recent), MaxImageAnchors)])
	if rs.signals.Clicks != nil {
		for _, id := range rs.signals.Clicks.top(req.Query, MaxImageAnchors) {
			if !slices.Contains(anchors, id) {
				anchors = append(anchors, id)
			}
		}
	}
	if len(anchors) == 0 {
		return
	}
	ids := make([]string, len(cands))
	for i, s := range cands {
		ids[i] = ix.docs[s.doc].item.ID
	}
	sim, ok := rs.images.ImageCloseness(anchors, ids)
	if len(sim) != len(ids) || len(ok) != len(ids) {
		return // no anchor has an image vector
	}
	for i := range facts {
		if ok[i] {
			facts[i].imageSim = clamp01(float64(sim[i]))
			facts[i].hasImageSim = true
		}
	}
}

func dot(a, b []float32) float32 {
	var s float32
	for k, v := range a {
		s += v * b[k]
	}
	return s
}

// prfFeatures sets the pseudo-relevance-feedback facts: how much a
// candidate looks like the best keyword results (their categories, brands,
// title words and vectors), each weighted by 1/log2(rank+2). A candidate's
// own weight is left out of its own features. Caller holds the read lock.
func (ix *Index) prfFeatures(cands []scored, kwRank []int, facts []candFacts) {
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
		if dc.vec.Len() > 0 {
			if centroid == nil {
				centroid = make([]float32, dc.vec.Len())
			}
			if dc.vec.Len() == len(centroid) {
				for k, v := range dc.vec.Decode(nil) {
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
		p := &facts[i].prf
		p.category = float32(catSum / rest)
		p.brand = float32(brandSum / rest)
		if terms := uniqTerms(dc.title); len(terms) > 0 {
			var sh float64
			for _, t := range terms {
				w := termW[t]
				if own > 0 {
					w -= own // the candidate's own title holds every one of its words
				}
				sh += w / rest
			}
			p.title = float32(sh / float64(len(terms)))
		}
		if centroid != nil && dc.vec.Len() == len(centroid) {
			p.semantic = dc.vec.Dot(centroid)
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

// titleFeatures returns the title coverage, all-words, proximity and
// phrase facts of one candidate.
func titleFeatures(c *compiled, title []uint32) titleFacts {
	var x titleFacts
	m := len(c.groups)
	if m == 0 {
		return x
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
	x.coverage = float32(found) / float32(m)
	if found == m {
		x.all = 1
	}
	if foundExact == m {
		x.allExact = 1
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
		x.proximity = float32(pairs) / float32(m-1)
	}
	for _, ph := range c.phrases {
		if titleHasSequence(title, ph, inGroup) {
			x.phrase = 1
			break
		}
	}
	return x
}
