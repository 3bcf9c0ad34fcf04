package search

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
)

// Highlight and HighlightResult (the words compiled by the search that
// found the hits) give the hits of a search without highlights the
// highlights Search would have given them, in any order, and leave unknown
// ids alone.
func TestHighlightMatchesSearch(t *testing.T) {
	ix := newTestIndex(t, DefaultConfig(), nil, fixture())
	for _, fromResult := range []bool{false, true} {
		for _, q := range []string{"black marker", "printer paper", "running shoes", "notebook sheets", "红色", "nothing here"} {
			with := search(t, ix, Request{Query: q, N: 10})
			without, err := ix.Search(context.Background(), Request{Query: q, N: 10, NoHighlights: true})
			if err != nil {
				t.Fatal(err)
			}
			hits := append([]Hit{{ID: "no-such-item"}}, without.Items...)
			for i, j := 1, len(hits)-1; i < j; i, j = i+1, j-1 { // reversed: order does not matter
				hits[i], hits[j] = hits[j], hits[i]
			}
			if fromResult {
				if !without.compiled {
					t.Fatalf("%q: the result does not carry its compiled words", q)
				}
				ix.HighlightResult(without, q, hits)
			} else {
				ix.Highlight(q, hits)
			}
			if hits[0].Highlights != nil {
				t.Errorf("%q: an unknown id got highlights %v", q, hits[0].Highlights)
			}
			want := map[string]map[string]string{}
			for _, h := range with.Items {
				want[h.ID] = h.Highlights
			}
			for _, h := range hits[1:] {
				if !reflect.DeepEqual(h.Highlights, want[h.ID]) {
					t.Errorf("%q, item %s: highlights %v, Search gave %v", q, h.ID, h.Highlights, want[h.ID])
				}
			}
			if q != "nothing here" && len(with.Items) > 0 && len(want[with.Items[0].ID]) == 0 {
				t.Errorf("%q: the best hit has no highlight to compare", q)
			}
		}
	}
}

// HighlightResult finds a hit's doc from the search that found it, and
// still highlights what a lookup by id would when the index changed
// between the search and the highlighting: the item updated (its doc
// dead, a new one appended), removed, the docs renumbered by a
// compaction, or another item added.
func TestHighlightResultAfterChanges(t *testing.T) {
	const q = "black marker"
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, ix *Index)
	}{
		{"unchanged", func(*testing.T, *Index) {}},
		{"another item added", func(t *testing.T, ix *Index) {
			if err := ix.Upsert(context.Background(), catalog.Item{ID: "new", Title: "Black Marker Pen", Available: true}); err != nil {
				t.Fatal(err)
			}
		}},
		{"the best hit updated", func(t *testing.T, ix *Index) {
			if err := ix.Upsert(context.Background(), catalog.Item{ID: "1", Title: "Marker, Fine Point, Jet Black, new box", Available: true}); err != nil {
				t.Fatal(err)
			}
		}},
		{"the best hit removed", func(t *testing.T, ix *Index) { ix.Delete("1") }},
		{"renumbered", func(t *testing.T, ix *Index) {
			ix.Delete("0") // the doc before the hits' is dropped: they move down
			ix.mu.Lock()
			ix.compact()
			ix.mu.Unlock()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// an item matching nothing before the others
			ix := newTestIndex(t, DefaultConfig(), nil, append([]catalog.Item{{ID: "0", Title: "Blue Pen", Available: true}}, fixture()...))
			res, err := ix.Search(context.Background(), Request{Query: q, N: 10, NoHighlights: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Items) < 2 || res.Items[0].ID != "1" {
				t.Fatalf("%q: hits %v, want item 1 first of several", q, res.Items)
			}
			tc.change(t, ix)
			got := slices.Clone(res.Items)
			ix.HighlightResult(res, q, got)
			byID := make([]Hit, len(res.Items)) // the same ids, found by id
			for i, h := range res.Items {
				byID[i] = Hit{ID: h.ID}
			}
			ix.HighlightResult(res, q, byID)
			for i := range got {
				if !reflect.DeepEqual(got[i].Highlights, byID[i].Highlights) {
					t.Errorf("item %s: highlights %v, by its id %v", got[i].ID, got[i].Highlights, byID[i].Highlights)
				}
			}
			if tc.name != "the best hit removed" && len(got[0].Highlights) == 0 {
				t.Errorf("item 1 has no highlight to compare")
			}
		})
	}
}

// A search writes its page in the caller's storage when it holds the
// page, and allocates it otherwise; the page is the same either way.
func TestSearchHitsStorage(t *testing.T) {
	ix := newTestIndex(t, DefaultConfig(), nil, fixture())
	want := search(t, ix, Request{Query: "black marker", N: 10})
	for _, size := range []int{0, 1, len(want.Items), 50} {
		buf := make([]Hit, size)
		for i := range buf {
			buf[i] = Hit{ID: "stale", Highlights: map[string]string{"title": "stale"}}
		}
		res, err := ix.Search(context.Background(), Request{Query: "black marker", N: 10, Hits: buf[:min(1, size)]})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(res.Items, want.Items) {
			t.Fatalf("storage of %d: hits %v, want %v", size, res.Items, want.Items)
		}
		if in := size > 0 && &res.Items[0] == &buf[0]; in != (size >= len(want.Items)) {
			t.Errorf("storage of %d for %d hits: written in it %v", size, len(want.Items), in)
		}
	}
}
