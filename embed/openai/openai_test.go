package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeServer is a local OpenAI-compatible embeddings server: the vector of
// a text is [len(text), number of 'a's, 1, 0] (before normalisation), and
// answers list the embeddings in reverse order to exercise "index".
type fakeServer struct {
	t        *testing.T
	calls    atomic.Int64
	failures []int // status codes to answer with first, one per call
	delay    time.Duration
	mu       sync.Mutex
	inputs   [][]string
	respond  func(w http.ResponseWriter, in []string) bool // optional override
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(f.calls.Add(1))
	if r.Method != http.MethodPost || r.URL.Path != "/v1/embeddings" {
		http.Error(w, "wrong route "+r.Method+" "+r.URL.Path, http.StatusNotFound)
		return
	}
	if got := r.Header.Get("Authorization"); got != "Bearer sk-test" {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}`)
		return
	}
	var req struct {
		Model string   `json:"model"`
		Input []string `json:"input"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model != "test-model" {
		http.Error(w, fmt.Sprintf("bad request: %v model %q", err, req.Model), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.inputs = append(f.inputs, req.Input)
	f.mu.Unlock()
	if n <= len(f.failures) {
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(f.failures[n-1])
		fmt.Fprintf(w, `{"error":{"message":"failure %d"}}`, n)
		return
	}
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-r.Context().Done():
			return
		}
	}
	if f.respond != nil && f.respond(w, req.Input) {
		return
	}
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	var data []item
	for i := len(req.Input) - 1; i >= 0; i-- {
		s := req.Input[i]
		data = append(data, item{"embedding", i, []float32{float32(len(s)), float32(strings.Count(s, "a")), 1, 0}})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model})
}

func newClient(t *testing.T, f *fakeServer, cfg Config) *Client {
	t.Helper()
	srv := httptest.NewServer(f) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	cfg.URL = srv.URL + "/v1/"
	cfg.Model = "test-model"
	if cfg.APIKey == "" {
		cfg.APIKey = "sk-test"
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Millisecond
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func want(s string) []float32 {
	v := []float64{float64(len(s)), float64(strings.Count(s, "a")), 1, 0}
	n := math.Sqrt(v[0]*v[0] + v[1]*v[1] + 1)
	return []float32{float32(v[0] / n), float32(v[1] / n), float32(1 / n), 0}
}

func near(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-6 {
			return false
		}
	}
	return true
}

func TestEmbedBatchesAndOrder(t *testing.T) {
	f := &fakeServer{t: t}
	c := newClient(t, f, Config{BatchSize: 3})
	if c.Dim() != 0 {
		t.Fatalf("Dim before any answer = %d, want 0", c.Dim())
	}
	texts := []string{"a", "banana", "", "cab", "alpaca", "x", "aaaa"}
	got, err := c.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(texts) {
		t.Fatalf("%d vectors for %d texts", len(got), len(texts))
	}
	for i, s := range texts {
		if s == "" {
			s = " " // sent as a space
		}
		if !near(got[i], want(s)) {
			t.Errorf("vector %d (%q) = %v, want %v", i, texts[i], got[i], want(s))
		}
	}
	if n := f.calls.Load(); n != 3 {
		t.Errorf("%d requests for 7 texts in batches of 3, want 3", n)
	}
	if f.inputs[1][2] != "x" || f.inputs[2][0] != "aaaa" || len(f.inputs[0]) != 3 || f.inputs[0][2] != " " {
		t.Errorf("inputs sent: %q", f.inputs)
	}
	if c.Dim() != 4 {
		t.Errorf("Dim after an answer = %d, want 4", c.Dim())
	}
	if want := "openai:test-model@" + strings.TrimSuffix(strings.TrimPrefix(c.cfg.URL, "http://"), "/"); c.Name() != want {
		t.Errorf("Name = %q, want %q", c.Name(), want)
	}
}

// Name is the vector space of stored item vectors: the same model name on
// two servers must give two names, the same server spelt two ways one, and
// no secret may leak into it.
func TestNameIdentifiesEndpoint(t *testing.T) {
	tests := []struct {
		url, key, want string
	}{
		{"https://api.openai.com/v1", "sk-secret", "openai:m@api.openai.com/v1"},
		{"https://API.OpenAI.com:443/v1/", "", "openai:m@api.openai.com/v1"},
		{"http://127.0.0.1:8080/v1", "", "openai:m@127.0.0.1:8080/v1"},
		{"http://127.0.0.1:8081/v1", "", "openai:m@127.0.0.1:8081/v1"},
		{"http://gpu-box:80", "", "openai:m@gpu-box"},
		{"http://gpu-box:443/", "", "openai:m@gpu-box:443"},
		{"https://user:sk-inurl@models.example.com/openai/v1?x=1", "sk-secret", "openai:m@models.example.com/openai/v1"},
		{"http://[::1]:9000/v1", "", "openai:m@[::1]:9000/v1"},
	}
	for _, tc := range tests {
		c, err := New(Config{URL: tc.url, Model: "m", APIKey: tc.key})
		if err != nil {
			t.Errorf("New(%q): %v", tc.url, err)
			continue
		}
		if got := c.Name(); got != tc.want {
			t.Errorf("Name of %q = %q, want %q", tc.url, got, tc.want)
		}
		if strings.Contains(c.Name(), "sk-") {
			t.Errorf("Name of %q leaks a secret: %q", tc.url, c.Name())
		}
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name      string
		failures  []int
		retries   int
		wantErr   string // "" means success
		wantCalls int64
	}{
		{"429 then ok", []int{429}, 0, "", 2},
		{"503, 502 then ok", []int{503, 502}, 0, "", 3},
		{"500 until retries run out", []int{500, 500, 500}, 2, "after 3 attempts: status 500: failure 3", 3},
		{"400 is not retried", []int{400}, 0, "status 400: failure 1", 1},
		{"404 is not retried", []int{404}, 0, "status 404", 1},
		{"no retries configured", []int{503}, -1, "status 503: failure 1", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeServer{t: t, failures: tt.failures}
			c := newClient(t, f, Config{MaxRetries: tt.retries})
			got, err := c.Embed(context.Background(), []string{"alpha", "beta"})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !near(got[0], want("alpha")) || !near(got[1], want("beta")) {
					t.Errorf("vectors %v", got)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
			}
			if n := f.calls.Load(); n != tt.wantCalls {
				t.Errorf("%d calls, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	t.Run("bad key", func(t *testing.T) {
		f := &fakeServer{t: t}
		c := newClient(t, f, Config{APIKey: "wrong"})
		_, err := c.Embed(context.Background(), []string{"x"})
		var se *StatusError
		if !errors.As(err, &se) || se.Status != 401 || se.Message != "Incorrect API key provided" {
			t.Fatalf("error %v, want a 401 StatusError with the API's message", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		f := &fakeServer{t: t, delay: 2 * time.Second}
		c := newClient(t, f, Config{Timeout: 50 * time.Millisecond, MaxRetries: 1})
		_, err := c.Embed(context.Background(), []string{"x"})
		if err == nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want a deadline error", err)
		}
		if n := f.calls.Load(); n != 2 {
			t.Errorf("%d calls, want 2 (timeouts are retried)", n)
		}
	})
	t.Run("wrong count not retried", func(t *testing.T) {
		f := &fakeServer{t: t, respond: func(w http.ResponseWriter, in []string) bool {
			fmt.Fprint(w, `{"data":[{"index":0,"embedding":[1,2]}]}`)
			return true
		}}
		c := newClient(t, f, Config{})
		_, err := c.Embed(context.Background(), []string{"x", "y"})
		if err == nil || !strings.Contains(err.Error(), "1 embeddings for 2 inputs") {
			t.Fatalf("error %v", err)
		}
		if n := f.calls.Load(); n != 1 {
			t.Errorf("%d calls, want 1", n)
		}
	})
	t.Run("dimension mismatch", func(t *testing.T) {
		f := &fakeServer{t: t}
		c := newClient(t, f, Config{Dim: 8})
		_, err := c.Embed(context.Background(), []string{"x"})
		if err == nil || !strings.Contains(err.Error(), "length 4, want 8") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("canceled during backoff", func(t *testing.T) {
		f := &fakeServer{t: t, failures: []int{503, 503, 503, 503}}
		c := newClient(t, f, Config{Backoff: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.Embed(ctx, []string{"x"})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want the context's deadline", err)
		}
	})
}

func TestProbe(t *testing.T) {
	f := &fakeServer{t: t}
	c := newClient(t, f, Config{})
	d, err := c.Probe(context.Background())
	if err != nil || d != 4 {
		t.Fatalf("Probe = %d, %v; want 4", d, err)
	}
}

func TestNewValidates(t *testing.T) {
	for _, cfg := range []Config{
		{Model: "m"},
		{URL: "ftp://x", Model: "m"},
		{URL: "http:///v1", Model: "m"},
		{URL: "http://bad host/v1", Model: "m"},
		{URL: "http://127.0.0.1:1"},
		{URL: "http://127.0.0.1:1", Model: "m", Dim: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted a bad config", cfg)
		}
	}
}

func TestDecodeResponse(t *testing.T) {
	tests := []struct {
		body    string
		n       int
		wantErr bool
	}{
		{`{"data":[{"index":1,"embedding":[1,0]},{"index":0,"embedding":[0,1]}]}`, 2, false},
		{`{"data":[{"embedding":[1,0]},{"embedding":[0,1]}]}`, 2, false},
		{`{"data":[{"index":0,"embedding":[1,0]},{"index":0,"embedding":[0,1]}]}`, 2, true},
		{`{"data":[{"index":2,"embedding":[1,0]}]}`, 1, true},
		{`{"data":[{"index":0,"embedding":[]}]}`, 1, true},
		{`{"data":[{"index":0,"embedding":[1]},{"index":1,"embedding":[1,2]}]}`, 2, true},
		{`{"data":[{"index":0,"embedding":[1e300]}]}`, 1, true},
		{`not json`, 1, true},
	}
	for _, tt := range tests {
		got, err := DecodeResponse([]byte(tt.body), tt.n)
		if (err != nil) != tt.wantErr {
			t.Errorf("DecodeResponse(%s) error %v, wantErr %v", tt.body, err, tt.wantErr)
		}
		if err == nil && tt.n == 2 && tt.body[15] == '1' && got[1][0] != 1 {
			t.Errorf("DecodeResponse(%s) did not order by index: %v", tt.body, got)
		}
	}
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte(`{"data":[{"index":1,"embedding":[1,0]},{"index":0,"embedding":[0,1]}]}`), 2)
	f.Add([]byte(`{"data":[{"embedding":[0.5]}]}`), 1)
	f.Add([]byte(`{"error":{"message":"x"}}`), 1)
	f.Fuzz(func(t *testing.T, body []byte, n int) {
		if n < 0 || n > 1000 {
			return
		}
		vecs, err := DecodeResponse(body, n)
		if err != nil {
			return
		}
		if len(vecs) != n {
			t.Fatalf("%d vectors for %d inputs", len(vecs), n)
		}
		for _, v := range vecs {
			if len(v) == 0 || len(v) != len(vecs[0]) {
				t.Fatalf("bad vector lengths")
			}
		}
	})
}
