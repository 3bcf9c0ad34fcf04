// Package search is Aisle's product search engine: an in-memory index built
// from catalogue items and updated as they change, BM25F keyword retrieval
// with typo tolerance and prefix matching, filters and facets over roaring
// bitmaps, optional semantic retrieval through an Embedder, fusion of the
// two lists, personalisation boosts, learned re-ranking of the candidates
// (ModeLTR with a Ranker such as an *ltr.Model of package search/ltr, over
// the features of FeatureNames) and search-as-you-type suggestions.
//
// Where things are: index.go holds the Index type and its writes (Upsert,
// Delete), postings.go the inverted lists and their block summaries,
// analyse.go what an item's fields are for analysis, synonyms.go the
// synonym and negation tables, compact.go the renumbering of dead docs;
// query.go parses and compiles a query, search.go retrieves and scores,
// pruned.go is the dynamic-pruning keyword path, facets.go the facet
// values and counts, fusion.go the hybrid mode, vectors.go the background
// embedding; ranker.go is the learned-ranking setup (Ranker, Signals),
// candidates.go what ModeLTR re-ranks, ltrfeatures.go the feature table
// (the one definition of every feature), ltrfacts.go what the features are
// computed from, rerank.go the re-ranking with its exact-match guard;
// suggest.go is Suggest and suggest_queries.go the store of past queries
// it completes from.
//
// The package has no HTTP in it: Result marshals to the JSON of the
// /api/search route and the API layer encodes it as it is.
package search
