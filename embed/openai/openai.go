// Package openai is an embed.Embedder that calls an OpenAI-compatible
// embeddings endpoint (POST {url}/embeddings with {"model", "input": [...]}),
// for shops that run their own model server (vLLM, text-embeddings-inference,
// Ollama, LocalAI...) or use a hosted API, e.g. for multilingual or Chinese
// text the built-in English encoder cannot read.
//
// Requests are split into batches of at most BatchSize texts, each attempt
// has a timeout, and 429 and 5xx answers (and network errors) are retried
// with exponential backoff and jitter, honouring Retry-After. Vectors are
// L2-normalised on arrival.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aisle-dev/aisle/embed"
)

// Config configures a Client. URL and Model are required.
type Config struct {
	// URL is the API base, e.g. "https://api.openai.com/v1" or
	// "http://127.0.0.1:8080/v1"; "/embeddings" is appended.
	URL string
	// Model is sent as "model", e.g. "text-embedding-3-small".
	Model string
	// APIKey, when set, is sent as "Authorization: Bearer <key>".
	APIKey string
	// Dim is the expected vector length; 0 means learn it from the first
	// answer (Dim() reports 0 until then; call Probe at start-up).
	Dim int
	// BatchSize is the most texts per request; 0 means 96.
	BatchSize int
	// Timeout bounds one HTTP attempt; 0 means 30 s.
	Timeout time.Duration
	// MaxRetries is how many times a failed attempt is retried; 0 means 4,
	// negative means none.
	MaxRetries int
	// Backoff is the first retry delay, doubled each time (with jitter) up
	// to 30 s; 0 means 500 ms.
	Backoff time.Duration
	// HTTPClient sends the requests; nil means a new http.Client.
	HTTPClient *http.Client
	// Logger receives retries; nil discards.
	Logger *slog.Logger
}

// Client embeds texts with a remote OpenAI-compatible endpoint. It is safe
// for concurrent use.
type Client struct {
	cfg      Config
	endpoint string
	name     string // "openai:<model>@<host><path>", see Name
	dim      atomic.Int64
}

var _ embed.Embedder = (*Client)(nil)

// New checks cfg and returns a client. It does no I/O.
func New(cfg Config) (*Client, error) {
	if cfg.URL == "" {
		return nil, errors.New("openai embedder: URL is required")
	}
	if !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
		return nil, fmt.Errorf("openai embedder: URL %q must start with http:// or https://", cfg.URL)
	}
	site, err := endpointID(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Model == "" {
		return nil, errors.New("openai embedder: model is required")
	}
	if cfg.Dim < 0 {
		return nil, fmt.Errorf("openai embedder: negative dimension %d", cfg.Dim)
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 96
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 4
	} else if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{cfg: cfg, endpoint: strings.TrimRight(cfg.URL, "/") + "/embeddings", name: "openai:" + cfg.Model + "@" + site}
	c.dim.Store(int64(cfg.Dim))
	return c, nil
}

// Name returns "openai:<model>@<host><path>", e.g.
// "openai:text-embedding-3-small@api.openai.com/v1". It names the vector
// space of the stored item vectors, so it includes the endpoint: two
// servers serving a model of the same name may serve different models, and
// their vectors must not be mixed. The host is lower-cased and loses a
// default port, the path its trailing slashes; the scheme, user info,
// query and API key are never part of it.
func (c *Client) Name() string { return c.name }

// endpointID returns the normalised host and path of an API base URL.
func endpointID(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("openai embedder: URL: %w", err)
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", fmt.Errorf("openai embedder: URL %q has no host", u.Redacted())
	}
	if strings.Contains(host, ":") { // IPv6
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" && !(u.Scheme == "http" && p == "80") && !(u.Scheme == "https" && p == "443") {
		host += ":" + p
	}
	return host + strings.TrimRight(u.EscapedPath(), "/"), nil
}

// Dim returns the vector length: Config.Dim, or the length learned from the
// first answer, or 0 before any answer.
func (c *Client) Dim() int { return int(c.dim.Load()) }

// Probe embeds one short text to check the endpoint and learn the
// dimension, which it returns.
func (c *Client) Probe(ctx context.Context) (int, error) {
	if _, err := c.Embed(ctx, []string{"probe"}); err != nil {
		return 0, err
	}
	return c.Dim(), nil
}

// Embed returns one unit vector per text. Empty texts are sent as a single
// space (the OpenAI API rejects empty strings).
func (c *Client) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for lo := 0; lo < len(texts); lo += c.cfg.BatchSize {
		hi := min(lo+c.cfg.BatchSize, len(texts))
		vecs, err := c.batch(ctx, texts[lo:hi])
		if err != nil {
			return nil, fmt.Errorf("embed texts %d..%d with %s at %s: %w", lo, hi-1, c.cfg.Model, c.endpoint, err)
		}
		out = append(out, vecs...)
	}
	return out, nil
}

type request struct {
	Model string   `json:"model"`
	Input []string `json:"input"`
}

// StatusError is an answer with a non-2xx status.
type StatusError struct {
	Status  int
	Message string // the API's error message, or the start of the body
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("status %d: %s", e.Status, e.Message)
}

func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

func (c *Client) batch(ctx context.Context, texts []string) ([][]float32, error) {
	in := make([]string, len(texts))
	for i, t := range texts {
		if t == "" {
			t = " "
		}
		in[i] = t
	}
	body, err := json.Marshal(request{Model: c.cfg.Model, Input: in})
	if err != nil {
		return nil, err
	}
	delay := c.cfg.Backoff
	for attempt := 0; ; attempt++ {
		vecs, retryAfter, err := c.attempt(ctx, body, len(texts))
		if err == nil {
			return vecs, nil
		}
		var se *StatusError
		canRetry := ctx.Err() == nil && (!errors.As(err, &se) || retryable(se.Status)) && !errors.Is(err, errBadResponse)
		if !canRetry || attempt >= c.cfg.MaxRetries {
			if attempt > 0 {
				return nil, fmt.Errorf("after %d attempts: %w", attempt+1, err)
			}
			return nil, err
		}
		wait := delay/2 + rand.N(delay/2+1) // jitter in [delay/2, delay]
		if retryAfter > wait {
			wait = retryAfter
		}
		c.cfg.Logger.Warn("embedding request failed, retrying", "endpoint", c.endpoint, "attempt", attempt+1, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-t.C:
		}
		delay = min(2*delay, 30*time.Second)
	}
}

// errBadResponse marks answers that retrying will not fix.
var errBadResponse = errors.New("bad response")

func (c *Client) attempt(ctx context.Context, body []byte, n int) ([][]float32, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", errBadResponse, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, 0, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, parseRetryAfter(resp.Header.Get("Retry-After")), &StatusError{Status: resp.StatusCode, Message: errorMessage(data)}
	}
	vecs, err := DecodeResponse(data, n)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", errBadResponse, err)
	}
	want := int(c.dim.Load())
	for _, v := range vecs {
		if want == 0 {
			c.dim.CompareAndSwap(0, int64(len(v)))
			want = int(c.dim.Load())
		}
		if len(v) != want {
			return nil, 0, fmt.Errorf("%w: vector of length %d, want %d", errBadResponse, len(v), want)
		}
		embed.Normalize(v)
	}
	return vecs, 0, nil
}

func parseRetryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && s >= 0 {
		return min(time.Duration(s)*time.Second, time.Minute)
	}
	if t, err := http.ParseTime(h); err == nil {
		return min(max(time.Until(t), 0), time.Minute)
	}
	return 0
}

// errorMessage extracts {"error":{"message":...}} (or {"error":"..."}) from
// an error answer, else the start of the body.
func errorMessage(body []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Error) > 0 {
		var obj struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(e.Error, &obj) == nil && obj.Message != "" {
			return obj.Message
		}
		var s string
		if json.Unmarshal(e.Error, &s) == nil && s != "" {
			return s
		}
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		s = "(empty body)"
	}
	return s
}

type response struct {
	Data []struct {
		Index     *int      `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
}

// DecodeResponse parses an embeddings answer for n inputs: {"data":
// [{"index": i, "embedding": [...]}, ...]} in any order (by "index", or in
// order when indices are absent). Every input must get exactly one
// non-empty vector, all of one length, with finite values.
func DecodeResponse(body []byte, n int) ([][]float32, error) {
	var r response
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decode answer: %w", err)
	}
	if len(r.Data) != n {
		return nil, fmt.Errorf("answer has %d embeddings for %d inputs", len(r.Data), n)
	}
	out := make([][]float32, n)
	for k, d := range r.Data {
		i := k
		if d.Index != nil {
			i = *d.Index
		}
		if i < 0 || i >= n {
			return nil, fmt.Errorf("answer has embedding index %d for %d inputs", i, n)
		}
		if out[i] != nil {
			return nil, fmt.Errorf("answer has embedding index %d twice", i)
		}
		if len(d.Embedding) == 0 {
			return nil, fmt.Errorf("answer has an empty embedding at index %d", i)
		}
		if len(d.Embedding) != len(r.Data[0].Embedding) {
			return nil, fmt.Errorf("answer mixes embedding lengths %d and %d", len(r.Data[0].Embedding), len(d.Embedding))
		}
		for _, x := range d.Embedding {
			if f := float64(x); math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("answer has a non-finite value at index %d", i)
			}
		}
		out[i] = d.Embedding
	}
	return out, nil
}
