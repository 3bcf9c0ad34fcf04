package search

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkSuggestRecord is the cost of remembering one shopper's search
// for suggestions: 20,000 distinct queries (Zipf) by 5,000 shoppers, each
// op one search through RecordSearch (a named user, as the search log
// replays it at start).
func BenchmarkSuggestRecord(b *testing.B) {
	ix := newTestIndex(b, DefaultConfig(), nil, fixture())
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.1, 1, 19_999)
	qs := make([]string, 20_000)
	for i := range qs {
		qs[i] = fmt.Sprintf("pen query %d", i)
	}
	users := make([]string, 5_000)
	for i := range users {
		users[i] = fmt.Sprintf("u%d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		ix.RecordSearch(qs[zipf.Uint64()], users[rng.IntN(len(users))])
	}
	b.StopTimer()
	s, p := ix.SuggestionStats()
	b.ReportMetric(float64(s), "suggested")
	b.ReportMetric(float64(p), "pending")
}

// BenchmarkSuggestVouchOneNetwork is the Sybil flood of decision 0061:
// every op a search by a new session from one network, over 1,000
// queries. Nothing is ever suggested and a pending query's vouches stay
// bounded (the metric: vouch pairs held per pending query at the end).
func BenchmarkSuggestVouchOneNetwork(b *testing.B) {
	ix := newTestIndex(b, DefaultConfig(), nil, fixture())
	qs := make([]string, 1_000)
	for i := range qs {
		qs[i] = fmt.Sprintf("pen planted %d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		q := qs[i%len(qs)]
		ix.CountSearch(q)
		ix.VouchSearch(q, Source{Shopper: fmt.Sprintf("anon-%d", i), Network: "one-network"})
	}
	b.StopTimer()
	s, _ := ix.SuggestionStats()
	ix.queries.mu.RLock()
	held := 0
	for _, p := range ix.queries.pending {
		held = max(held, len(p.vouches))
	}
	ix.queries.mu.RUnlock()
	if s != 0 {
		b.Fatalf("%d queries suggested", s)
	}
	b.ReportMetric(float64(held), "max-vouches/query")
}
