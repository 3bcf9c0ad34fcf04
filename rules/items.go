package rules

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// ItemCache keeps recently read catalogue items in memory for rules and
// ads, which read the fields of every candidate of an answer. Subscribe it
// to the engine (it implements engine.Listener) so that changed and
// deleted items are read again. Safe for concurrent use; a read that hits
// takes no lock (the answers of every core read it at once).
type ItemCache struct {
	get func(ctx context.Context, id string) (catalog.Item, error)
	max int
	m   sync.Map     // id → *catalog.Item, never changed once stored
	n   atomic.Int64 // entries in m
	// mu serialises storing, forgetting and evicting; gen counts the
	// changes, so that an item read before a change is not stored after it.
	mu  sync.Mutex
	gen uint64
}

// NewItemCache caches up to capacity items read with get (the store).
func NewItemCache(get func(ctx context.Context, id string) (catalog.Item, error), capacity int) *ItemCache {
	return &ItemCache{get: get, max: max(1, capacity)}
}

// Get returns an item, from memory when it was read before. The item's
// maps are shared: callers must not change them.
func (c *ItemCache) Get(ctx context.Context, id string) (catalog.Item, error) {
	if v, ok := c.m.Load(id); ok {
		return *v.(*catalog.Item), nil
	}
	c.mu.Lock()
	gen := c.gen
	c.mu.Unlock()
	it, err := c.get(ctx, id)
	if err != nil {
		return it, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen { // changed while it was read: maybe stale
		return it, nil
	}
	if c.n.Load() >= int64(c.max) {
		c.m.Range(func(k, _ any) bool { // drop an arbitrary tenth
			if _, ok := c.m.LoadAndDelete(k); ok {
				c.n.Add(-1)
			}
			return c.n.Load() >= int64(c.max*9/10)
		})
	}
	cp := it
	if _, loaded := c.m.LoadOrStore(id, &cp); !loaded {
		c.n.Add(1)
	}
	return it, nil
}

// Len is the number of items held.
func (c *ItemCache) Len() int { return int(c.n.Load()) }

func (c *ItemCache) forget(ids func(yield func(string) bool)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for id := range ids {
		if _, ok := c.m.LoadAndDelete(id); ok {
			c.n.Add(-1)
		}
	}
}

// ItemsUpserted forgets changed items.
func (c *ItemCache) ItemsUpserted(its []catalog.Item) {
	c.forget(func(yield func(string) bool) {
		for _, it := range its {
			if !yield(it.ID) {
				return
			}
		}
	})
}

// ItemsDeleted forgets deleted items.
func (c *ItemCache) ItemsDeleted(ids []string) {
	c.forget(func(yield func(string) bool) {
		for _, id := range ids {
			if !yield(id) {
				return
			}
		}
	})
}

// EventsAppended and UserDeleted do nothing (engine.Listener).
func (c *ItemCache) EventsAppended([]events.Event) {}
func (c *ItemCache) UserDeleted(string)            {}
