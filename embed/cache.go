package embed

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// Cache wraps an Embedder with a bounded least-recently-used cache keyed by
// the exact text, for query vectors: shoppers repeat queries, and a cache hit
// costs a map lookup instead of a model run. Misses of one call are embedded
// together in one call to the inner Embedder (deduplicated). Returned
// vectors are copies, so callers may modify them. Safe for concurrent use.
type Cache struct {
	inner Embedder
	size  int

	mu    sync.Mutex
	ll    *list.List // front = most recently used; values are *cacheEntry
	items map[string]*list.Element

	hits, misses atomic.Int64
}

type cacheEntry struct {
	text string
	vec  []float32
}

// NewCache returns a cache of at most size vectors (size ≥ 1) in front of
// inner. Memory is about size × (4·Dim + len(text) + 100) bytes.
func NewCache(inner Embedder, size int) *Cache {
	return &Cache{inner: inner, size: max(size, 1), ll: list.New(), items: map[string]*list.Element{}}
}

// Name is the inner Embedder's name: the cache does not change the vectors.
func (c *Cache) Name() string { return c.inner.Name() }

// Dim is the inner Embedder's dimension.
func (c *Cache) Dim() int { return c.inner.Dim() }

// CacheStats counts lookups since the cache was made.
type CacheStats struct {
	Hits, Misses int64
	Len          int // vectors held now
}

// Stats returns the hit and miss counts and the current size.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	n := c.ll.Len()
	c.mu.Unlock()
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Len: n}
}

// Embed returns cached vectors where it has them and asks the inner
// Embedder for the rest.
func (c *Cache) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	var missing []string
	where := map[string][]int{} // missing text → positions in texts
	hits := 0
	c.mu.Lock()
	for i, t := range texts {
		if e, ok := c.items[t]; ok {
			c.ll.MoveToFront(e)
			out[i] = append([]float32(nil), e.Value.(*cacheEntry).vec...)
			hits++
			continue
		}
		if _, seen := where[t]; !seen {
			missing = append(missing, t)
		}
		where[t] = append(where[t], i)
	}
	c.mu.Unlock()
	c.hits.Add(int64(hits))
	c.misses.Add(int64(len(texts) - hits))
	if len(missing) == 0 {
		return out, nil
	}
	vecs, err := c.inner.Embed(ctx, missing)
	if err != nil {
		return nil, err
	}
	if len(vecs) != len(missing) {
		return nil, fmt.Errorf("embedder %s returned %d vectors for %d texts", c.inner.Name(), len(vecs), len(missing))
	}
	c.mu.Lock()
	for j, t := range missing {
		v := vecs[j]
		for _, i := range where[t] {
			out[i] = append([]float32(nil), v...)
		}
		if e, ok := c.items[t]; ok { // added meanwhile by another call
			c.ll.MoveToFront(e)
			continue
		}
		c.items[t] = c.ll.PushFront(&cacheEntry{text: t, vec: append([]float32(nil), v...)})
		for c.ll.Len() > c.size {
			last := c.ll.Back()
			c.ll.Remove(last)
			delete(c.items, last.Value.(*cacheEntry).text)
		}
	}
	c.mu.Unlock()
	return out, nil
}
