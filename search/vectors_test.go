package search

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/ann"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/embed"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// counting wraps a real embedder and counts the texts it embeds.
type counting struct {
	*embed.Hashing
	texts atomic.Int64
	gate  chan struct{} // when set, embedding several texts (items, not a query) waits for it to be closed
}

func (c *counting) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if c.gate != nil && len(texts) > 1 {
		select {
		case <-c.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c.texts.Add(int64(len(texts)))
	return c.Hashing.Embed(ctx, texts)
}

func openStore(t *testing.T) *boltstore.Store {
	t.Helper()
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// storedIndex indexes items with emb and st and waits for the vectors.
func storedIndex(t *testing.T, emb Embedder, st store.Vectors, items []catalog.Item) *Index {
	t.Helper()
	ix, err := NewIndex(DefaultConfig(), Options{Embedder: emb, Vectors: st, Registry: sharedRegistry(), EmbedBatch: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	if err := ix.Upsert(context.Background(), items...); err != nil {
		t.Fatal(err)
	}
	if err := ix.WaitVectors(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ix
}

func available(items []catalog.Item) int {
	n := 0
	for _, it := range items {
		if it.Available {
			n++
		}
	}
	return n
}

func TestStoredVectors(t *testing.T) {
	ctx := context.Background()
	items := fixture()
	n := int64(available(items))
	tests := []struct {
		name string
		// change runs on a fresh index over the store filled by a first one
		change    func(t *testing.T, st *boltstore.Store, items []catalog.Item) []catalog.Item
		dim       int   // of the second index's embedder
		embedded  int64 // texts the second index embeds
		withVecs  int   // its live items with a vector afterwards
		firstKept bool  // the first space's vectors are still all stored
	}{
		{
			name:   "restart embeds nothing",
			change: func(*testing.T, *boltstore.Store, []catalog.Item) []catalog.Item { return items },
			dim:    64, embedded: 0, withVecs: int(n), firstKept: true,
		},
		{
			name: "changed text embeds that item only",
			change: func(t *testing.T, st *boltstore.Store, items []catalog.Item) []catalog.Item {
				items = slices.Clone(items)
				items[0].Title = "Sharpie Permanent Marker, Extra Fine Point, Blue"
				if err := st.PutItems(ctx, items[:1]); err != nil {
					t.Fatal(err)
				}
				return items
			},
			dim: 64, embedded: 1, withVecs: int(n),
		},
		{
			name: "price change does not re-embed",
			change: func(t *testing.T, st *boltstore.Store, items []catalog.Item) []catalog.Item {
				items = slices.Clone(items)
				items[1].Price = price(99)
				return items
			},
			dim: 64, embedded: 0, withVecs: int(n), firstKept: true,
		},
		{
			name: "deleted item loses its vectors",
			change: func(t *testing.T, st *boltstore.Store, items []catalog.Item) []catalog.Item {
				if err := st.DeleteItem(ctx, items[0].ID); err != nil {
					t.Fatal(err)
				}
				got, err := st.GetVectors(ctx, "hash-ngram-64/64", []string{items[0].ID})
				if err != nil {
					t.Fatal(err)
				}
				if got[0].Vec != nil {
					t.Errorf("vector of deleted item %s still stored", items[0].ID)
				}
				return items[1:]
			},
			dim: 64, embedded: 0, withVecs: int(n) - 1,
		},
		{
			name:   "another embedder does not reuse or overwrite vectors",
			change: func(*testing.T, *boltstore.Store, []catalog.Item) []catalog.Item { return items },
			dim:    128, embedded: n, withVecs: int(n), firstKept: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			if err := st.PutItems(ctx, items); err != nil {
				t.Fatal(err)
			}
			first := &counting{Hashing: embed.NewHashing(64)}
			ix1 := storedIndex(t, first, st, items)
			if got := first.texts.Load(); got != n {
				t.Fatalf("first index embedded %d texts, want %d", got, n)
			}
			if s := ix1.VectorStats(); s.WithVector != int(n) || s.Pending != 0 {
				t.Fatalf("first index: %+v", s)
			}
			ix1.Close()

			again := tc.change(t, st, items)
			second := &counting{Hashing: embed.NewHashing(tc.dim)}
			ix2 := storedIndex(t, second, st, again)
			if got := second.texts.Load(); got != tc.embedded {
				t.Errorf("second index embedded %d texts, want %d", got, tc.embedded)
			}
			if s := ix2.VectorStats(); s.WithVector != tc.withVecs {
				t.Errorf("second index: %d items with vectors, want %d", s.WithVector, tc.withVecs)
			}
			// semantic search works on the loaded vectors
			r := search(t, ix2, Request{Query: "printer paper sheets", Mode: ModeSemantic, N: 1})
			if len(r.Items) != 1 || r.Items[0].ID != "7" {
				t.Errorf("semantic after reload: %v", ids(r))
			}
			var ids []string
			for _, it := range items {
				if it.Available {
					ids = append(ids, it.ID)
				}
			}
			got, err := st.GetVectors(ctx, "hash-ngram-64/64", ids)
			if err != nil {
				t.Fatal(err)
			}
			kept := 0
			for _, g := range got {
				if g.Vec != nil {
					kept++
				}
			}
			if tc.firstKept && kept != len(ids) {
				t.Errorf("first space holds %d of %d vectors", kept, len(ids))
			}
		})
	}
}

func TestKeywordDoesNotWaitForVectors(t *testing.T) {
	ctx := context.Background()
	emb := &counting{Hashing: embed.NewHashing(64), gate: make(chan struct{})}
	ix, err := NewIndex(DefaultConfig(), Options{Embedder: emb, Registry: sharedRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if err := ix.Upsert(ctx, fixture()...); err != nil { // returns while the embedder is blocked
		t.Fatal(err)
	}
	if s := ix.VectorStats(); s.WithVector != 0 || s.Pending != available(fixture()) {
		t.Fatalf("before embedding: %+v", s)
	}
	for _, mode := range []Mode{ModeKeyword, ModeHybrid} {
		r := search(t, ix, Request{Query: "sharpie marker", Mode: mode})
		if len(r.Items) == 0 || r.Items[0].ID != "1" {
			t.Errorf("%s before vectors: %v", mode, ids(r))
		}
	}
	if r := search(t, ix, Request{Query: "sharpie marker", Mode: ModeSemantic}); len(r.Items) != 0 {
		t.Errorf("semantic before vectors: %v", ids(r))
	}
	wctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := ix.WaitVectors(wctx); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitVectors on a done context: %v", err)
	}
	close(emb.gate)
	if err := ix.WaitVectors(ctx); err != nil {
		t.Fatal(err)
	}
	r := search(t, ix, Request{Query: "sharpie marker", Mode: ModeSemantic})
	if len(r.Items) == 0 || r.Items[0].ID != "1" {
		t.Errorf("semantic after vectors: %v", ids(r))
	}
}

// failing fails every Embed call.
type failing struct{ embed.Hashing }

func (failing) Embed(context.Context, []string) ([][]float32, error) {
	return nil, errors.New("model server down")
}

func TestEmbeddingFailureKeepsKeyword(t *testing.T) {
	ctx := context.Background()
	ix, err := NewIndex(DefaultConfig(), Options{Embedder: &failing{*embed.NewHashing(32)}, Registry: sharedRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if err := ix.Upsert(ctx, fixture()...); err != nil {
		t.Fatal(err)
	}
	if err := ix.WaitVectors(ctx); err == nil {
		t.Error("WaitVectors hid the embedding failure")
	}
	if err := ix.WaitVectors(ctx); err != nil {
		t.Errorf("failure reported twice: %v", err)
	}
	r := search(t, ix, Request{Query: "printer paper", Mode: ModeHybrid})
	if len(r.Items) == 0 || r.Items[0].ID != "7" {
		t.Errorf("hybrid with no vectors: %v", ids(r))
	}
}

func TestConcurrentUpdatesKeepNewestVector(t *testing.T) {
	ctx := context.Background()
	emb := &counting{Hashing: embed.NewHashing(64)}
	ix, err := NewIndex(DefaultConfig(), Options{Embedder: emb, Registry: sharedRegistry(), EmbedBatch: 2, EmbedWorkers: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				it := catalog.Item{ID: fmt.Sprint("i", i%5), Title: fmt.Sprintf("item %d version %d", i%5, w*100+i), Available: true}
				if err := ix.Upsert(ctx, it); err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	if err := ix.WaitVectors(ctx); err != nil {
		t.Fatal(err)
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	for id, d := range ix.byID {
		dc := &ix.docs[d]
		want, _ := emb.Hashing.Embed(ctx, []string{embedText(&dc.item)})
		if !slices.Equal(dc.vec.Decode(nil), ann.Encode(normalized(want[0])).Decode(nil)) {
			t.Errorf("item %s: vector is not the one of its current text %q", id, dc.item.Title)
		}
	}
}

func TestCloseStopsEmbedding(t *testing.T) {
	ctx := context.Background()
	emb := &counting{Hashing: embed.NewHashing(64), gate: make(chan struct{})} // never opened
	ix, err := NewIndex(DefaultConfig(), Options{Embedder: emb, Registry: sharedRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert(ctx, fixture()...); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil { // returns although the embedder never answers
		t.Fatal(err)
	}
	if err := ix.WaitVectors(ctx); err != nil {
		t.Errorf("after Close: %v", err)
	}
	if s := ix.VectorStats(); s.WithVector != 0 || s.Pending != 0 {
		t.Errorf("after Close: %+v", s)
	}
	// still indexes and searches by keyword
	if err := ix.Upsert(ctx, catalog.Item{ID: "x", Title: "Stapler", Available: true}); err != nil {
		t.Fatal(err)
	}
	if r := search(t, ix, Request{Query: "stapler"}); len(r.Items) != 1 {
		t.Errorf("keyword after Close: %v", ids(r))
	}
}

// flaky fails its first calls, then embeds.
type flaky struct {
	*embed.Hashing
	fails atomic.Int64
}

func (f *flaky) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) > 1 && f.fails.Add(-1) >= 0 {
		return nil, errors.New("model server restarting")
	}
	return f.Hashing.Embed(ctx, texts)
}

func TestFailedBatchesAreRetried(t *testing.T) {
	ctx := context.Background()
	emb := &flaky{Hashing: embed.NewHashing(64)}
	emb.fails.Store(2)
	ix, err := NewIndex(DefaultConfig(), Options{Embedder: emb, Registry: sharedRegistry(), EmbedRetry: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if err := ix.Upsert(ctx, fixture()...); err != nil {
		t.Fatal(err)
	}
	want := available(fixture())
	deadline := time.Now().Add(20 * time.Second) // a bound against hanging, not a timing check
	for ix.VectorStats().WithVector < want {
		if time.Now().After(deadline) {
			t.Fatalf("vectors never arrived: %+v", ix.VectorStats())
		}
		time.Sleep(time.Millisecond)
	}
	if s := ix.VectorStats(); s.Retrying != 0 || s.Pending != 0 {
		t.Errorf("after the retries: %+v", s)
	}
	// with retries off, a failure stays
	emb.fails.Store(1)
	ix2, err := NewIndex(DefaultConfig(), Options{Embedder: emb, Registry: sharedRegistry(), EmbedRetry: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer ix2.Close()
	if err := ix2.Upsert(ctx, fixture()...); err != nil {
		t.Fatal(err)
	}
	if err := ix2.WaitVectors(ctx); err == nil {
		t.Error("failure not reported")
	}
	if s := ix2.VectorStats(); s.WithVector != 0 || s.Retrying != 0 {
		t.Errorf("retry off: %+v", s)
	}
}

// A failed query embedding must not be reported as the mode asked for:
// hybrid then ranks by keyword only and says so; ltr still ranks with its
// model (without the semantic features) and stays ltr.
func TestQueryEmbeddingFailureReportsMode(t *testing.T) {
	ctx := context.Background()
	emb := embed.NewHashing(64)
	ix, err := NewIndex(DefaultConfig(), Options{Embedder: emb, QueryEmbedder: &failing{*emb}, Registry: sharedRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if err := ix.Upsert(ctx, fixture()...); err != nil {
		t.Fatal(err)
	}
	if err := ix.WaitVectors(ctx); err != nil {
		t.Fatal(err)
	}
	kw := ids(search(t, ix, Request{Query: "printer paper", Mode: ModeKeyword}))
	tests := []struct {
		name   string
		ranker bool
		mode   Mode
		want   Mode
	}{
		{"hybrid falls back to keyword", false, ModeHybrid, ModeKeyword},
		{"ltr without a ranker is keyword", false, ModeLTR, ModeKeyword},
		{"ltr with a ranker falls back to keyword (its semantic features would be 0)", true, ModeLTR, ModeKeyword},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Ranker
			if tc.ranker {
				r = weighted{names: FeatureNames(), w: map[string]float64{"bm25f": 1}}
			}
			if err := ix.SetRanker(r); err != nil {
				t.Fatal(err)
			}
			res := search(t, ix, Request{Query: "printer paper", Mode: tc.mode})
			if res.Mode != tc.want {
				t.Errorf("mode %q, want %q", res.Mode, tc.want)
			}
			if got := ids(res); !sameSet(got, kw) {
				t.Errorf("items %v, keyword finds %v", got, kw)
			}
		})
	}
	if _, err := ix.Search(ctx, Request{Query: "printer paper", Mode: ModeSemantic}); err == nil {
		t.Error("semantic search hid the failed query embedding")
	}
}

func TestRetryWait(t *testing.T) {
	tests := []struct {
		base    time.Duration
		attempt int
		want    time.Duration
	}{
		{30 * time.Second, 1, 30 * time.Second},
		{30 * time.Second, 2, time.Minute},
		{30 * time.Second, 4, 4 * time.Minute},
		{30 * time.Second, 5, maxRetryWait},
		{30 * time.Second, 6, maxRetryWait},
		{30 * time.Second, 1000, maxRetryWait}, // no overflow
		{time.Millisecond, 3, 4 * time.Millisecond},
		{10 * time.Minute, 1, maxRetryWait},
	}
	for _, tc := range tests {
		if got := retryWait(tc.base, tc.attempt); got != tc.want {
			t.Errorf("retryWait(%v, %d) = %v, want %v", tc.base, tc.attempt, got, tc.want)
		}
	}
}

// rejecting embeds with a real embedder but fails every call holding a
// text with "BROKEN" in it, as a model server rejecting one input fails
// the whole request.
type rejecting struct {
	*embed.Hashing
	calls atomic.Int64
}

func (r *rejecting) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	r.calls.Add(1)
	for _, s := range texts {
		if strings.Contains(s, "BROKEN") {
			return nil, errors.New("input rejected")
		}
	}
	return r.Hashing.Embed(ctx, texts)
}

func TestBadItemDoesNotFailItsBatch(t *testing.T) {
	ctx := context.Background()
	var items []catalog.Item
	for i := 0; i < 40; i++ {
		items = append(items, catalog.Item{ID: fmt.Sprint("i", i), Title: fmt.Sprintf("notebook model %d", i), Available: true})
	}
	tests := []struct {
		name     string
		bad      []int
		batch    int
		retry    time.Duration
		with     int // items with a vector after WaitVectors
		failed   int
		maxCalls int64 // Embed calls, probes included
	}{
		{name: "one bad item in one batch", bad: []int{17}, batch: 64, retry: time.Hour, with: 39, failed: 1, maxCalls: 40},
		{name: "two bad items in two batches", bad: []int{3, 33}, batch: 16, retry: time.Hour, with: 38, failed: 2, maxCalls: 60},
		{name: "all items good", batch: 16, retry: time.Hour, with: 40, maxCalls: 3},
		{name: "retries off: the whole batch fails", bad: []int{17}, batch: 16, retry: -1, with: 24, failed: 16, maxCalls: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			items := slices.Clone(items)
			for _, b := range tc.bad {
				items[b].Title = "BROKEN " + items[b].Title
			}
			emb := &rejecting{Hashing: embed.NewHashing(32)}
			ix, err := NewIndex(DefaultConfig(), Options{Embedder: emb, Registry: sharedRegistry(), EmbedBatch: tc.batch, EmbedWorkers: 2, EmbedRetry: tc.retry})
			if err != nil {
				t.Fatal(err)
			}
			defer ix.Close()
			if err := ix.Upsert(ctx, items...); err != nil {
				t.Fatal(err)
			}
			err = ix.WaitVectors(ctx)
			if (err != nil) != (len(tc.bad) > 0) {
				t.Errorf("WaitVectors: %v", err)
			}
			s := ix.VectorStats()
			want := VectorStats{WithVector: tc.with, Failed: tc.failed}
			if s != want {
				t.Errorf("stats %+v, want %+v", s, want)
			}
			if n := emb.calls.Load(); n > tc.maxCalls {
				t.Errorf("%d Embed calls, want at most %d", n, tc.maxCalls)
			}
			// deleting a skipped item forgets it (no leak), and adding it
			// back unchanged skips it again only after a new try
			if len(tc.bad) > 0 {
				gone := items[tc.bad[0]].ID
				ix.Delete(gone)
				ix.vec.mu.Lock()
				_, kept := ix.vec.skipped[gone]
				ix.vec.mu.Unlock()
				if kept {
					t.Errorf("deleted item %s is still remembered as skipped", gone)
				}
				if err := ix.Upsert(ctx, items[tc.bad[0]]); err != nil {
					t.Fatal(err)
				}
				if err := ix.WaitVectors(ctx); err == nil || ix.VectorStats().Failed != tc.failed {
					t.Errorf("re-added bad item: %v, stats %+v", err, ix.VectorStats())
				}
			}
			// a skipped item is embedded again once it changes
			for _, b := range tc.bad {
				items[b].Title = fmt.Sprintf("fixed notebook %d", b)
				if err := ix.Upsert(ctx, items[b]); err != nil {
					t.Fatal(err)
				}
			}
			if err := ix.WaitVectors(ctx); err != nil {
				t.Fatal(err)
			}
			if s := ix.VectorStats(); s.WithVector != tc.with+len(tc.bad) || s.Failed != tc.failed-len(tc.bad) {
				t.Errorf("after fixing the bad items: %+v", s)
			}
		})
	}
}

// outage fails every call (probes too) while down is set, like a model
// server that is not running.
type outage struct {
	*embed.Hashing
	down   atomic.Bool
	failed atomic.Int64 // failed calls with several texts
}

func (o *outage) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if o.down.Load() {
		if len(texts) > 1 {
			o.failed.Add(1)
		}
		return nil, errors.New("connection refused")
	}
	return o.Hashing.Embed(ctx, texts)
}

func TestRetriesOutlastALongOutage(t *testing.T) {
	ctx := context.Background()
	emb := &outage{Hashing: embed.NewHashing(32)}
	emb.down.Store(true)
	ix, err := NewIndex(DefaultConfig(), Options{Embedder: emb, Registry: sharedRegistry(), EmbedRetry: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if err := ix.Upsert(ctx, fixture()...); err != nil {
		t.Fatal(err)
	}
	if err := ix.WaitVectors(ctx); err == nil {
		t.Error("WaitVectors hid the outage")
	}
	want := available(fixture())
	deadline := time.Now().Add(20 * time.Second) // a bound against hanging, not a timing check
	for emb.failed.Load() < 8 {                  // more tries than the 5 that used to be the limit
		if time.Now().After(deadline) {
			t.Fatalf("only %d tries: %+v", emb.failed.Load(), ix.VectorStats())
		}
		time.Sleep(time.Millisecond)
	}
	if s := ix.VectorStats(); s.WithVector != 0 || s.Failed != 0 || s.Retrying+s.Pending != want {
		t.Errorf("during the outage: %+v, want all %d items retrying or pending", s, want)
	}
	emb.down.Store(false)
	for ix.VectorStats().WithVector < want {
		if time.Now().After(deadline) {
			t.Fatalf("vectors never arrived after the outage: %+v", ix.VectorStats())
		}
		time.Sleep(time.Millisecond)
	}
	if s := ix.VectorStats(); s != (VectorStats{WithVector: want}) {
		t.Errorf("after the outage: %+v", s)
	}
}

func TestCloseStopsRetries(t *testing.T) {
	ctx := context.Background()
	emb := &outage{Hashing: embed.NewHashing(32)}
	emb.down.Store(true)
	ix, err := NewIndex(DefaultConfig(), Options{Embedder: emb, Registry: sharedRegistry(), EmbedRetry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert(ctx, fixture()...); err != nil {
		t.Fatal(err)
	}
	if err := ix.WaitVectors(ctx); err == nil {
		t.Error("WaitVectors hid the outage")
	}
	if s := ix.VectorStats(); s.Retrying != available(fixture()) {
		t.Fatalf("before Close: %+v", s)
	}
	if err := ix.Close(); err != nil { // returns although a retry is pending
		t.Fatal(err)
	}
	if s := ix.VectorStats(); s != (VectorStats{}) {
		t.Errorf("after Close: %+v", s)
	}
}
