package search

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/aisle-dev/aisle/catalog"
)

// zipfCatalog makes n items whose titles and descriptions draw words from a
// Zipf distribution over a vocabulary of pseudo-words, so that posting lists
// range from a few docs to most of the catalogue, as in real shops.
func zipfCatalog(rng *rand.Rand, n int) ([]catalog.Item, []string) {
	const cons, vows = "bdfgklmnprstvz", "aiou"
	vocab := make([]string, 400)
	for i := range vocab {
		var b strings.Builder
		for x := i + 1; x > 0; x /= len(cons) {
			b.WriteByte(cons[x%len(cons)])
			b.WriteByte(vows[(x+i)%len(vows)])
		}
		b.WriteString("ka")
		vocab[i] = b.String()
	}
	zipf := rand.NewZipf(rng, 1.1, 2, uint64(len(vocab)-1))
	words := func(k int) string {
		w := make([]string, k)
		for i := range w {
			w[i] = vocab[zipf.Uint64()]
		}
		return strings.Join(w, " ")
	}
	cats := []string{"A/B/C", "A/B/D", "A/E", "F/G", "F/H/I"}
	brands := []string{"Acme", "Bolt", "Cora", "Dune"}
	items := make([]catalog.Item, n)
	for i := range items {
		items[i] = catalog.Item{
			ID:          fmt.Sprintf("z%d", i),
			Title:       words(2 + rng.IntN(8)),
			Description: words(rng.IntN(30)),
			Brand:       brands[rng.IntN(len(brands))],
			Categories:  []string{cats[rng.IntN(len(cats))]},
			Available:   rng.IntN(20) > 0,
			CreatedAt:   time.Unix(int64(rng.IntN(1000)), 0),
		}
		if rng.IntN(5) > 0 {
			items[i].Price = price(float64(rng.IntN(300)))
		}
	}
	return items, vocab
}

// TestPrunedEqualsExhaustive checks that relevance retrieval with dynamic
// pruning returns exactly what scoring every posting returns (same docs,
// same scores, same order, same total and matched set) for random queries
// (including typos, prefixes, exclusions and phrases), filters, page sizes
// and ranking settings, on an index with updated and deleted items.
func TestPrunedEqualsExhaustive(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	items, vocab := zipfCatalog(rng, 3000)
	configs := map[string]func(*Config){
		"default":    func(*Config) {},
		"shallow":    func(c *Config) { c.RescoreDepth = 1 },
		"steep":      func(c *Config) { c.RescoreDepth = 5; c.Coverage = 2 },
		"flat":       func(c *Config) { c.RescoreDepth = 10; c.Coverage = 0; c.ProximityBoost = 0 },
		"reweighted": func(c *Config) { c.RescoreDepth = 2 },
		"zero-weight": func(c *Config) {
			c.RescoreDepth = 3
			c.FieldWeights[FieldDescription] = 0
			c.FieldB[FieldTitle] = 1
		},
	}
	for name, mod := range configs {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			mod(&cfg)
			cfg.Synonyms = [][]string{{vocab[3], vocab[40]}, {vocab[100], vocab[7]}}
			// a first batch of short items: the averages of the block
			// summaries' reference then grow with the second batch
			short := slices.Clone(items[:100])
			for i := range short {
				short[i].Description = ""
			}
			ix := newTestIndex(t, cfg, nil, short)
			ctx := context.Background()
			if err := ix.Upsert(ctx, items...); err != nil {
				t.Fatal(err)
			}
			if name == "reweighted" {
				cfg.FieldWeights[FieldTitle], cfg.FieldB[FieldDescription] = 1, 0.9
				if err := ix.SetConfig(cfg); err != nil {
					t.Fatal(err)
				}
			}
			// updates and deletes leave dead postings behind
			upd := slices.Clone(items[:200])
			for i := range upd {
				upd[i].Title += " " + vocab[rng.IntN(50)]
			}
			if err := ix.Upsert(ctx, upd...); err != nil {
				t.Fatal(err)
			}
			ix.Delete(items[300].ID, items[301].ID, items[1000].ID)
			for trial := 0; trial < 150; trial++ {
				q := randomQuery(rng, vocab)
				req := Request{Query: q, N: 1 + rng.IntN(30), Offset: rng.IntN(3) * 10}
				if rng.IntN(3) == 0 {
					req.Categories = []string{[]string{"A/B", "F", "A/E"}[rng.IntN(3)]}
				}
				if rng.IntN(4) == 0 {
					req.Brands = []string{"acme", "CORA"}[:1+rng.IntN(2)]
				}
				if rng.IntN(3) == 0 {
					req.MinPrice, req.MaxPrice = price(float64(rng.IntN(100))), price(float64(100+rng.IntN(200)))
				}
				for range rng.IntN(3) * rng.IntN(40) { // hidden items (rules), in any order
					req.Exclude = append(req.Exclude, items[rng.IntN(len(items))].ID)
				}
				comparePruned(t, ix, req)
			}
		})
	}
}

func randomQuery(rng *rand.Rand, vocab []string) string {
	var w []string
	for k := 1 + rng.IntN(4); k > 0; k-- {
		v := vocab[min(len(vocab)-1, int(rng.ExpFloat64()*60))]
		switch rng.IntN(12) {
		case 0: // typo
			v = v[:len(v)-1] + "z" + v[len(v)-1:]
		case 1: // exclusion
			v = "-" + v
		case 2: // unknown word
			v = "nothing"
		}
		w = append(w, v)
	}
	q := strings.Join(w, " ")
	switch rng.IntN(6) {
	case 0: // the last word is being typed
		if k := strings.LastIndexByte(q, ' '); len(q)-k > 4 {
			q = q[:len(q)-2]
		}
	case 1:
		q = `"` + q + `"`
	default:
		q += " "
	}
	return q
}

func comparePruned(t *testing.T, ix *Index, req Request) {
	t.Helper()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	c := ix.compile(parseQuery(req.Query))
	f := ix.compileFilter(&req, &c)
	need := req.Offset + req.N
	got, gotSet, gotTotal := ix.keyword(&c, &f, SortRelevance, need, nil, true)
	want, wantSet, wantTotal := ix.keywordExhaustive(&c, &f, SortRelevance, need, nil, true)
	if gotTotal != wantTotal {
		t.Fatalf("%q: total %d, exhaustive %d", req.Query, gotTotal, wantTotal)
	}
	if gotSet == nil {
		gotSet = roaring.New()
	}
	if !gotSet.Equals(wantSet) {
		t.Fatalf("%q: matched set of %d docs, exhaustive %d", req.Query, gotSet.GetCardinality(), wantSet.GetCardinality())
	}
	if len(got) != len(want) {
		t.Fatalf("%q (%+v): %d results, exhaustive %d", req.Query, f, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%q: result %d is %+v, exhaustive %+v", req.Query, i, got[i], want[i])
		}
	}
	// price and age orders: the same first `need` after sorting
	for _, order := range []Sort{SortPriceAsc, SortPriceDesc, SortNewest} {
		got, _, gotTotal := ix.keyword(&c, &f, order, need, nil, false)
		want, _, wantTotal := ix.keywordExhaustive(&c, &f, order, need, nil, false)
		if gotTotal != wantTotal {
			t.Fatalf("%q %s: total %d, exhaustive %d", req.Query, order, gotTotal, wantTotal)
		}
		ix.sortBy(got, order)
		ix.sortBy(want, order)
		got, want = got[:min(need, len(got))], want[:min(need, len(want))]
		if !slices.Equal(got, want) {
			t.Fatalf("%q %s need %d: got %v, exhaustive %v", req.Query, order, need, got, want)
		}
	}
}

// TestTopValuesMatchesSort checks the bounded selection of facet values
// against sorting every value, for several sizes and many ties.
func TestTopValuesMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ values, size, maxCount int }{
		{0, 5, 3}, {1, 5, 3}, {10, 3, 2}, {50, 20, 5}, {500, 20, 40}, {30, 0, 4}, {30, 30, 4},
	} {
		fv := newFacetValues()
		counts := make([]int, tc.values)
		for v := range counts {
			fv.add(fmt.Sprint("v", v), fmt.Sprintf("V%03d", rng.IntN(1000)), 0)
			counts[v] = rng.IntN(tc.maxCount)
		}
		ix := &Index{cfg: Config{FacetSize: tc.size}}
		got := ix.topValues(&fv, counts)
		var want []FacetValue
		for v, c := range counts {
			if c > 0 {
				want = append(want, FacetValue{Value: fv.names[v], Count: c})
			}
		}
		slices.SortStableFunc(want, func(a, b FacetValue) int {
			if a.Count != b.Count {
				return b.Count - a.Count
			}
			return strings.Compare(a.Value, b.Value)
		})
		if tc.size > 0 && len(want) > tc.size {
			want = want[:tc.size]
		}
		if !slices.Equal(got, want) {
			t.Errorf("%+v: got %v, want %v", tc, got, want)
		}
	}
}
