package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// limitedServer is the real API on 127.0.0.1 with keys and a rate limit
// of one request per 50 s, burst 2: no bucket refills during the test,
// even under the race detector on a loaded machine (at 0.5/s a slow run
// got a fresh token between the second and third request).
func limitedServer(t *testing.T, trustProxy bool) string {
	t.Helper()
	_, eng := testEngine(t)
	srv, err := New(Options{Engine: eng, AdminKey: "admin-k", ReadKey: "read-k", RateLimit: 0.02, RateBurst: 2, TrustProxy: trustProxy})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetReady(true)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts.URL
}

type hdr map[string]string

func get(t *testing.T, url string, h hdr) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	return resp
}

func TestRateLimitOverHTTP(t *testing.T) {
	base := limitedServer(t, false)
	// the client IP (127.0.0.1) has a burst of 2; the third is refused
	for i := range 2 {
		if r := get(t, base+"/api/stats", nil); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("request %d without a key: %d, want 401 (limited only after the burst)", i, r.StatusCode)
		}
	}
	r := get(t, base+"/api/stats", nil)
	if r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third request: %d, want 429", r.StatusCode)
	}
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 50 {
		t.Errorf("Retry-After %q, want 1 to 50 seconds (the time to the next token)", r.Header.Get("Retry-After"))
	}
	body, _ := io.ReadAll(r.Body)
	if !strings.Contains(string(body), `"error":"too many requests from this client IP`) || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("429 answer: %s %s", r.Header.Get("Content-Type"), body)
	}
	// the 429 is described in openapi.json
	_, router := apiDoc(t)
	req := httptest.NewRequest("GET", "http://aisle.test/api/stats", nil)
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatal(err)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 r.StatusCode, Header: r.Header, Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("the 429 answer does not match openapi.json: %v", err)
	}
	// probes and monitoring are never limited
	for _, p := range []string{"/api/health", "/api/ready", "/metrics"} {
		if r := get(t, base+p, nil); r.StatusCode != http.StatusOK {
			t.Errorf("%s from a limited IP: %d", p, r.StatusCode)
		}
	}
	// the read key has a bucket of its own; the admin key is never limited
	for i := range 2 {
		if r := get(t, base+"/api/stats", hdr{"Authorization": "Bearer read-k"}); r.StatusCode != http.StatusOK {
			t.Fatalf("read key request %d: %d", i, r.StatusCode)
		}
	}
	if r := get(t, base+"/api/stats", hdr{"X-API-Key": "read-k"}); r.StatusCode != http.StatusTooManyRequests ||
		!strings.Contains(readAll(r), "this API key") {
		t.Errorf("third read key request: %d, want 429 for the key", r.StatusCode)
	}
	for i := range 5 {
		if r := get(t, base+"/api/stats", hdr{"Authorization": "Bearer admin-k"}); r.StatusCode != http.StatusOK {
			t.Fatalf("admin request %d: %d", i, r.StatusCode)
		}
	}
	// a wrong key counts against the IP: guessing keys is limited too
	if r := get(t, base+"/api/stats", hdr{"X-API-Key": "guess"}); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("wrong key from a limited IP: %d, want 429", r.StatusCode)
	}
	// without trust_proxy, X-Forwarded-For does not buy a fresh bucket
	if r := get(t, base+"/api/stats", hdr{"X-Forwarded-For": "203.0.113.9"}); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("spoofed X-Forwarded-For: %d, want 429", r.StatusCode)
	}
}

// Behind a proxy, each forwarded client has its own bucket.
func TestRateLimitTrustProxy(t *testing.T) {
	base := limitedServer(t, true)
	for i := range 3 {
		want := http.StatusUnauthorized
		if i == 2 {
			want = http.StatusTooManyRequests
		}
		if r := get(t, base+"/api/stats", hdr{"X-Forwarded-For": "203.0.113.9"}); r.StatusCode != want {
			t.Fatalf("client A request %d: %d, want %d", i, r.StatusCode, want)
		}
	}
	if r := get(t, base+"/api/stats", hdr{"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("client B behind the same proxy: %d, want its own bucket (401)", r.StatusCode)
	}
}

// No limit unless asked, and a bad one is refused.
func TestRateLimitOptions(t *testing.T) {
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng, _ := engine.New(engine.Options{Store: st})
	srv, err := New(Options{Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetReady(true)
	for i := range 50 {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", "/api/stats", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("request %d without a limit: %d", i, rec.Code)
		}
	}
	if _, err := New(Options{Engine: eng, RateLimit: -1}); err == nil {
		t.Error("a negative rate limit was accepted")
	}
}

func readAll(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

// The cost of the rate limit on the request path: GET /api/stats through
// Server.ServeHTTP without a limit, and with one that never refuses (a
// bucket lookup per request, from 256 client IPs).
func BenchmarkRateLimit(b *testing.B) {
	st, err := boltstore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	eng, _ := engine.New(engine.Options{Store: st})
	for _, c := range []struct {
		name string
		rate float64
	}{{"off", 0}, {"on", 1e9}} {
		srv, err := New(Options{Engine: eng, RateLimit: c.rate})
		if err != nil {
			b.Fatal(err)
		}
		srv.SetReady(true)
		b.Run(c.name, func(b *testing.B) {
			reqs := make([]*http.Request, 256)
			for i := range reqs {
				reqs[i] = httptest.NewRequest("GET", "/api/stats", nil)
				reqs[i].RemoteAddr = "10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256) + ":4000"
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, reqs[i%len(reqs)])
				if rec.Code != http.StatusOK {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
