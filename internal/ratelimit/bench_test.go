package ratelimit

import (
	"strconv"
	"testing"
)

// Allow over 256 client buckets that never run out: the cost the API's
// request path pays per request when a rate limit is set.
func BenchmarkAllow(b *testing.B) {
	l, err := New(Config{Rate: 1e9, Burst: 1000})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 256)
	for i := range keys {
		keys[i] = "ip\x0010.0.0." + strconv.Itoa(i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if ok, _ := l.Allow(keys[i%len(keys)]); !ok {
			b.Fatal("refused")
		}
	}
}
