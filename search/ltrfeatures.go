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
	{"bm25_title", "BM25 of the query words in the title (per-field BM25, summed over words)", func(c *candFacts, _ *setFacts) float32 { return float32(c.field[FieldTitle]) }},
	{"bm25_brand", "BM25 of the query words in the brand", func(c *candFacts, _ *setFacts) float32 { return float32(c.field[FieldBrand]) }},
	{"bm25_categories", "BM25 of the query words in the category paths", func(c *candFacts, _ *setFacts) float32 { return float32(c.field[FieldCategories]) }},
	{"bm25_attributes", "BM25 of the query words in the attribute values", func(c *candFacts, _ *setFacts) float32 { return float32(c.field[FieldAttributes]) }},
	{"bm25_description", "BM25 of the query words in the description", func(c *candFacts, _ *setFacts) float32 { return float32(c.field[FieldDescription]) }},
	{"bm25f", "BM25F over all fields with the configured weights", func(c *candFacts, _ *setFacts) float32 { return float32(c.bm25f) }},
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
	{"keyword_rrank", "1/(1+keyword rank), 0 when not in the keyword list", func(c *candFacts, _ *setFacts) float32 { return rrank(c.kwRank) }},
	{"coverage", "share of query words matched in any field", func(c *candFacts, s *setFacts) float32 { return share(c.matched, s.words) }},
	{"exact_coverage", "share matched as typed or by a synonym (not a typo or completion)", func(c *candFacts, s *setFacts) float32 { return share(c.exactMatched, s.words) }},
	{"title_coverage", "share of query words in the title", func(c *candFacts, _ *setFacts) float32 { return c.title.coverage }},
	{"all_in_title", "every query word is in the title (1/0)", func(c *candFacts, _ *setFacts) float32 { return c.title.all }},
	{"all_exact_in_title", "every query word is in the title as typed (1/0)", func(c *candFacts, _ *setFacts) float32 { return c.title.allExact }},
	{"title_proximity", "share of adjacent query-word pairs adjacent in the title", func(c *candFacts, _ *setFacts) float32 { return c.title.proximity }},
	{"phrase_in_title", "a quoted phrase of the query is in the title (1/0)", func(c *candFacts, _ *setFacts) float32 { return c.title.phrase }},
	{"semantic_cos", "cosine of the query and item vectors (0 without an embedder)", func(c *candFacts, _ *setFacts) float32 { return c.cos }},
	{"semantic_cos_rel", "semantic_cos minus the largest among the candidates",
		func(c *candFacts, s *setFacts) float32 {
			if s.semantic {
				return c.cos - s.maxCos
			}
			return 0
		}},
	{"semantic_rrank", "1/(1+semantic rank), 0 when not in the semantic list", func(c *candFacts, _ *setFacts) float32 { return rrank(c.semRank) }},
	{"query_words", "analysed words of the query", func(_ *candFacts, s *setFacts) float32 { return float32(s.words) }},
	{"popularity", "Signals.Popularity, clamped to [0,1]", func(c *candFacts, _ *setFacts) float32 { return c.popularity }},
	{"has_price", "the item has a price (1/0)", func(c *candFacts, _ *setFacts) float32 { return bit(c.hasPrice) }},
	{"log_price", "log(1+price)", func(c *candFacts, _ *setFacts) float32 { return c.logPrice }},
	{"price_rel", "log((1+price)/(1+median candidate price)), 0 without a price",
		func(c *candFacts, s *setFacts) float32 {
			if !c.hasPrice {
				return 0
			}
			return float32(math.Log((1 + math.Expm1(float64(c.logPrice))) / (1 + s.medianPrice)))
		}},
	{"affinity", "Request.Boost: the shopper's affinity, clamped to [0,1]", func(c *candFacts, _ *setFacts) float32 { return c.affinity }},
	{"clicks", "click-through of this query and item (Signals.Clicks)", func(c *candFacts, _ *setFacts) float32 { return c.clicks }},
	{"log_title_len", "log(1+analysed title words)", func(c *candFacts, _ *setFacts) float32 { return float32(math.Log1p(float64(c.titleLen))) }},
	{"log_desc_len", "log(1+analysed description words)", func(c *candFacts, _ *setFacts) float32 { return float32(math.Log1p(float64(c.descLen))) }},
	{"prf_category", "category overlap with the top keyword results (rank-weighted, itself excluded)", func(c *candFacts, _ *setFacts) float32 { return c.prf.category }},
	{"prf_brand", "share of the top keyword results of the same brand (rank-weighted, itself excluded)", func(c *candFacts, _ *setFacts) float32 { return c.prf.brand }},
	{"prf_title", "mean share of the top keyword results whose titles hold each of its title words", func(c *candFacts, _ *setFacts) float32 { return c.prf.title }},
	{"prf_semantic", "cosine to the mean vector of the top keyword results (0 without an embedder)", func(c *candFacts, _ *setFacts) float32 { return c.prf.semantic }},
	// Appended features keep older models usable: a model trained on a
	// prefix of this table scores the longer vector (ltr.Model.Check).
	{"image_sim", "how much closer than usual its image is to the closest image of the session's recent items and the query's clicked items, in [0,1] (0 without image vectors)", func(c *candFacts, _ *setFacts) float32 { return c.imageSim }},
	{"has_image_sim", "image_sim has a value: the item and an anchor other than itself have image vectors (1/0)", func(c *candFacts, _ *setFacts) float32 { return bit(c.hasImageSim) }},
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
