package embed

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkHashing embeds one product title per op.
func BenchmarkHashing(b *testing.B) {
	h := NewHashing(512)
	ctx := context.Background()
	texts := []string{"Sharpie Permanent Markers, Fine Point, Black, 12 Count"}
	for b.Loop() {
		if _, err := h.Embed(ctx, texts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheHit is a repeated query served from the cache (512-d).
func BenchmarkCacheHit(b *testing.B) {
	c := NewCache(NewHashing(512), 10000)
	ctx := context.Background()
	for i := range 10000 {
		if _, err := c.Embed(ctx, []string{fmt.Sprint("query ", i)}); err != nil {
			b.Fatal(err)
		}
	}
	q := []string{"query 42"}
	for b.Loop() {
		if _, err := c.Embed(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}
