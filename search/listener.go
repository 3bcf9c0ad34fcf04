package search

import (
	"context"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// ItemsUpserted indexes changed items (engine.Listener); their vectors are
// computed in the background. Errors are logged; use Upsert to handle them.
func (ix *Index) ItemsUpserted(items []catalog.Item) {
	if err := ix.Upsert(context.Background(), items...); err != nil {
		ix.log.Error("search index: upsert", "items", len(items), "err", err)
	}
}

// ItemsDeleted removes items from the index (engine.Listener).
func (ix *Index) ItemsDeleted(ids []string) { ix.Delete(ids...) }

// EventsAppended remembers the queries of search events for Suggest
// (engine.Listener).
func (ix *Index) EventsAppended(evs []events.Event) {
	for i := range evs {
		if evs[i].Type == events.Search && evs[i].Query != "" {
			ix.RecordQuery(evs[i].Query)
		}
	}
}

// UserDeleted does nothing: the index holds no per-user data (engine.Listener).
func (ix *Index) UserDeleted(string) {}
