package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/experiment"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/store"
)

// experimentsFor opens an impression log and an experiment manager in a
// temporary directory, runs their writers until the test ends and adds
// the experiment routes to srv.
func experimentsFor(t testing.TB, srv *Server, st store.Store) *experiment.Manager {
	t.Helper()
	dir := t.TempDir()
	imp, err := impressions.Open(filepath.Join(dir, "impressions.db"), impressions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := experiment.Open(experiment.Options{Path: filepath.Join(dir, "experiments.db"), Impressions: imp,
		Price: func(ctx context.Context, id string) (float64, bool) {
			it, err := st.GetItem(ctx, id)
			if err != nil || it.Price == nil {
				return 0, false
			}
			return *it.Price, true
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- imp.Run(ctx) }()
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		m.Close()
		imp.Close()
	})
	srv.AddExperimentRoutes(m)
	return m
}

// BenchmarkImpressionOverhead measures what logging every answer as an
// impression costs GET /api/recommend: requests alternate between a server
// with the impression log and one without (same data), so that the load of
// the machine falls on both alike; it reports each one's p50 and p99 and
// the p99 overhead in percent.
func BenchmarkImpressionOverhead(b *testing.B) {
	with, without := shopServerWith(b, true), shopServerWith(b, false)
	var dw, dn []float64
	b.ResetTimer()
	for i := range b.N {
		for k, srv := range []*Server{with, without} {
			req := httptest.NewRequest("GET", fmt.Sprintf("/api/recommend/u%02d?n=10", i%40), nil)
			rec := httptest.NewRecorder()
			t0 := time.Now()
			srv.ServeHTTP(rec, req)
			d := float64(time.Since(t0).Microseconds())
			if rec.Code != 200 {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if k == 0 {
				dw = append(dw, d)
			} else {
				dn = append(dn, d)
			}
		}
	}
	b.StopTimer()
	pct := func(xs []float64, p float64) float64 {
		s := slices.Clone(xs)
		slices.Sort(s)
		return s[min(len(s)-1, int(p*float64(len(s))))]
	}
	b.ReportMetric(pct(dn, 0.5), "p50-µs-without")
	b.ReportMetric(pct(dw, 0.5), "p50-µs-with")
	b.ReportMetric(pct(dn, 0.99), "p99-µs-without")
	b.ReportMetric(pct(dw, 0.99), "p99-µs-with")
	b.ReportMetric(100*(pct(dw, 0.99)/pct(dn, 0.99)-1), "p99-overhead-%")
}
