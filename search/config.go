package search

import (
	"fmt"
	"strings"
)

// Field is one text field of an item that keyword search looks at.
type Field int

// The searched fields, in the order used by Config.FieldWeights.
const (
	FieldTitle Field = iota
	FieldBrand
	FieldCategories
	FieldAttributes
	FieldDescription
	numFields
)

var fieldNames = [numFields]string{"title", "brand", "categories", "attributes", "description"}

// String returns the field's name as used in highlights and configuration.
func (f Field) String() string {
	if f < 0 || f >= numFields {
		return fmt.Sprintf("field(%d)", int(f))
	}
	return fieldNames[f]
}

// Mode selects the retrieval method of a search.
type Mode string

// Retrieval modes. ModeDefault uses Config.DefaultMode. ModeLTR re-ranks
// the keyword and (with an embedder) semantic candidates with the index's
// Ranker (see Index.SetRanker); without one it searches in the default mode.
const (
	ModeDefault  Mode = ""
	ModeKeyword  Mode = "keyword"
	ModeSemantic Mode = "semantic"
	ModeHybrid   Mode = "hybrid"
	ModeLTR      Mode = "ltr"
)

// ParseMode checks a mode name from outside input.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case ModeDefault, ModeKeyword, ModeSemantic, ModeHybrid, ModeLTR:
		return m, nil
	}
	return "", fmt.Errorf("unknown search mode %q (want keyword, semantic, hybrid or ltr)", s)
}

// Sort is the order of results.
type Sort string

// Sort orders.
const (
	SortRelevance Sort = "relevance"
	SortPriceAsc  Sort = "price_asc"
	SortPriceDesc Sort = "price_desc"
	SortNewest    Sort = "newest"
)

// ParseSort checks a sort name from outside input ("" means relevance).
func ParseSort(s string) (Sort, error) {
	switch v := Sort(strings.ToLower(strings.TrimSpace(s))); v {
	case "":
		return SortRelevance, nil
	case SortRelevance, SortPriceAsc, SortPriceDesc, SortNewest:
		return v, nil
	}
	return "", fmt.Errorf("unknown sort %q (want relevance, price_asc, price_desc or newest)", s)
}

// Fusion says how keyword and semantic result lists are merged in hybrid mode.
type Fusion struct {
	// Method is "convex" (normalised scores, Alpha·keyword +
	// (1-Alpha)·semantic over both lists), "rerank" (the same over the
	// keyword candidates only: semantic reorders, adds nothing) or "rrf"
	// (reciprocal rank fusion).
	Method string `json:"method"`
	// Norm normalises scores for convex and rerank: "minmax" (default),
	// "zscore" or "rank".
	Norm string `json:"norm,omitempty"`
	// Gate in [0,1] lowers the semantic weight by the factor
	// 1 - Gate·(share of exact matches in the first 10 keyword results).
	Gate float64 `json:"gate,omitempty"`
	// Alpha is the keyword weight in [0,1] (both methods).
	Alpha float64 `json:"alpha"`
	// RRFK is the rank constant of RRF (60 in the literature).
	RRFK float64 `json:"rrf_k"`
	// Depth is how many results of each list are fused (at least the page).
	Depth int `json:"depth"`
}

// Validate reports the first fusion setting that is out of range.
func (f *Fusion) Validate() error {
	switch {
	case f.Alpha < 0 || f.Alpha > 1:
		return fmt.Errorf("fusion alpha is %g, want [0,1]", f.Alpha)
	case f.Method != FusionConvex && f.Method != FusionRRF && f.Method != FusionRerank:
		return fmt.Errorf("fusion method %q, want convex, rerank or rrf", f.Method)
	case f.Norm != "" && f.Norm != NormMinMax && f.Norm != NormZScore && f.Norm != NormRank:
		return fmt.Errorf("fusion norm %q, want minmax, zscore or rank", f.Norm)
	case f.Gate < 0 || f.Gate > 1:
		return fmt.Errorf("fusion gate is %g, want [0,1]", f.Gate)
	}
	return nil
}

// PriceRange is one bucket of the price facet: [Min, Max), Max 0 = open.
type PriceRange struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

// Label returns the range as shown in the price facet ("25-50", "200+").
func (p PriceRange) Label() string {
	if p.Max <= 0 {
		return fmt.Sprintf("%g+", p.Min)
	}
	return fmt.Sprintf("%g-%g", p.Min, p.Max)
}

// Config holds the index and ranking settings. Start from DefaultConfig.
type Config struct {
	// Analyzer names the analyzer for item text and queries (see package analysis).
	Analyzer string `json:"analyzer"`
	// FieldWeights weighs term frequency per field in BM25F.
	FieldWeights [numFields]float64 `json:"field_weights"`
	// FieldB is BM25's length normalisation per field, in [0,1].
	FieldB [numFields]float64 `json:"field_b"`
	// K1 is BM25's term-frequency saturation.
	K1 float64 `json:"k1"`
	// Coverage rewards items matching more of the query's words: the BM25F
	// score is multiplied by (matched words / query words)^Coverage.
	Coverage float64 `json:"coverage"`
	// ProximityBoost multiplies the score of the best candidates by
	// 1 + ProximityBoost·(share of adjacent query-word pairs found adjacent in the title).
	ProximityBoost float64 `json:"proximity_boost"`
	// TitleAllBoost multiplies the score by 1+TitleAllBoost when every query
	// word is in the title.
	TitleAllBoost float64 `json:"title_all_boost"`
	// RescoreDepth is how many best keyword candidates get the proximity and
	// personalisation rescoring.
	RescoreDepth int `json:"rescore_depth"`
	// Typos: words of at least Typo1MinLen letters match with one edit,
	// of at least Typo2MinLen with two; matches count TypoWeight of an exact one.
	Typo1MinLen int     `json:"typo1_min_len"`
	Typo2MinLen int     `json:"typo2_min_len"`
	TypoWeight  float64 `json:"typo_weight"`
	// PrefixWeight weighs completions of the last query word (0 disables).
	// Only a last word that is not itself an indexed term is completed, so
	// finished queries rank as they would without completion.
	PrefixWeight float64 `json:"prefix_weight"`
	// PrefixMinLen is the shortest last word that is completed.
	PrefixMinLen int `json:"prefix_min_len"`
	// MaxExpansions bounds the terms one query word expands to (typos, prefixes).
	MaxExpansions int `json:"max_expansions"`
	// NegationWords ("without") drop themselves and the word after them from
	// the query: "bottle without straw" must not rank bottles by "straw".
	NegationWords []string `json:"negation_words"`
	// Synonyms are groups of equivalent single words ("sneaker", "trainer").
	Synonyms [][]string `json:"synonyms"`
	// SynonymWeight weighs a match through a synonym.
	SynonymWeight float64 `json:"synonym_weight"`
	// PriceRanges are the buckets of the price facet.
	PriceRanges []PriceRange `json:"price_ranges"`
	// FacetSize bounds the values returned per facet (most frequent first).
	FacetSize int `json:"facet_size"`
	// DefaultMode is used when a request does not say (keyword if empty).
	DefaultMode Mode `json:"default_mode"`
	// Fusion is the default hybrid fusion.
	Fusion Fusion `json:"fusion"`
	// BoostWeight bounds personalisation: a boost b in [0,1] multiplies the
	// score by 1+BoostWeight·b. Keep it small so relevance dominates.
	BoostWeight float64 `json:"boost_weight"`
	// MaxSuggestions bounds Suggest results when the caller asks for 0.
	MaxSuggestions int `json:"max_suggestions"`
	// SuggestMinShoppers is how many distinct shoppers (users or sessions)
	// must have searched a query before it is suggested to everyone (0 or
	// 1: any single search).
	SuggestMinShoppers int `json:"suggest_min_shoppers"`
	// SuggestTrustClientIDs lets callers vouch for a read-key search by
	// its client's ids alone (config search.suggest_trust_client_ids; the
	// index itself only keeps the setting, the API reads it).
	SuggestTrustClientIDs bool `json:"suggest_trust_client_ids,omitempty"`
	// SuggestMaxQueries bounds the queries remembered for suggestions, and
	// separately those waiting for more shoppers (0: DefaultSuggestMaxQueries);
	// the least searched are dropped first.
	SuggestMaxQueries int `json:"suggest_max_queries"`
	// SuggestBlock lists phrases never suggested: a query containing one as
	// whole words is not remembered.
	SuggestBlock []string `json:"suggest_block,omitempty"`
}

// MaxQueryBytes bounds a search query (and a suggestion prefix): longer
// ones are refused. A 900 KB one-word query used to take 10 s.
const MaxQueryBytes = 512

// DefaultSuggestMaxQueries is the default of Config.SuggestMaxQueries.
const DefaultSuggestMaxQueries = 50000

// maxRemovedSuggestions bounds the queries RemoveSuggestion remembers.
const maxRemovedSuggestions = 10000

// DefaultConfig returns the settings tuned on the training queries of ESCI-US 150
// (see docs/benchmarks.md).
func DefaultConfig() Config {
	return Config{
		Analyzer:       "en",
		FieldWeights:   [numFields]float64{4, 0.5, 2, 2, 0.5},
		FieldB:         [numFields]float64{0.9, 0.5, 0.5, 0.5, 0.5},
		K1:             0.9,
		Coverage:       0.5,
		ProximityBoost: 0.1,
		TitleAllBoost:  0.2,
		RescoreDepth:   200,
		Typo1MinLen:    5,
		Typo2MinLen:    9,
		TypoWeight:     0.6,
		PrefixWeight:   0.3,
		PrefixMinLen:   3,
		MaxExpansions:  30,
		SynonymWeight:  0.9,
		NegationWords:  []string{"without"},
		PriceRanges: []PriceRange{
			{0, 25}, {25, 50}, {50, 100}, {100, 200}, {200, 0},
		},
		FacetSize:      20,
		DefaultMode:    ModeKeyword,
		Fusion:         Fusion{Method: FusionConvex, Norm: NormMinMax, Alpha: 0.8, Gate: 1, RRFK: 60, Depth: 200}, // chosen on ESCI train (benchmarks.md)
		BoostWeight:    0.1,
		MaxSuggestions: 10,

		SuggestMinShoppers: 3,
		SuggestMaxQueries:  DefaultSuggestMaxQueries,
	}
}

// Validate reports the first setting that is out of range.
func (c *Config) Validate() error {
	for f := Field(0); f < numFields; f++ {
		if c.FieldWeights[f] < 0 {
			return fmt.Errorf("field weight of %s is negative", f)
		}
		if c.FieldB[f] < 0 || c.FieldB[f] > 1 {
			return fmt.Errorf("b of %s is %g, want [0,1]", f, c.FieldB[f])
		}
	}
	switch {
	case c.K1 <= 0:
		return fmt.Errorf("k1 is %g, want > 0", c.K1)
	case c.BoostWeight < 0 || c.BoostWeight > 1:
		return fmt.Errorf("boost weight is %g, want [0,1]", c.BoostWeight)
	case c.Fusion.Alpha < 0 || c.Fusion.Alpha > 1:
		return fmt.Errorf("fusion alpha is %g, want [0,1]", c.Fusion.Alpha)
	}
	if err := c.Fusion.Validate(); err != nil {
		return err
	}
	if _, err := ParseMode(string(c.DefaultMode)); err != nil {
		return err
	}
	for i, p := range c.PriceRanges {
		if p.Max > 0 && p.Max <= p.Min {
			return fmt.Errorf("price range %d: max %g <= min %g", i, p.Max, p.Min)
		}
	}
	return nil
}

// FieldByName returns the field of a name as String gives it.
func FieldByName(name string) (Field, bool) {
	for f, n := range fieldNames {
		if n == name {
			return Field(f), true
		}
	}
	return 0, false
}

// Config returns the index's current settings.
func (ix *Index) Config() Config {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.cfg
}
