package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/pipeline"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/boltstore"
)

func TestErrorOf(t *testing.T) {
	for _, c := range []struct {
		name   string
		err    error
		status int
		msg    string // part of the message
	}{
		{"decided", Conflict("taken"), 409, "taken"},
		{"decided, wrapped", fmt.Errorf("x: %w", NotFound("no such thing")), 404, "no such thing"},
		{"batch", &catalog.BatchError{What: "items", Problems: []catalog.Problem{{Index: 1, Field: "price", Problem: "not a number"}}}, 400, "nothing from this request was stored"},
		{"syntax", &catalog.SyntaxError{}, 400, ""},
		{"too large", &http.MaxBytesError{Limit: 10}, 413, "larger than 10 bytes"},
		{"bad cursor", fmt.Errorf("list: %w", store.ErrBadCursor), 400, "invalid cursor"},
		{"not found", fmt.Errorf("get: %w", store.ErrNotFound), 404, "not found"},
		{"unknown item", recommend.ErrUnknownItem, 404, "unknown item"},
		{"empty basket", fmt.Errorf("basket: %w", recommend.ErrEmptyBasket), 404, "none of the ids is a known item"},
		{"no rollback", store.ErrNoRollback, 409, "no earlier version"},
		{"busy", recommend.ErrBusy, 409, "under way"},
		{"cancelled", context.Canceled, 503, "cancelled"},
		{"timed out", fmt.Errorf("scan: %w", context.DeadlineExceeded), 503, "timed out"},
		{"disk full", &fs.PathError{Op: "write", Path: "/data/aisle.db", Err: syscall.ENOSPC}, 507, "disk is full"},
		{"quota", fmt.Errorf("store events: %w", syscall.EDQUOT), 507, "nothing from this request was stored"},
		{"anything else", errors.New("bolt: page 7 corrupt at /var/secret"), 500, "internal error"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := ErrorOf(c.err)
			if e.Status != c.status || !strings.Contains(e.Msg, c.msg) {
				t.Errorf("got %d %q, want %d containing %q", e.Status, e.Msg, c.status, c.msg)
			}
			if e.Status == 500 && strings.Contains(e.Msg, "corrupt") {
				t.Errorf("a 500 leaks the detail: %q", e.Msg)
			}
		})
	}
}

// The wrapper: statuses, Retry-After, nosniff, opaque 500s with the detail
// in the log, and an answer that cannot be encoded is a 500, not an empty 200.
func TestJSONWrapper(t *testing.T) {
	var logged bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logged, nil))}
	for _, c := range []struct {
		name       string
		f          Func
		status     int
		body       string // part of the body
		retryAfter string
		logs       string // part of the log
	}{
		{"value", func(*http.Request) (any, error) { return Accepted{3}, nil }, 200, `{"accepted":3}`, "", ""},
		{"with status", func(*http.Request) (any, error) { return WithStatus(202, Status{"started"}), nil }, 202, `"started"`, "", ""},
		{"bad request", func(*http.Request) (any, error) { return nil, BadRequest("n=%q is bad", "x") }, 400, `n=\"x\" is bad`, "", ""},
		{"unavailable", func(*http.Request) (any, error) {
			return nil, Unavailable("embedder down", 1500e6, errors.New("dial tcp: refused"))
		}, 503, "embedder down", "2", "dial tcp: refused"},
		{"internal", func(*http.Request) (any, error) { return nil, errors.New("disk on fire") }, 500, "internal error", "", "disk on fire"},
		{"cannot encode", func(*http.Request) (any, error) { return map[string]float64{"x": math.NaN()}, nil }, 500, "internal error", "", "unsupported value"},
	} {
		t.Run(c.name, func(t *testing.T) {
			logged.Reset()
			rec := httptest.NewRecorder()
			s.JSON(c.f)(rec, httptest.NewRequest("GET", "/api/x", nil))
			if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.body) {
				t.Errorf("got %d %s, want %d containing %s", rec.Code, rec.Body, c.status, c.body)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Errorf("body is not JSON: %q", rec.Body)
			}
			if got := rec.Header().Get("Retry-After"); got != c.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, c.retryAfter)
			}
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no X-Content-Type-Options: nosniff")
			}
			if c.logs != "" && !strings.Contains(logged.String(), c.logs) {
				t.Errorf("log %q lacks %q", logged.String(), c.logs)
			}
			if c.status == 500 && strings.Contains(rec.Body.String(), c.logs) {
				t.Errorf("the 500 tells the caller the detail: %s", rec.Body)
			}
		})
	}
}

// downEmbedder is an embedder whose service does not answer.
type downEmbedder struct{}

func (downEmbedder) Embed(context.Context, []string) ([][]float32, error) {
	return nil, errors.New("connect: connection refused")
}
func (downEmbedder) Dim() int     { return 8 }
func (downEmbedder) Name() string { return "down" }

// newTestServer is a ready server with the recommendation and search
// routes over an empty store; opts sets up the index.
func newTestServer(t *testing.T, opts search.Options) *Server {
	t.Helper()
	st, eng := testEngine(t)
	srv, err := New(Options{Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	svc := recommend.New(st, recommend.Config{}, nil)
	srv.AddRecommendRoutes(svc, svc.NewRetrainer(0, 0, pipeline.Options{}))
	ix, err := search.NewIndex(search.DefaultConfig(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	t.Cleanup(srv.AddSearchRoutes(ix, search.NewClicks(), svc, search.ModeKeyword))
	if err := ix.Upsert(context.Background(), catalog.Item{ID: "a", Title: "blue pen", Available: true}); err != nil {
		t.Fatal(err)
	}
	srv.SetReady(true)
	return srv
}

func TestSearchErrors(t *testing.T) {
	noEmb := newTestServer(t, search.Options{})
	down := newTestServer(t, search.Options{Embedder: downEmbedder{}, QueryEmbedder: downEmbedder{}})
	for _, c := range []struct {
		name   string
		srv    *Server
		url    string
		status int
	}{
		{"keyword", noEmb, "/api/search?q=pen", 200},
		{"semantic without an embedder is the caller's mistake", noEmb, "/api/search?q=pen&mode=semantic", 400},
		{"semantic with the embedder down is a dependency down", down, "/api/search?q=pen&mode=semantic", 503},
		{"hybrid with the embedder down falls back to keyword", down, "/api/search?q=pen&mode=hybrid", 200},
		{"NaN price", noEmb, "/api/search?q=pen&min_price=NaN", 400},
		{"infinite price", noEmb, "/api/search?q=pen&max_price=Inf", 400},
		{"negative price", noEmb, "/api/search?q=pen&max_price=-1", 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			c.srv.ServeHTTP(rec, httptest.NewRequest("GET", c.url, nil))
			if rec.Code != c.status {
				t.Fatalf("%s: %d %s, want %d", c.url, rec.Code, rec.Body, c.status)
			}
			if c.status == 503 && rec.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if strings.Contains(rec.Body.String(), "connection refused") {
				t.Errorf("the answer tells the dependency's error: %s", rec.Body)
			}
		})
	}
}

func TestRecommendParams(t *testing.T) {
	srv := newTestServer(t, search.Options{})
	for _, c := range []struct {
		method, url, body string
		status            int
	}{
		{"GET", "/api/popular?window=7d", "", 200},
		{"GET", "/api/popular?window=Infd", "", 400},
		{"GET", "/api/popular?window=NaNd", "", 400},
		{"GET", "/api/popular?window=1e300d", "", 400},
		{"GET", "/api/trending?min_price=NaN", "", 400},
		{"GET", "/api/trending?max_price=%2BInf", "", 400},
		{"GET", "/api/trending?diversity=NaN", "", 400},
		{"GET", "/api/trending?n=0", "", 400},
		{"POST", "/api/recommend/session", `{"items":[],"n":0}`, 400},
		{"POST", "/api/recommend/session", `{"items":[],"n":201}`, 400},
		{"POST", "/api/recommend/session", `{"items":[],"n":3}`, 200},
		{"POST", "/api/recommend/session", `{"items":[]}`, 200},
	} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(c.method, c.url, strings.NewReader(c.body)))
		if rec.Code != c.status {
			t.Errorf("%s %s %s: %d %s, want %d", c.method, c.url, c.body, rec.Code, rec.Body, c.status)
		}
	}
}

// testEngine is an engine on a bolt store in a temporary directory, both
// closed when the test ends.
func testEngine(tb testing.TB) (*boltstore.Store, *engine.Engine) {
	tb.Helper()
	st, err := boltstore.Open(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	eng, err := engine.New(engine.Options{Store: st})
	if err != nil {
		tb.Fatal(err)
	}
	return st, eng
}
