package searcheval

import (
	"context"
	"fmt"
	"time"

	"github.com/aisle-dev/aisle/search"
)

// K is the cut-off of the reported metrics.
const K = 10

// Metrics are mean per-query metrics over a set of queries.
type Metrics struct {
	NDCG   float64 `json:"nDCG@10"`
	Recall float64 `json:"Recall@10"`
}

// Report is the result of an evaluation, in the JSON shape of
// `aisle eval search --json`.
type Report struct {
	Format  string             `json:"format"`
	Mode    string             `json:"mode"`
	Queries map[string]int     `json:"queries"`
	Metrics map[string]Metrics `json:"metrics"`
	Latency struct {
		P50 float64 `json:"p50"`
		P99 float64 `json:"p99"`
	} `json:"latency_ms"`
	// PerQuery holds each query's metrics, in data set order (not in the JSON).
	PerQuery []QueryResult `json:"-"`
}

// QueryResult is one query's outcome.
type QueryResult struct {
	Query     string
	Split     string
	NDCG      float64
	Recall    float64
	LatencyMS float64
}

// Searcher runs one search; *search.Index implements it.
type Searcher interface {
	Search(ctx context.Context, req search.Request) (*search.Result, error)
}

// Progress is told how many queries are done out of how many.
type Progress func(done, total int)

// Evaluate runs every query of ds against s over the whole catalogue, top
// K, in the given mode, and averages the metrics per split ("all" always;
// "train" and "test" when the data set has a split).
func Evaluate(ctx context.Context, s Searcher, ds *Dataset, mode search.Mode, progress Progress) (*Report, error) {
	rep := &Report{Format: ds.Format, Mode: string(mode), Queries: map[string]int{}, Metrics: map[string]Metrics{}}
	var lat []float64
	sums := map[string]*Metrics{}
	counts := map[string]int{}
	add := func(split string, q QueryResult) {
		m := sums[split]
		if m == nil {
			m = &Metrics{}
			sums[split] = m
		}
		m.NDCG += q.NDCG
		m.Recall += q.Recall
		counts[split]++
	}
	for i, q := range ds.Queries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		start := time.Now()
		res, err := s.Search(ctx, search.Request{Query: q.Text, N: K, Mode: mode, NoHighlights: true})
		if err != nil {
			return nil, fmt.Errorf("query %q: %w", q.Text, err)
		}
		ms := float64(time.Since(start).Microseconds()) / 1000
		ids := make([]string, len(res.Items))
		for k, h := range res.Items {
			ids[k] = h.ID
		}
		qr := QueryResult{Query: q.Text, Split: q.Split, NDCG: NDCG(ids, q.Gains, K), Recall: Recall(ids, q.Gains, K), LatencyMS: ms}
		rep.PerQuery = append(rep.PerQuery, qr)
		lat = append(lat, ms)
		add("all", qr)
		if q.Split != "" {
			add(q.Split, qr)
		}
		if progress != nil {
			progress(i+1, len(ds.Queries))
		}
	}
	for split, m := range sums {
		n := float64(counts[split])
		rep.Metrics[split] = Metrics{NDCG: m.NDCG / n, Recall: m.Recall / n}
		if split != "all" {
			rep.Queries[split] = counts[split]
		}
	}
	if len(rep.Queries) == 0 {
		rep.Queries["all"] = counts["all"]
	}
	rep.Latency.P50 = Percentile(lat, 50)
	rep.Latency.P99 = Percentile(lat, 99)
	return rep, nil
}
