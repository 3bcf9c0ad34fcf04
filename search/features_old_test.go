package search

// The feature extraction as it was before featureTable, kept for one
// commit to prove the table computes the same vectors
// (TestFeatureTableMatchesOldExtraction).

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
)

// The features of a candidate, in vector order. Every feature is generic:
// no item id, query text or catalogue-specific value is a feature, so a
// model trained on one catalogue can score another.
var oldFeatureNames = []string{
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

// Feature vector positions used below.
const (
	oldFBM25Title = iota
	oldFBM25Brand
	oldFBM25Categories
	oldFBM25Attributes
	oldFBM25Description
	oldFBM25F
	oldFBM25FRel
	oldFKeywordRel
	oldFKeywordRRank
	oldFCoverage
	oldFExactCoverage
	oldFTitleCoverage
	oldFAllInTitle
	oldFAllExactInTitle
	oldFTitleProximity
	oldFPhraseInTitle
	oldFSemanticCos
	oldFSemanticCosRel
	oldFSemanticRRank
	oldFQueryWords
	oldFPopularity
	oldFHasPrice
	oldFLogPrice
	oldFPriceRel
	oldFAffinity
	oldFClicks
	oldFLogTitleLen
	oldFLogDescLen
	oldFPRFCategory
	oldFPRFBrand
	oldFPRFTitle
	oldFPRFSemantic
	oldNumFeatures
)

// featurize computes the feature vector of every candidate. Caller holds
// the read lock.
func (ix *Index) oldFeaturize(c *compiled, cands []scored, kwRank, semRank []int, qvec []float32, req *Request, rs *rankState) [][]float32 {
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
	flat := make([]float32, len(cands)*oldNumFeatures)
	var prices []float64
	for i, s := range cands {
		x := flat[i*oldNumFeatures : (i+1)*oldNumFeatures : (i+1)*oldNumFeatures]
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
			x[oldFBM25Title+fl] = float32(field[fl])
		}
		x[oldFBM25F] = float32(bm25f)
		x[oldFKeywordRel] = float32(s.score) // normalised below
		if r := kwRank[i]; r >= 0 {
			x[oldFKeywordRRank] = 1 / float32(1+r)
		}
		if m > 0 {
			x[oldFCoverage] = float32(matched) / float32(m)
			x[oldFExactCoverage] = float32(exactMatched) / float32(m)
		}
		ix.oldTitleFeatures(c, dc.title, x)
		if len(qvec) > 0 && len(dc.vec) == len(qvec) {
			var dot float32
			for k, v := range dc.vec {
				dot += v * qvec[k]
			}
			x[oldFSemanticCos] = dot
		}
		if r := semRank[i]; r >= 0 {
			x[oldFSemanticRRank] = 1 / float32(1+r)
		}
		x[oldFQueryWords] = float32(m)
		if rs.signals.Popularity != nil {
			x[oldFPopularity] = clamp01(rs.signals.Popularity(dc.item.ID))
		}
		if dc.hasPrice {
			x[oldFHasPrice] = 1
			x[oldFLogPrice] = float32(math.Log1p(max(dc.price, 0)))
			prices = append(prices, max(dc.price, 0))
		}
		if req.Boost != nil {
			x[oldFAffinity] = clamp01(req.Boost(dc.item.ID))
		}
		if clicks != nil {
			x[oldFClicks] = clamp01(clicks(dc.item.ID))
		}
		x[oldFLogTitleLen] = float32(math.Log1p(float64(dc.lens[FieldTitle])))
		x[oldFLogDescLen] = float32(math.Log1p(float64(dc.lens[FieldDescription])))
	}
	ix.oldPrfFeatures(cands, kwRank, out)
	// features relative to the candidate set
	var maxF, maxKW float64
	maxCos := float32(math.Inf(-1))
	for _, x := range out {
		maxF = max(maxF, float64(x[oldFBM25F]))
		maxKW = max(maxKW, float64(x[oldFKeywordRel]))
		maxCos = max(maxCos, x[oldFSemanticCos])
	}
	var median float64
	if len(prices) > 0 {
		sort.Float64s(prices)
		median = prices[len(prices)/2]
	}
	for _, x := range out {
		if maxF > 0 {
			x[oldFBM25FRel] = float32(float64(x[oldFBM25F]) / maxF)
		}
		if maxKW > 0 {
			x[oldFKeywordRel] = float32(float64(x[oldFKeywordRel]) / maxKW)
		} else {
			x[oldFKeywordRel] = 0
		}
		if len(qvec) > 0 {
			x[oldFSemanticCosRel] = x[oldFSemanticCos] - maxCos
		}
		if x[oldFHasPrice] == 1 {
			x[oldFPriceRel] = float32(math.Log((1 + math.Expm1(float64(x[oldFLogPrice]))) / (1 + median)))
		}
	}
	return out
}

// prfFeatures sets the pseudo-relevance-feedback features: how much a
// candidate looks like the best keyword results (their categories, brands,
// title words and vectors), each weighted by 1/log2(rank+2). A candidate's
// own weight is left out of its own features. Caller holds the read lock.
func (ix *Index) oldPrfFeatures(cands []scored, kwRank []int, out [][]float32) {
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
		x[oldFPRFCategory] = float32(catSum / rest)
		x[oldFPRFBrand] = float32(brandSum / rest)
		if terms := uniqTerms(dc.title); len(terms) > 0 {
			var sh float64
			for _, t := range terms {
				w := termW[t]
				if own > 0 {
					w -= own // the candidate's own title holds every one of its words
				}
				sh += w / rest
			}
			x[oldFPRFTitle] = float32(sh / float64(len(terms)))
		}
		if centroid != nil && len(dc.vec) == len(centroid) {
			var dot float32
			for k, v := range dc.vec {
				dot += v * centroid[k]
			}
			x[oldFPRFSemantic] = dot
		}
	}
}

// titleFeatures sets the title coverage, all-words, proximity and phrase
// features of one candidate.
func (ix *Index) oldTitleFeatures(c *compiled, title []uint32, x []float32) {
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
	x[oldFTitleCoverage] = float32(found) / float32(m)
	if found == m {
		x[oldFAllInTitle] = 1
	}
	if foundExact == m {
		x[oldFAllExactInTitle] = 1
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
		x[oldFTitleProximity] = float32(pairs) / float32(m-1)
	}
	for _, ph := range c.phrases {
		if titleHasSequence(title, ph, inGroup) {
			x[oldFPhraseInTitle] = 1
			break
		}
	}
}

func TestFeatureTableMatchesOldExtraction(t *testing.T) {
	if !slices.Equal(featureNames, oldFeatureNames) || numFeatures != oldNumFeatures {
		t.Fatalf("names %v, before %v", featureNames, oldFeatureNames)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	items := append(randomCatalog(rng, 400), fixture()...)
	ix := newTestIndex(t, DefaultConfig(), &hashEmbedder{dim: 32}, items)
	clicks := NewClicks()
	t0 := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 50; i++ {
		clicks.Record(events.Event{Type: events.Search, SessionID: fmt.Sprint(i), Query: "red shoe", Timestamp: t0})
		clicks.Record(events.Event{Type: events.Click, SessionID: fmt.Sprint(i), ItemID: items[rng.IntN(len(items))].ID, Timestamp: t0.Add(time.Minute)})
	}
	rs := rankState{signals: Signals{Clicks: clicks, Popularity: func(id string) float64 { return float64(len(id)%7) / 5 }}}
	queries := []string{"red shoe", "shoe", `"blue lamp" desk`, "acme cable phone", "markr", "running shoes", "paper ink bag case", "zzz", ""}
	compared := 0
	for _, q := range queries {
		for _, withVec := range []bool{false, true} {
			req := Request{Query: q, Boost: func(id string) float64 { return float64(len(id)%3) - 0.5 }}
			p := parseQuery(q)
			var qvec []float32
			if withVec {
				v, err := ix.queryVector(context.Background(), p)
				if err != nil {
					t.Fatal(err)
				}
				qvec = v
			}
			ix.mu.RLock()
			c := ix.compile(p)
			// random candidates with random keyword and semantic ranks
			n := 1 + rng.IntN(60)
			cands := make([]scored, n)
			kwRank, semRank := make([]int, n), make([]int, n)
			for i := range cands {
				cands[i] = scored{doc: uint32(rng.IntN(len(ix.docs))), score: rng.Float64() * 10}
				kwRank[i], semRank[i] = rng.IntN(n+5)-5, rng.IntN(n+5)-5
				kwRank[i], semRank[i] = max(kwRank[i], -1), max(semRank[i], -1)
			}
			got := ix.featurize(&c, cands, kwRank, semRank, qvec, &req, &rs)
			want := ix.oldFeaturize(&c, cands, kwRank, semRank, qvec, &req, &rs)
			ix.mu.RUnlock()
			for i := range want {
				for k := range want[i] {
					if math.Float32bits(got[i][k]) != math.Float32bits(want[i][k]) {
						t.Fatalf("%q cand %d: %s = %v, before %v", q, i, featureNames[k], got[i][k], want[i][k])
					}
					compared++
				}
			}
		}
	}
	t.Logf("%d feature values identical", compared)
}
