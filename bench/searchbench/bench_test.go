package searchbench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/internal/testdata"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/search/searcheval"
)

// engine is one search implementation under test.
type engine interface {
	// search runs q (optionally with a price range and a category facet) and
	// returns the ids of the top n.
	search(q string, n int, filtered bool) []string
}

type aisleEngine struct {
	ix         *search.Index
	highlights bool
}

func newAisle(tb testing.TB, items []catalog.Item) (*aisleEngine, time.Duration) {
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	if err := ix.Upsert(context.Background(), items...); err != nil {
		tb.Fatal(err)
	}
	return &aisleEngine{ix: ix}, time.Since(start)
}

func (a *aisleEngine) search(q string, n int, filtered bool) []string {
	req := search.Request{Query: q, N: n, NoHighlights: !a.highlights}
	if filtered {
		lo, hi := 10.0, 300.0
		req.MinPrice, req.MaxPrice = &lo, &hi
		req.Facets = []string{search.FacetCategory}
	}
	r, err := a.ix.Search(context.Background(), req)
	if err != nil {
		panic(err)
	}
	ids := make([]string, len(r.Items))
	for i, h := range r.Items {
		ids[i] = h.ID
	}
	return ids
}

type bleveEngine struct{ ix bleve.Index }

// bleveDoc is what bleve indexes: the fields of the baseline.
type bleveDoc struct {
	Title       string  `json:"title"`
	Description string  `json:"description"`
	Brand       string  `json:"brand"`
	Color       string  `json:"color"`
	Category    string  `json:"category"`
	CategoryKW  string  `json:"category_kw"`
	Price       float64 `json:"price"`
}

func newBleve(tb testing.TB, items []catalog.Item) (*bleveEngine, time.Duration) {
	text := bleve.NewTextFieldMapping()
	text.Analyzer = en.AnalyzerName
	text.Store = false
	text.IncludeTermVectors = false
	kw := bleve.NewTextFieldMapping()
	kw.Analyzer = keyword.Name
	kw.Store = false
	num := bleve.NewNumericFieldMapping()
	num.Store = false
	dm := bleve.NewDocumentMapping()
	for _, f := range []string{"title", "description", "brand", "color", "category"} {
		dm.AddFieldMappingsAt(f, text)
	}
	dm.AddFieldMappingsAt("category_kw", kw)
	dm.AddFieldMappingsAt("price", num)
	m := bleve.NewIndexMapping()
	m.DefaultMapping = dm
	m.DefaultAnalyzer = en.AnalyzerName
	dir := filepath.Join(tb.TempDir(), "bleve")
	ix, err := bleve.New(dir, m)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ix.Close() })
	start := time.Now()
	batch := ix.NewBatch()
	for i, it := range items {
		d := bleveDoc{Title: it.Title, Description: it.Description, Brand: it.Brand, Price: -1}
		if c, ok := it.Attributes["color"].(string); ok {
			d.Color = c
		}
		if len(it.Categories) > 0 {
			d.Category = strings.ReplaceAll(it.Categories[0], "/", " ")
			d.CategoryKW = it.Categories[0]
		}
		if it.Price != nil {
			d.Price = *it.Price
		}
		if err := batch.Index(it.ID, d); err != nil {
			tb.Fatal(err)
		}
		if batch.Size() == 1000 || i == len(items)-1 {
			if err := ix.Batch(batch); err != nil {
				tb.Fatal(err)
			}
			batch = ix.NewBatch()
		}
	}
	return &bleveEngine{ix}, time.Since(start)
}

func (e *bleveEngine) search(q string, n int, filtered bool) []string {
	var qs []query.Query
	for _, f := range []struct {
		name  string
		boost float64
	}{{"title", 2}, {"description", 1}, {"brand", 1}, {"color", 1}, {"category", 1}} {
		mq := bleve.NewMatchQuery(q)
		mq.SetField(f.name)
		mq.SetBoost(f.boost)
		qs = append(qs, mq)
	}
	var top query.Query = bleve.NewDisjunctionQuery(qs...)
	if filtered {
		lo, hi := 10.0, 300.0
		incl := true
		pr := bleve.NewNumericRangeInclusiveQuery(&lo, &hi, &incl, &incl)
		pr.SetField("price")
		top = bleve.NewConjunctionQuery(top, pr)
	}
	req := bleve.NewSearchRequestOptions(top, n, 0, false)
	if filtered {
		req.AddFacet("category", bleve.NewFacetRequest("category_kw", 20))
	}
	res, err := e.ix.Search(req)
	if err != nil {
		panic(err)
	}
	ids := make([]string, len(res.Hits))
	for i, h := range res.Hits {
		ids[i] = h.ID
	}
	return ids
}

// run times every query of qs round-robin for b.N iterations and reports
// p50/p99 latency and queries per second (one goroutine).
func run(b *testing.B, e engine, qs []string, n int, filtered bool) {
	lat := make([]time.Duration, 0, b.N)
	i := 0
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		t := time.Now()
		e.search(qs[i%len(qs)], n, filtered)
		lat = append(lat, time.Since(t))
		i++
	}
	el := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(a, c int) bool { return lat[a] < lat[c] })
	pct := func(p float64) float64 {
		k := int(p/100*float64(len(lat)) + 0.5)
		k = min(max(k, 1), len(lat))
		return float64(lat[k-1].Microseconds()) / 1000
	}
	b.ReportMetric(pct(50), "p50-ms")
	b.ReportMetric(pct(99), "p99-ms")
	b.ReportMetric(float64(len(lat))/el.Seconds(), "qps")
}

func ndcg(e engine, ds *searcheval.Dataset, split string) float64 {
	var s float64
	var n int
	for _, q := range ds.Queries {
		if split != "" && q.Split != split {
			continue
		}
		s += searcheval.NDCG(e.search(q.Text, 10, false), q.Gains, 10)
		n++
	}
	return s / float64(n)
}

// BenchmarkESCI compares Aisle and bleve on ESCI-US 150 (6,764 products):
// index time, test nDCG@10 and search latency of the 150 queries.
//
//	cd bench/searchbench && go test -run '^$' -bench ESCI -benchtime 1500x
func BenchmarkESCI(b *testing.B) {
	ds, err := searcheval.LoadESCI(testdata.Path(b, "esci-us-150"))
	if err != nil {
		b.Fatal(err)
	}
	var qs []string
	for _, q := range ds.Queries {
		qs = append(qs, q.Text)
	}
	for _, hl := range []bool{false, true} {
		name := "aisle"
		if hl {
			name = "aisle-highlights"
		}
		b.Run(name, func(b *testing.B) {
			e, took := newAisle(b, ds.Items)
			e.highlights = hl
			test, all := ndcg(e, ds, "test"), ndcg(e, ds, "")
			run(b, e, qs, 10, false)
			b.ReportMetric(took.Seconds(), "index-s")
			b.ReportMetric(test, "test-nDCG@10")
			b.ReportMetric(all, "all-nDCG@10")
		})
	}
	b.Run("bleve", func(b *testing.B) {
		e, took := newBleve(b, ds.Items)
		test, all := ndcg(e, ds, "test"), ndcg(e, ds, "")
		run(b, e, qs, 10, false)
		b.ReportMetric(took.Seconds(), "index-s")
		b.ReportMetric(test, "test-nDCG@10")
		b.ReportMetric(all, "all-nDCG@10")
	})
}

// BenchmarkSynthetic runs 1–3 word queries with a price range filter and a
// category facet, top 20, over synthetic catalogues, for Aisle and then
// bleve on the same items and queries in the same run. Sizes: 100k and 1M
// (AISLE_BENCH_SIZES=100000,1000000 overrides); bleve runs at every size up
// to AISLE_BENCH_BLEVE_MAX items (default 1,000,000; its on-disk index
// builds at 2–3k docs/s on 2 cores, so 1M takes several minutes when the
// machine is quiet and much longer when it is not).
//
//	cd bench/searchbench && AISLE_BENCH_SIZES=1000000 go test -run '^$' -bench Synthetic -benchtime 1000x -timeout 120m
func BenchmarkSynthetic(b *testing.B) {
	sizes := []int{100_000, 1_000_000}
	if s := os.Getenv("AISLE_BENCH_SIZES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				b.Fatalf("AISLE_BENCH_SIZES: %v", err)
			}
			sizes = append(sizes, n)
		}
	}
	bleveMax := 1_000_000
	if s := os.Getenv("AISLE_BENCH_BLEVE_MAX"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("AISLE_BENCH_BLEVE_MAX: %v", err)
		}
		bleveMax = n
	}
	qs := searcheval.SyntheticQueries(1000, 42)
	for _, n := range sizes {
		items := searcheval.Synthetic(n, 42)
		b.Run(fmt.Sprintf("aisle-%d", n), func(b *testing.B) {
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			before := ms.HeapAlloc
			e, took := newAisle(b, items)
			runtime.GC()
			runtime.ReadMemStats(&ms)
			heap := float64(ms.HeapAlloc-before) / (1 << 20)
			run(b, e, qs, 20, true)
			b.ReportMetric(took.Seconds(), "index-s")
			b.ReportMetric(heap, "heap-MB")
			b.ReportMetric(suggestP99(e.ix, qs), "suggest-p99-ms")
		})
		if n <= bleveMax {
			b.Run(fmt.Sprintf("bleve-%d", n), func(b *testing.B) {
				e, took := newBleve(b, items)
				run(b, e, qs, 20, true)
				b.ReportMetric(took.Seconds(), "index-s")
			})
		}
	}
}

// suggestP99 times Suggest for prefixes of the queries as they are typed
// (2 letters up to the whole query) and returns the p99 in milliseconds.
func suggestP99(ix *search.Index, qs []string) float64 {
	for _, q := range qs[:100] {
		ix.RecordQuery(q)
	}
	var lat []time.Duration
	for _, q := range qs[:300] {
		for k := 2; k <= len(q); k += 2 {
			t := time.Now()
			ix.Suggest(q[:k], 10)
			lat = append(lat, time.Since(t))
		}
	}
	sort.Slice(lat, func(a, c int) bool { return lat[a] < lat[c] })
	return float64(lat[len(lat)*99/100].Microseconds()) / 1000
}
