// Package search is Aisle's product search engine: an in-memory index built
// from catalogue items and updated as they change, BM25F keyword retrieval
// with typo tolerance and prefix matching, filters and facets over roaring
// bitmaps, optional semantic retrieval through an Embedder, fusion of the
// two lists, personalisation boosts, learned re-ranking of the candidates
// (ModeLTR with a Ranker such as an *ltr.Model of package search/ltr, over
// the features of FeatureNames) and search-as-you-type suggestions.
//
// The package has no HTTP in it: Result marshals to the JSON of the
// /api/search route and the API layer encodes it as it is.
package search
