package aisle

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
)

// start opens and starts Aisle over a fresh data directory and serves it
// on 127.0.0.1; stop cancels serving and returns what Serve returned.
func start(t *testing.T, cfg config.Config) (a *Aisle, url string, stop func() error) {
	t.Helper()
	cfg.Data = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return a, "http://" + ln.Addr().String(), func() error {
		cancel()
		select {
		case err := <-served:
			return err
		case <-time.After(time.Minute):
			t.Fatal("Serve did not return a minute after its context ended")
			return nil
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMetricsForOperators(t *testing.T) {
	_, url, stop := start(t, config.Default())
	defer stop()
	resp, err := http.Post(url+"/api/items", "application/json", strings.NewReader(`{"id":"a","title":"blue pen"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// a logged search is an event counted at the engine like any other
	get(t, url+"/api/search?q=pen&session_id=s1")
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := get(t, url+"/metrics")
		missing := ""
		for _, want := range []string{
			`aisle_build_info{build_date=`,
			`aisle_search_index_items 1`,
			`aisle_stored{kind="items"} 1`,
			`aisle_search_vectors{state="pending"} 0`,
			`aisle_retrain_running 0`,
			`aisle_retrain_last_failed 0`,
			`aisle_retrain_runs_total{result="failed"} 0`,
			`aisle_search_log_dropped_total 0`,
			`aisle_events_ingested_total{type="search"} 1`,
			`aisle_memory_bytes{part="search_docs"} `,
			`aisle_memory_bytes{part="items"} `,
			`aisle_memory_bytes{part="histories"} `,
			`aisle_memory_bytes{part="rows"} `,
		} {
			if !strings.Contains(body, want) {
				missing = want
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) { // the search log writes in the background
			t.Fatalf("/metrics lacks %s:\n%s", missing, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A request still running when the drain time is up is cut, and Serve
// still returns nil: the shutdown was clean.
func TestShutdownCutsRequestsAfterTheDrainTime(t *testing.T) {
	cfg := config.Default()
	cfg.Server.ShutdownTimeout = 100 * time.Millisecond
	_, url, stop := start(t, cfg)
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// a request whose body never comes: the handler is reading it
	io.WriteString(conn, "POST /api/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{\"id\":")
	time.Sleep(100 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatalf("Serve after a timed-out drain: %v", err)
	}
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	n, err := conn.Read(make([]byte, 1))
	if n > 0 || err == nil {
		t.Fatal("the running request was answered, not cut")
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the running request was not cut")
	}
}

// Close waits for the work it started (here a retraining run asked for
// over HTTP), closes the store last, and refuses work afterwards.
func TestCloseJoinsBackgroundWork(t *testing.T) {
	a, url, stop := start(t, config.Default())
	// 409 while the work a fresh server starts on its own (a first
	// training check, item relations) is under way: ask again
	var code int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Post(url+"/api/models/retrain", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if code = resp.StatusCode; code != http.StatusConflict || time.Now().After(deadline) {
			break
		}
	}
	if code != http.StatusAccepted {
		t.Fatalf("retrain: %d", code)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if a.rt.Busy() {
		t.Fatal("a retraining run still runs after Close")
	}
	if a.goBackground(func() {}) {
		t.Fatal("background work started after Close")
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := a.st.CountItems(context.Background()); err == nil {
		t.Fatal("the store is still open after Close")
	}
}

// The search-log writer is background work of the root: a search answered
// just before Close is in the store after Close, and the writer has ended
// (Close waited for it as a member of the group).
func TestCloseFlushesTheSearchLog(t *testing.T) {
	cfg := config.Default()
	a, url, stop := start(t, cfg)
	if err := a.Engine().AddItems(context.Background(), []catalog.Item{{ID: "p1", Title: "blue pen"}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if code, body := get(t, url+"/api/search?q=pen&session_id=s1"); code != http.StatusOK {
			t.Fatalf("search: %d %s", code, body)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	data := a.cfg.Data
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.Data = data
	b, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	n := 0
	if err := b.st.ScanEvents(context.Background(), 0, func(e events.Event) error {
		if e.Type == events.Search {
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 20 {
		t.Fatalf("%d logged searches in the store after Close, want 20", n)
	}
}

// While the prepare hook runs, the handler answers 503 with Retry-After
// (readiness included); what the hook wrote is loaded before ready.
func TestPrepareThenReady(t *testing.T) {
	cfg := config.Default()
	cfg.Data = t.TempDir()
	ctx := context.Background()
	inPrepare, release := make(chan struct{}), make(chan struct{})
	a, err := Open(ctx, cfg, WithPrepare(func(ctx context.Context, eng *engine.Engine) error {
		close(inPrepare)
		<-release
		return eng.AddItems(ctx, []catalog.Item{{ID: "demo-1", Title: "stapler", Available: true}})
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	started := make(chan error, 1)
	go func() { started <- a.Start(ctx) }()
	<-inPrepare
	for _, path := range []string{"/api/ready", "/api/stats", "/"} {
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("GET %s while preparing: %d", path, rec.Code)
		}
		if path != "/api/ready" && rec.Header().Get("Retry-After") == "" {
			t.Errorf("GET %s while preparing: no Retry-After", path)
		}
	}
	close(release)
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/search?q=stapler", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"demo-1"`) {
		t.Fatalf("after Start: %d %s", rec.Code, rec.Body)
	}
	if err := a.Start(ctx); err == nil {
		t.Fatal("a second Start was accepted")
	}
}

// The server section's rate limit reaches the API, and the events
// section's rating scale the engine: both answered over HTTP.
func TestConfigReachesTheServer(t *testing.T) {
	cfg := config.Default()
	cfg.Server.RateLimit, cfg.Server.RateBurst = 0.5, 4
	cfg.Events.RatingScale = []float64{1, 5}
	_, url, stop := start(t, cfg)
	defer stop()
	post := func(path, body string) (int, string) {
		resp, err := http.Post(url+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("/api/items", `{"id":"x","title":"pen"}`); code != http.StatusOK {
		t.Fatalf("an item: %d %s", code, body)
	}
	if code, body := post("/api/events", `{"user_id":"u","item_id":"x","type":"rating","value":7}`); code != http.StatusBadRequest || !strings.Contains(body, "[1, 5]") {
		t.Errorf("a rating of 7 on a 1..5 scale: %d %s, want 400 naming the scale", code, body)
	}
	if code, body := post("/api/events", `{"user_id":"u","item_id":"x","type":"rating","value":5}`); code != http.StatusOK {
		t.Errorf("a rating of 5 on a 1..5 scale: %d %s", code, body)
	}
	if code, body := get(t, url+"/api/stats"); code != http.StatusOK {
		t.Errorf("fourth request with burst 4: %d %s", code, body)
	}
	if code, body := get(t, url+"/api/stats"); code != http.StatusTooManyRequests {
		t.Errorf("fifth request with burst 4: %d %s, want 429", code, body)
	}
}

// memory.limit reaches the Go runtime's soft limit when Aisle opens.
func TestMemoryLimitSetsTheRuntimeLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	for _, c := range []struct {
		limit string
		want  int64
	}{{"1.5GiB", 3 << 29}, {"800MB", 800e6}} {
		cfg := config.Default()
		cfg.Memory.Limit = c.limit
		a, _, stop := start(t, cfg)
		if got := debug.SetMemoryLimit(-1); got != c.want {
			t.Errorf("memory.limit %s: runtime limit %d, want %d", c.limit, got, c.want)
		}
		stop()
		a.Close()
	}
	cfg := config.Default()
	cfg.Memory.Limit = "lots"
	cfg.Data = t.TempDir()
	if _, err := Open(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "memory.limit") {
		t.Errorf("memory.limit lots: err %v, want one naming the key", err)
	}
}
