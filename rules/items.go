package rules

import (
	"context"
	"sync"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// ItemCache keeps recently read catalogue items in memory for rules and
// ads, which read the fields of every candidate of an answer. Subscribe it
// to the engine (it implements engine.Listener) so that changed and
// deleted items are read again. Safe for concurrent use.
type ItemCache struct {
	get func(ctx context.Context, id string) (catalog.Item, error)
	max int
	mu  sync.RWMutex
	m   map[string]catalog.Item
}

// NewItemCache caches up to capacity items read with get (the store).
func NewItemCache(get func(ctx context.Context, id string) (catalog.Item, error), capacity int) *ItemCache {
	return &ItemCache{get: get, max: max(1, capacity), m: map[string]catalog.Item{}}
}

// Get returns an item, from memory when it was read before. The item's
// maps are shared: callers must not change them.
func (c *ItemCache) Get(ctx context.Context, id string) (catalog.Item, error) {
	c.mu.RLock()
	it, ok := c.m[id]
	c.mu.RUnlock()
	if ok {
		return it, nil
	}
	it, err := c.get(ctx, id)
	if err != nil {
		return it, err
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		for k := range c.m { // drop an arbitrary tenth
			delete(c.m, k)
			if len(c.m) < c.max*9/10 {
				break
			}
		}
	}
	c.m[id] = it
	c.mu.Unlock()
	return it, nil
}

// ItemsUpserted forgets changed items.
func (c *ItemCache) ItemsUpserted(its []catalog.Item) {
	c.mu.Lock()
	for _, it := range its {
		delete(c.m, it.ID)
	}
	c.mu.Unlock()
}

// ItemsDeleted forgets deleted items.
func (c *ItemCache) ItemsDeleted(ids []string) {
	c.mu.Lock()
	for _, id := range ids {
		delete(c.m, id)
	}
	c.mu.Unlock()
}

// EventsAppended and UserDeleted do nothing (engine.Listener).
func (c *ItemCache) EventsAppended([]events.Event) {}
func (c *ItemCache) UserDeleted(string)            {}
