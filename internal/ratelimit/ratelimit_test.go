package ratelimit

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestTokenBucket(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	l, err := New(Config{Rate: 2, Burst: 3, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("burst request %d refused", i)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("4th request: ok=%v wait=%v, want refused for 500ms", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key is limited by a's requests")
	}
	c.add(500 * time.Millisecond)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("refilled token refused")
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("more than the rate allowed")
	}
	c.add(time.Hour)
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatal("the bucket does not refill to its burst")
		}
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("refilled beyond the burst")
	}
}

func TestBadConfig(t *testing.T) {
	for _, c := range []Config{{Rate: 0, Burst: 1}, {Rate: -1, Burst: 1}, {Rate: 1, Burst: 0}} {
		if _, err := New(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func TestKeysAreBounded(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	l, _ := New(Config{Rate: 1, Burst: 1, MaxKeys: 50, Now: c.now})
	l.Allow("busy") // empty bucket, recently used
	for i := 0; i < 1000; i++ {
		l.Allow(fmt.Sprint("ip", i))
		if i%10 == 0 {
			l.Allow("busy")
		}
	}
	if n := l.Len(); n > 50 {
		t.Fatalf("%d keys tracked, want ≤ 50", n)
	}
	if ok, _ := l.Allow("busy"); ok {
		t.Fatal("a busy key was evicted and got a fresh bucket")
	}
}

func TestMiddleware(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	perIP, _ := New(Config{Rate: 0.5, Burst: 2, Now: c.now})
	perKey, _ := New(Config{Rate: 1, Burst: 1, Now: c.now})
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }),
		Rule{Name: "key", Limiter: perKey, Key: BearerKey},
		Rule{Name: "ip", Limiter: perIP, Key: func(r *http.Request) string { return ClientIP(r, false) }})
	do := func(ip, key string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/api/search?q=x", nil)
		r.RemoteAddr = ip + ":1234"
		if key != "" {
			r.Header.Set("Authorization", "Bearer "+key)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := do("10.0.0.1", "k1"); w.Code != 200 {
		t.Fatal(w.Code)
	}
	w := do("10.0.0.2", "k1") // same key from another IP
	if w.Code != 429 || w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), "per key") {
		t.Fatalf("per key: %d %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if w := do("10.0.0.1", ""); w.Code != 200 {
		t.Fatal(w.Code)
	}
	w = do("10.0.0.1", "")
	if w.Code != 429 || w.Header().Get("Retry-After") != "2" || !strings.Contains(w.Body.String(), "per ip") {
		t.Fatalf("per IP: %d %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	c.add(2 * time.Second)
	if w := do("10.0.0.1", ""); w.Code != 200 {
		t.Fatalf("after Retry-After: %d", w.Code)
	}
}

func TestClientIP(t *testing.T) {
	cases := []struct {
		remote, xff string
		trust       bool
		want        string
	}{
		{"1.2.3.4:5", "", false, "1.2.3.4"},
		{"1.2.3.4:5", "9.9.9.9", false, "1.2.3.4"},
		{"1.2.3.4:5", "6.6.6.6, 9.9.9.9", true, "9.9.9.9"},
		{"1.2.3.4:5", "not-an-ip", true, "1.2.3.4"},
		{"[2001:db8:1:2:3:4:5:6]:80", "", false, "2001:db8:1:2::/64"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := ClientIP(r, c.trust); got != c.want {
			t.Errorf("ClientIP(%s, %q, %v) = %q, want %q", c.remote, c.xff, c.trust, got, c.want)
		}
	}
}

// Suggestions count client networks (decision 0061): addresses of one /24
// or /48 are one network, X-Forwarded-For only behind a trusted proxy.
func TestClientNetwork(t *testing.T) {
	cases := []struct {
		remote, xff string
		trust       bool
		want        string
	}{
		{"1.2.3.4:5", "", false, "1.2.3.0/24"},
		{"1.2.3.250:5", "", false, "1.2.3.0/24"},
		{"1.2.4.4:5", "9.9.9.9", false, "1.2.4.0/24"},
		{"1.2.3.4:5", "6.6.6.6, 9.9.8.7", true, "9.9.8.0/24"},
		{"[2001:db8:1:2:3:4:5:6]:80", "", false, "2001:db8:1::/48"},
		{"[2001:db8:1:ffff::1]:80", "", false, "2001:db8:1::/48"},
		{"pipe", "", false, "pipe"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := ClientNetwork(r, c.trust); got != c.want {
			t.Errorf("ClientNetwork(%s, %q, %v) = %q, want %q", c.remote, c.xff, c.trust, got, c.want)
		}
	}
}
