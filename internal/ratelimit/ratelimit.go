// Package ratelimit limits request rates per key (an API key, a client IP)
// with token buckets: each key may burst up to Burst requests and then
// gets Rate requests per second. Middleware answers over-limit requests
// with 429 Too Many Requests and a Retry-After header.
//
// The number of keys tracked is bounded (MaxKeys): when full, the buckets
// that have refilled completely (idle clients) are dropped first, then the
// least recently used; a dropped key starts again with a full bucket.
package ratelimit

import (
	"container/list"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config sets one limiter.
type Config struct {
	// Rate is the sustained requests per second allowed per key (> 0).
	Rate float64
	// Burst is how many requests a key may make at once (≥ 1).
	Burst int
	// MaxKeys bounds the keys tracked (default 100000).
	MaxKeys int
	// Now is the clock (default time.Now); tests set it.
	Now func() time.Time
}

// Limiter is a set of token buckets, one per key. It is safe for
// concurrent use.
type Limiter struct {
	rate  float64
	burst float64
	max   int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*list.Element // of *bucket, most recently used at the front
	lru     *list.List
}

type bucket struct {
	key    string
	tokens float64
	at     time.Time
}

// New returns a limiter, or an error saying which setting is wrong.
func New(cfg Config) (*Limiter, error) {
	if !(cfg.Rate > 0) || math.IsInf(cfg.Rate, 0) {
		return nil, fmt.Errorf("rate limit: rate %v must be a positive number of requests per second", cfg.Rate)
	}
	if cfg.Burst < 1 {
		return nil, fmt.Errorf("rate limit: burst %d must be at least 1", cfg.Burst)
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 100000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{rate: cfg.Rate, burst: float64(cfg.Burst), max: cfg.MaxKeys, now: cfg.Now,
		buckets: map[string]*list.Element{}, lru: list.New()}, nil
}

// Allow takes one token from key's bucket. When none is left it returns
// false and how long until one will be.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var b *bucket
	if el, found := l.buckets[key]; found {
		b = el.Value.(*bucket)
		l.lru.MoveToFront(el)
		if dt := now.Sub(b.at).Seconds(); dt > 0 {
			b.tokens = min(l.burst, b.tokens+dt*l.rate)
		}
		b.at = now
	} else {
		if len(l.buckets) >= l.max {
			l.evict(now)
		}
		b = &bucket{key: key, tokens: l.burst, at: now}
		l.buckets[key] = l.lru.PushFront(b)
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, max(wait, time.Millisecond)
}

// evict drops the least recently used bucket, after dropping up to 64
// idle ones (full again) from the old end. Caller holds mu.
func (l *Limiter) evict(now time.Time) {
	el := l.lru.Back()
	for i := 0; el != nil && i < 64; i++ {
		prev := el.Prev()
		b := el.Value.(*bucket)
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			l.lru.Remove(el)
			delete(l.buckets, b.key)
		}
		el = prev
	}
	if len(l.buckets) >= l.max {
		if el := l.lru.Back(); el != nil {
			l.lru.Remove(el)
			delete(l.buckets, el.Value.(*bucket).key)
		}
	}
}

// Len returns the number of keys tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// Rule pairs a limiter with the key it limits a request by; Key returns ""
// for requests the rule does not apply to.
type Rule struct {
	Name    string // "key" or "ip": said in the 429 answer
	Limiter *Limiter
	Key     func(r *http.Request) string
}

// Middleware applies rules in order: the first that refuses answers 429
// with Retry-After (whole seconds, rounded up) and a JSON error body.
func Middleware(next http.Handler, rules ...Rule) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, rule := range rules {
			k := rule.Key(r)
			if k == "" {
				continue
			}
			if ok, wait := rule.Limiter.Allow(rule.Name + "\x00" + k); !ok {
				secs := int(math.Ceil(wait.Seconds()))
				w.Header().Set("Retry-After", strconv.Itoa(secs))
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("X-Content-Type-Options", "nosniff")
				w.WriteHeader(http.StatusTooManyRequests)
				fmt.Fprintf(w, "{\"error\":%q}\n", fmt.Sprintf("too many requests per %s: retry after %d s", rule.Name, secs))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// ClientIP returns the client address of r: the host of RemoteAddr, or,
// when trustProxy is set (Aisle runs behind a reverse proxy that appends
// the client to X-Forwarded-For), the last address of that header. IPv6
// clients are grouped by /64, since one host usually holds a whole /64.
func ClientIP(r *http.Request, trustProxy bool) string {
	host := clientHost(r, trustProxy)
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}

// clientHost is the client address of r (see ClientIP).
func clientHost(r *http.Request, trustProxy bool) string {
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if trustProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			parts := strings.Split(xff[len(xff)-1], ",")
			if last := strings.TrimSpace(parts[len(parts)-1]); net.ParseIP(last) != nil {
				host = last
			}
		}
	}
	return host
}

// ClientNetwork returns the network of r's client address (taken as
// ClientIP takes it): its IPv4 /24 or IPv6 /48, the unit one client can
// hardly spread its requests over; the address itself when it is not an
// IP. Suggestions count distinct networks (decision 0061).
func ClientNetwork(r *http.Request, trustProxy bool) string {
	host := clientHost(r, trustProxy)
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.Mask(net.CIDRMask(24, 32)).String() + "/24"
	}
	return ip.Mask(net.CIDRMask(48, 128)).String() + "/48"
}

// BearerKey returns the API key of an "Authorization: Bearer KEY" header,
// or "". Use it as a Rule's key to limit per API key (the limiter stores
// only keys it has seen; pass a hash if keys must not stay in memory).
func BearerKey(r *http.Request) string {
	const p = "Bearer "
	if h := r.Header.Get("Authorization"); len(h) > len(p) && strings.EqualFold(h[:len(p)], p) {
		return h[len(p):]
	}
	return ""
}
