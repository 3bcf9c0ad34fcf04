package searcheval

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/internal/testdata"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/search/ltr"
)

// BenchmarkESCIKeyword indexes ESCI-US 150 and evaluates the default keyword
// search over the whole catalogue once per iteration, reporting nDCG@10 on
// the test and train queries and the search latency. A full-data run, so a
// benchmark rather than a test:
//
//	go test -run '^$' -bench ESCIKeyword -benchtime 1x ./search/searcheval/
func BenchmarkESCIKeyword(b *testing.B) {
	dir := testdata.Path(b, "esci-us-150")
	ds, err := LoadESCI(dir)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := ix.Upsert(context.Background(), ds.Items...); err != nil {
			b.Fatal(err)
		}
		rep, err := Evaluate(context.Background(), ix, ds, search.ModeKeyword, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(rep.Metrics["test"].NDCG, "test-nDCG@10")
		b.ReportMetric(rep.Metrics["train"].NDCG, "train-nDCG@10")
		b.ReportMetric(rep.Metrics["all"].NDCG, "all-nDCG@10")
		b.ReportMetric(rep.Latency.P50, "p50-ms")
		b.ReportMetric(rep.Latency.P99, "p99-ms")
	}
}

// BenchmarkSearchESCI times single searches (top 10, with highlights) over
// the ESCI-US 150 catalogue, cycling through its queries.
//
//	go test -run '^$' -bench SearchESCI ./search/searcheval/
func BenchmarkSearchESCI(b *testing.B) {
	ds, ix := esciIndex(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := ix.Search(ctx, search.Request{Query: ds.Queries[i%len(ds.Queries)].Text}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSearchSynthetic times filtered, faceted searches (top 20, no
// highlights) over a synthetic catalogue of 50,000 items, or
// AISLE_BENCH_SIZE items, by relevance and by price, reporting p50 and p99
// latency (see bench/searchbench for the comparison with bleve).
//
//	AISLE_BENCH_SIZE=1000000 go test -run '^$' -bench SearchSynthetic -benchtime 1000x -timeout 30m ./search/searcheval/
func BenchmarkSearchSynthetic(b *testing.B) {
	n := 50_000
	if s := os.Getenv("AISLE_BENCH_SIZE"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("AISLE_BENCH_SIZE: %v", err)
		}
		n = v
	}
	items := Synthetic(n, 42)
	qs := SyntheticQueries(1000, 42)
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := ix.Upsert(ctx, items...); err != nil {
		b.Fatal(err)
	}
	items = nil
	lo, hi := 10.0, 300.0
	for _, order := range []search.Sort{search.SortRelevance, search.SortPriceAsc} {
		b.Run(string(order), func(b *testing.B) {
			var lat []time.Duration
			i := 0
			for b.Loop() {
				t := time.Now()
				_, err := ix.Search(ctx, search.Request{Query: qs[i%len(qs)], N: 20, Sort: order, NoHighlights: true,
					MinPrice: &lo, MaxPrice: &hi, Facets: []string{search.FacetCategory}})
				lat = append(lat, time.Since(t))
				if err != nil {
					b.Fatal(err)
				}
				i++
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkSearchESCILTR times single ModeLTR searches (top 10, with
// highlights) over the ESCI-US 150 catalogue with a LambdaMART model of 100
// trees trained on the train queries (keyword features only: no embedder).
//
//	go test -run '^$' -bench SearchESCILTR ./search/searcheval/
func BenchmarkSearchESCILTR(b *testing.B) {
	ds, ix := esciIndex(b)
	ctx := context.Background()
	var train []Query
	for _, q := range ds.Queries {
		if q.Split == "train" {
			train = append(train, q)
		}
	}
	lab, err := Labelled(ctx, ix, train, nil)
	if err != nil {
		b.Fatal(err)
	}
	p := ltr.DefaultParams(search.FeatureNames())
	p.BaseFeature = search.LTRBaseFeature
	p.Trees = 100
	m, err := ltr.Train(ctx, lab, nil, p)
	if err != nil {
		b.Fatal(err)
	}
	if err := ix.SetRanker(m); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if _, err := ix.Search(ctx, search.Request{Query: ds.Queries[i%len(ds.Queries)].Text, Mode: search.ModeLTR}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// esciIndex loads ESCI-US 150 (skipping without the shared data) and
// indexes its catalogue with the default keyword settings.
func esciIndex(b *testing.B) (*Dataset, *search.Index) {
	b.Helper()
	ds, err := LoadESCI(testdata.Path(b, "esci-us-150"))
	if err != nil {
		b.Fatal(err)
	}
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := ix.Upsert(context.Background(), ds.Items...); err != nil {
		b.Fatal(err)
	}
	return ds, ix
}
