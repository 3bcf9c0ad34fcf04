package search

import (
	"testing"

	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
)

var _ engine.Listener = (*Index)(nil)

func TestListener(t *testing.T) {
	ix := newTestIndex(t, DefaultConfig(), nil, nil)
	ix.ItemsUpserted(fixture())
	if ix.Len() != 8 {
		t.Fatalf("Len = %d", ix.Len())
	}
	ix.ItemsDeleted([]string{"1"})
	if r := search(t, ix, Request{Query: "sharpie marker"}); len(r.Items) != 0 {
		t.Errorf("deleted item found: %v", ids(r))
	}
	// A query is suggested once several shoppers searched it (issue 12 item 4).
	ix.EventsAppended([]events.Event{{UserID: "a", Type: events.Search, Query: "Spiral notebook"}, {UserID: "b", Type: events.Search, Query: "spiral notebook"}, {UserID: "c", Type: events.Search, Query: "Spiral notebook"}, {Type: events.Click, ItemID: "6"}})
	if s := ix.Suggest("spi", 1); len(s) != 1 || s[0].Kind != "query" {
		t.Errorf("suggest after a search event: %+v", s)
	}
}
