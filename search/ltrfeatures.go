package search

import (
	"math"
	"slices"
	"sort"
)

// featureDef is one feature of the learned-ranking vector. featureTable is
// the only definition of the features: a feature's position in the vector
// is its position in the table, FeatureNames and the model's schema check
// come from its names, docs/ltr-features.md is generated from its docs
// (TestFeatureDoc), and featurize computes every value through value.
type featureDef struct {
	name string
	doc  string
	// value computes the feature of one candidate from what featurize
	// gathered about it and about the whole candidate set.
	value func(c *candFacts, s *setFacts) float32
}

// featureTable lists the features of a candidate, in vector order. Every
// feature is generic: no item id, query text or catalogue-specific value is
// a feature, so a model trained on one catalogue can score another.
var featureTable = [...]featureDef{
	{"bm25_title", "BM25 of the query words in the title (per-field BM25, summed over words)",
		func(c *candFacts, _ *setFacts) float32 { return float32(c.field[FieldTitle]) }},
	{"bm25_brand", "BM25 of the query words in the brand",
		func(c *candFacts, _ *setFacts) float32 { return float32(c.field[FieldBrand]) }},
	{"bm25_categories", "BM25 of the query words in the category paths",
		func(c *candFacts, _ *setFacts) float32 { return float32(c.field[FieldCategories]) }},
	{"bm25_attributes", "BM25 of the query words in the attribute values",
		func(c *candFacts, _ *setFacts) float32 { return float32(c.field[FieldAttributes]) }},
	{"bm25_description", "BM25 of the query words in the description",
		func(c *candFacts, _ *setFacts) float32 { return float32(c.field[FieldDescription]) }},
	{"bm25f", "BM25F over all fields with the configured weights",
		func(c *candFacts, _ *setFacts) float32 { return float32(c.bm25f) }},
	{"bm25f_rel", "bm25f / the largest bm25f among the candidates",
		func(c *candFacts, s *setFacts) float32 {
			if s.maxBM25F > 0 {
				return float32(float64(float32(c.bm25f)) / s.maxBM25F)
			}
			return 0
		}},
	{LTRBaseFeature, "the keyword mode's final score / the best candidate's",
		func(c *candFacts, s *setFacts) float32 {
			if s.maxKeyword > 0 {
				return float32(float64(float32(c.keyword)) / s.maxKeyword)
			}
			return 0
		}},
	{"keyword_rrank", "1/(1+keyword rank), 0 when not in the keyword list",
		func(c *candFacts, _ *setFacts) float32 { return rrank(c.kwRank) }},
	{"coverage", "share of query words matched in any field",
		func(c *candFacts, s *setFacts) float32 { return share(c.matched, s.words) }},
	{"exact_coverage", "share matched as typed or by a synonym (not a typo or completion)",
		func(c *candFacts, s *setFacts) float32 { return share(c.exactMatched, s.words) }},
	{"title_coverage", "share of query words in the title",
		func(c *candFacts, _ *setFacts) float32 { return c.title.coverage }},
	{"all_in_title", "every query word is in the title (1/0)",
		func(c *candFacts, _ *setFacts) float32 { return c.title.all }},
	{"all_exact_in_title", "every query word is in the title as typed (1/0)",
		func(c *candFacts, _ *setFacts) float32 { return c.title.allExact }},
	{"title_proximity", "share of adjacent query-word pairs adjacent in the title",
		func(c *candFacts, _ *setFacts) float32 { return c.title.proximity }},
	{"phrase_in_title", "a quoted phrase of the query is in the title (1/0)",
		func(c *candFacts, _ *setFacts) float32 { return c.title.phrase }},
	{"semantic_cos", "cosine of the query and item vectors (0 without an embedder)",
		func(c *candFacts, _ *setFacts) float32 { return c.cos }},
	{"semantic_cos_rel", "semantic_cos minus the largest among the candidates",
		func(c *candFacts, s *setFacts) float32 {
			if s.semantic {
				return c.cos - s.maxCos
			}
			return 0
		}},
	{"semantic_rrank", "1/(1+semantic rank), 0 when not in the semantic list",
		func(c *candFacts, _ *setFacts) float32 { return rrank(c.semRank) }},
	{"query_words", "analysed words of the query",
		func(_ *candFacts, s *setFacts) float32 { return float32(s.words) }},
	{"popularity", "Signals.Popularity, clamped to [0,1]",
		func(c *candFacts, _ *setFacts) float32 { return c.popularity }},
	{"has_price", "the item has a price (1/0)",
		func(c *candFacts, _ *setFacts) float32 { return bit(c.hasPrice) }},
	{"log_price", "log(1+price)",
		func(c *candFacts, _ *setFacts) float32 { return c.logPrice }},
	{"price_rel", "log((1+price)/(1+median candidate price)), 0 without a price",
		func(c *candFacts, s *setFacts) float32 {
			if !c.hasPrice {
				return 0
			}
			return float32(math.Log((1 + math.Expm1(float64(c.logPrice))) / (1 + s.medianPrice)))
		}},
	{"affinity", "Request.Boost: the shopper's affinity, clamped to [0,1]",
		func(c *candFacts, _ *setFacts) float32 { return c.affinity }},
	{"clicks", "click-through of this query and item (Signals.Clicks)",
		func(c *candFacts, _ *setFacts) float32 { return c.clicks }},
	{"log_title_len", "log(1+analysed title words)",
		func(c *candFacts, _ *setFacts) float32 { return float32(math.Log1p(float64(c.titleLen))) }},
	{"log_desc_len", "log(1+analysed description words)",
		func(c *candFacts, _ *setFacts) float32 { return float32(math.Log1p(float64(c.descLen))) }},
	{"prf_category", "category overlap with the top keyword results (rank-weighted, itself excluded)",
		func(c *candFacts, _ *setFacts) float32 { return c.prf.category }},
	{"prf_brand", "share of the top keyword results of the same brand (rank-weighted, itself excluded)",
		func(c *candFacts, _ *setFacts) float32 { return c.prf.brand }},
	{"prf_title", "mean share of the top keyword results whose titles hold each of its title words",
		func(c *candFacts, _ *setFacts) float32 { return c.prf.title }},
	{"prf_semantic", "cosine to the mean vector of the top keyword results (0 without an embedder)",
		func(c *candFacts, _ *setFacts) float32 { return c.prf.semantic }},
}

// numFeatures is the length of a feature vector.
const numFeatures = len(featureTable)

// featureNames are the names of featureTable, in vector order.
var featureNames = func() []string {
	names := make([]string, len(featureTable))
	for i, f := range featureTable {
		names[i] = f.name
	}
	return names
}()

// featureIndex returns the position of the named feature; it panics on a
// name featureTable does not hold (a programming error caught at start).
func featureIndex(name string) int {
	i := slices.Index(featureNames, name)
	if i < 0 {
		panic("search: no feature " + name)
	}
	return i
}

// fAffinity is the position of the affinity feature, which rerank reads.
var fAffinity = featureIndex("affinity")

// LTRBaseFeature is the feature a LambdaMART model should start from
// (ltr.Params.BaseFeature): the keyword score relative to the best
// candidate's, so the trees learn corrections to keyword ranking.
const LTRBaseFeature = "keyword_score_rel"

// FeatureNames returns the names of the features a Ranker scores, in
// vector order (docs/ltr-features.md describes them). Models store it and
// an index refuses a model trained on another list.
func FeatureNames() []string { return slices.Clone(featureNames) }

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

func rrank(r int) float32 {
	if r < 0 {
		return 0
	}
	return 1 / float32(1+r)
}

func share(n, of int) float32 {
	if of <= 0 {
		return 0
	}
	return float32(n) / float32(of)
}

func bit(b bool) float32 {
	if b {
		return 1
	}
	return 0
}

// prfDepth is how many of the best keyword results describe "what the
// query is about" for the prf_* features (pseudo-relevance feedback).
const prfDepth = 10

// featurize computes the feature vector of every candidate. Caller holds
// the read lock.
func (ix *Index) featurize(c *compiled, cands []scored, kwRank, semRank []int, qvec []float32, req *Request, rs *rankState) [][]float32 {
	facts := ix.candidateFacts(c, cands, kwRank, semRank, qvec, req, rs)
	set := setFacts{words: len(c.groups), semantic: len(qvec) > 0, maxCos: float32(math.Inf(-1))}
	var prices []float64
	for i := range facts {
		f := &facts[i]
		set.maxBM25F = max(set.maxBM25F, float64(float32(f.bm25f)))
		set.maxKeyword = max(set.maxKeyword, float64(float32(f.keyword)))
		set.maxCos = max(set.maxCos, f.cos)
		if f.hasPrice {
			prices = append(prices, f.price)
		}
	}
	if len(prices) > 0 {
		sort.Float64s(prices)
		set.medianPrice = prices[len(prices)/2]
	}
	out := make([][]float32, len(cands))
	flat := make([]float32, len(cands)*numFeatures)
	for i := range facts {
		x := flat[i*numFeatures : (i+1)*numFeatures : (i+1)*numFeatures]
		for k := range featureTable {
			x[k] = featureTable[k].value(&facts[i], &set)
		}
		out[i] = x
	}
	return out
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
		if len(qvec) > 0 && len(dc.vec) == len(qvec) {
			f.cos = dot(dc.vec, qvec)
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
	return facts
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
		if centroid != nil && len(dc.vec) == len(centroid) {
			p.semantic = dot(dc.vec, centroid)
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
