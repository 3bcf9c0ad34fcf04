package search

import (
	"fmt"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
)

// TestMemoryBytesGrows: the estimate is zero for an empty index, grows with
// the documents and their words, and counts vectors only where there are.
func TestMemoryBytesGrows(t *testing.T) {
	ix, err := NewIndex(DefaultConfig(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m := ix.MemoryBytes(); m.Docs != 0 || m.Postings != 0 || m.Vectors != 0 {
		t.Fatalf("empty index: %+v", m)
	}
	prev := ix.MemoryBytes()
	for _, n := range []int{10, 100, 1000} {
		var items []catalog.Item
		for i := 0; i < n; i++ {
			items = append(items, catalog.Item{ID: fmt.Sprintf("%d-%d", n, i), Title: fmt.Sprintf("word%d pen number %d", i, n), Available: true})
		}
		if err := ix.Upsert(t.Context(), items...); err != nil {
			t.Fatal(err)
		}
		m := ix.MemoryBytes()
		if m.Docs <= prev.Docs || m.Postings <= prev.Postings || m.Vectors != 0 {
			t.Fatalf("after %d more items: %+v, before %+v", n, m, prev)
		}
		// at least the titles themselves, at most a few KB per short item
		if total := ix.Len(); m.Docs < int64(20*total) || m.Docs+m.Postings > int64(4096*total) {
			t.Fatalf("%d items: %+v out of range", total, m)
		}
		prev = m
	}
}
