package rules

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/store"
)

// The cache answers from memory once an item was read, reads it again
// after a change or deletion, stays within its capacity, and never keeps
// a read that a change overtook.
func TestItemCache(t *testing.T) {
	ctx := context.Background()
	shop := map[string]string{"a": "pen", "b": "stapler"}
	reads := map[string]int{}
	var mu sync.Mutex
	var during func() // runs inside the next store read
	c := NewItemCache(func(_ context.Context, id string) (catalog.Item, error) {
		mu.Lock()
		reads[id]++
		title, ok := shop[id]
		f := during
		during = nil
		mu.Unlock()
		if f != nil {
			f()
		}
		if !ok {
			return catalog.Item{}, store.ErrNotFound
		}
		return catalog.Item{ID: id, Title: title}, nil
	}, 4)
	steps := []struct {
		name   string
		before func()
		id     string
		title  string // "" for not found
		reads  int    // store reads of id so far
	}{
		{"first read", nil, "a", "pen", 1},
		{"from memory", nil, "a", "pen", 1},
		{"a change is read again", func() { shop["a"] = "gel pen"; c.ItemsUpserted([]catalog.Item{{ID: "a"}}) }, "a", "gel pen", 2},
		{"then from memory", nil, "a", "gel pen", 2},
		{"missing items are not kept", nil, "x", "", 1},
		{"missing again", nil, "x", "", 2},
		{"a deletion is read again", func() { delete(shop, "b"); c.ItemsDeleted([]string{"b"}) }, "b", "", 1},
		{"a read overtaken by a change is not kept", func() {
			during = func() { shop["a"] = "blue pen"; c.ItemsUpserted([]catalog.Item{{ID: "a"}}) }
			c.ItemsUpserted([]catalog.Item{{ID: "a"}})
		}, "a", "gel pen", 3},
		{"so the change is read", nil, "a", "blue pen", 4},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		it, err := c.Get(ctx, s.id)
		if (s.title == "") != (err != nil) || it.Title != s.title || reads[s.id] != s.reads {
			t.Fatalf("%s: %q %v after %d reads, want %q after %d", s.name, it.Title, err, reads[s.id], s.title, s.reads)
		}
	}
	for i := range 50 {
		id := fmt.Sprint("n", i)
		shop[id] = id
		if _, err := c.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
		if c.Len() > 4 {
			t.Fatalf("%d items held, capacity 4", c.Len())
		}
	}
}
