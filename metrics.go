package aisle

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/search"
)

// collector exports what operators ask about, read when /metrics is
// scraped: which model version serves each surface, the last retraining,
// the search index and its embedding backlog. (Requests, ingested events,
// dropped search-log entries and the build are counted in package api.)
type collector struct {
	a *Aisle

	// runs counts the retraining runs seen to end, by result; a run is
	// seen when a scrape finds Last() newer than the one before (two runs
	// ending between scrapes count once).
	mu             sync.Mutex
	seenAt         time.Time
	okRuns, failed float64

	serving, trainSecs, lastRun, lastFailed, running, runs *prometheus.Desc
	indexItems, vectors, stored                            *prometheus.Desc
	memory, memoryModel                                    *prometheus.Desc

	// the memory breakdown walks every user and document: measured at
	// most once per memoryEvery, not at every scrape
	memMu  sync.Mutex
	memAt  time.Time
	memRec recommend.Memory
	memIx  search.Memory
}

// memoryEvery is how long a memory breakdown is reused between scrapes.
const memoryEvery = 30 * time.Second

func newCollector(a *Aisle) *collector {
	return &collector{
		a: a,
		serving: prometheus.NewDesc("aisle_model_serving_version", "Version of each model that serves, by surface (recommend, search); primary=true ranks personal recommendations.",
			[]string{"model", "surface", "primary"}, nil),
		trainSecs: prometheus.NewDesc("aisle_model_train_seconds", "Training time of the serving version of each model.",
			[]string{"model"}, nil),
		lastRun: prometheus.NewDesc("aisle_retrain_last_run_timestamp_seconds", "When the last retraining run ended (0: none since start).",
			nil, nil),
		lastFailed: prometheus.NewDesc("aisle_retrain_last_failed", "1 when the last retraining run ended with an error (see GET /api/models).",
			nil, nil),
		running: prometheus.NewDesc("aisle_retrain_running", "1 while a retraining run is under way.",
			nil, nil),
		runs: prometheus.NewDesc("aisle_retrain_runs_total", "Retraining runs that ended, by result (ok, failed).",
			[]string{"result"}, nil),
		indexItems: prometheus.NewDesc("aisle_search_index_items", "Items in the search index.",
			nil, nil),
		stored: prometheus.NewDesc("aisle_stored", "Records in the store, by kind (items, users, events).",
			[]string{"kind"}, nil),
		memory: prometheus.NewDesc("aisle_memory_bytes", "Estimated memory by part (search_docs, search_postings, search_vectors, histories, ledger, items, related, rows; each model in aisle_memory_model_bytes): the structures and their contents without allocator overhead, remeasured at most every 30s. Compare with go_memstats_heap_inuse_bytes and process_resident_memory_bytes.",
			[]string{"part"}, nil),
		memoryModel: prometheus.NewDesc("aisle_memory_model_bytes", "Estimated memory of each serving recommendation model: its vectors or weights, the ANN index and the id maps beside it.",
			[]string{"model"}, nil),
		vectors: prometheus.NewDesc("aisle_search_vectors", "Items by the state of their embedding: with_vector, pending (the backlog), retrying, failed.",
			[]string{"state"}, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.serving, c.trainSecs, c.lastRun, c.lastFailed, c.running, c.runs, c.indexItems, c.vectors, c.stored, c.memory, c.memoryModel} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	a := c.a
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	ctx, cancel := context.WithTimeout(a.bg, 5*time.Second)
	defer cancel()
	if a.Ready() {
		if n, err := a.eng.Counts(ctx); err == nil { // counters kept by the store: no scan
			gauge(c.stored, float64(n.Items), "items")
			gauge(c.stored, float64(n.Users), "users")
			gauge(c.stored, float64(n.Events), "events")
		}
		if models, err := a.svc.Models(ctx); err == nil {
			for _, m := range models {
				if !m.Serving {
					continue
				}
				surface := "recommend"
				if m.Name == a.ranker.Name() {
					surface = "search"
				}
				primary := "false"
				if m.Primary {
					primary = "true"
				}
				gauge(c.serving, float64(m.Version), m.Name, surface, primary)
				gauge(c.trainSecs, m.TrainSecs, m.Name)
			}
		}
	}
	_, lerr, at := a.rt.Last()
	last, failed, running := 0.0, 0.0, 0.0
	if !at.IsZero() {
		last = float64(at.UnixNano()) / 1e9
	}
	if lerr != nil {
		failed = 1
	}
	if a.rt.Busy() {
		running = 1
	}
	c.mu.Lock()
	if at.After(c.seenAt) {
		c.seenAt = at
		if lerr != nil {
			c.failed++
		} else {
			c.okRuns++
		}
	}
	ok, bad := c.okRuns, c.failed
	c.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(c.runs, prometheus.CounterValue, ok, "ok")
	ch <- prometheus.MustNewConstMetric(c.runs, prometheus.CounterValue, bad, "failed")
	gauge(c.lastRun, last)
	gauge(c.lastFailed, failed)
	gauge(c.running, running)
	gauge(c.indexItems, float64(a.ix.Len()))
	if a.Ready() {
		c.memMu.Lock()
		if time.Since(c.memAt) >= memoryEvery {
			c.memRec, c.memIx, c.memAt = a.svc.MemoryBytes(), a.ix.MemoryBytes(), time.Now()
		}
		rec, ix := c.memRec, c.memIx
		c.memMu.Unlock()
		for _, p := range []struct {
			part string
			n    int64
		}{{"search_docs", ix.Docs}, {"search_postings", ix.Postings}, {"search_vectors", ix.Vectors},
			{"histories", rec.Histories}, {"ledger", rec.Ledger}, {"items", rec.Items}, {"related", rec.Related},
			{"rows", rec.Rows}} {
			gauge(c.memory, float64(p.n), p.part)
		}
		for name, n := range rec.Models {
			gauge(c.memoryModel, float64(n), name)
		}
	}
	vs := a.ix.VectorStats()
	for _, s := range []struct {
		state string
		n     int
	}{{"with_vector", vs.WithVector}, {"pending", vs.Pending}, {"retrying", vs.Retrying}, {"failed", vs.Failed}} {
		gauge(c.vectors, float64(s.n), s.state)
	}
}
