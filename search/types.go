package search

import (
	"context"
	"encoding/json"
)

// Embedder turns texts into vectors for semantic search. Package embed
// provides implementations (Universal Sentence Encoder lite, an
// OpenAI-compatible client). Vectors of one Embedder all have Dim entries.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	Dim() int
}

// Request is one search. The zero value of each field means "no filter" or
// the default.
type Request struct {
	Query  string
	N      int // page size; 0 means 10, at most MaxN
	Offset int
	// Categories keeps items having a category path under one of these
	// prefixes ("Office/Paper" keeps "Office/Paper/Notebooks").
	Categories []string
	// Brands keeps items of one of these brands (case-insensitive).
	Brands   []string
	MinPrice *float64
	MaxPrice *float64
	Sort     Sort
	// Facets names the facets to compute: "category", "brand", "price".
	Facets []string
	Mode   Mode
	// Fusion overrides Config.Fusion for this request (hybrid mode).
	Fusion *Fusion
	// Boost, when set, returns the shopper's affinity in [0,1] for an item
	// (values outside are clamped). It reorders the best relevance
	// candidates by at most a factor 1+Config.BoostWeight.
	Boost func(itemID string) float64
	// Recent are items the shopper engaged with in this session, most
	// recent first: with image vectors (Index.SetImageCloseness) they are
	// anchors of the learned ranker's image_sim feature, with the items
	// shoppers acted on after the same query. Only the first
	// MaxImageAnchors count.
	Recent []string
	// NoHighlights skips building highlights.
	NoHighlights bool
	// Ranker, when set, ranks a ModeLTR search in place of the index's
	// model (SetRanker), with the same scope: the challenger of an
	// interleaved answer (search/ranking). It must take FeatureNames.
	Ranker Ranker
	// Exclude are item ids left out of the results, the total and the
	// facets (items hidden by a merchandising rule).
	Exclude []string
	// Hits, when its capacity holds the page, is the storage
	// Result.Items is written in (from its start; what it held is
	// overwritten): a caller done with one result before its next search
	// reuses it (merchandising's window of up to rules.MoveWindow hits,
	// pooled). Nil: Search allocates the page.
	Hits []Hit
}

// Hit is one result item.
type Hit struct {
	ID         string            `json:"id"`
	Title      string            `json:"title"`
	Score      float64           `json:"score"`
	Highlights map[string]string `json:"highlights,omitempty"`
	// Sponsored marks an ad placed by the ad server; Pinned an item a
	// merchandising rule pinned to its position.
	Sponsored bool `json:"sponsored,omitempty"`
	Pinned    bool `json:"pinned,omitempty"`
	// doc is the index's doc the hit was found as, plus one (0: not
	// known), so that HighlightResult finds it without a lookup by id;
	// it fits in the struct's padding.
	doc uint32
}

// FacetValue is one value of a category or brand facet.
type FacetValue struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// RangeCount is one bucket of the price facet.
type RangeCount struct {
	Range string `json:"range"`
	Count int    `json:"count"`
}

// Facets are the counts over the whole matched set (after filters).
type Facets struct {
	Category []FacetValue `json:"category,omitempty"`
	Brand    []FacetValue `json:"brand,omitempty"`
	Price    []RangeCount `json:"price,omitempty"`
}

// Result is the answer to a search, in the JSON shape of /api/search.
type Result struct {
	Items []Hit `json:"items"`
	// Total counts the matched items after filters: in keyword mode those
	// matching at least one query word (all items for an empty query), in
	// semantic mode the retrieved list (Fusion.Depth or the page if
	// larger), in hybrid and ltr modes the union of both.
	Total  int     `json:"total"`
	Facets *Facets `json:"facets,omitempty"`
	TookMS float64 `json:"took_ms"`
	// Mode is the retrieval mode actually used.
	Mode Mode `json:"mode"`
	// RequestID and Variant tie an API answer to the events that follow
	// it and to its experiment variant (set by the API, issue 15).
	RequestID string `json:"request_id,omitempty"`
	Variant   string `json:"variant,omitempty"`
	// hl holds the words the query highlights, compiled by Search, so
	// HighlightResult does not parse and compile the query again.
	hl       map[string]bool
	compiled bool
}

// MarshalJSON keeps "items" an array even when empty.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	if r.Items == nil {
		r.Items = []Hit{}
	}
	return json.Marshal(plain(r))
}

// Suggestion is one search-as-you-type completion.
type Suggestion struct {
	Text  string  `json:"text"`
	Kind  string  `json:"kind"` // "query" (a past search) or "title"
	Score float64 `json:"score"`
}
