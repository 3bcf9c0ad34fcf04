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

// EventsAppended remembers the queries of search events for Suggest, as
// searched by the event's user (engine.Listener). A search event whose
// value says it found nothing is not remembered.
func (ix *Index) EventsAppended(evs []events.Event) {
	for i := range evs {
		e := &evs[i]
		if e.Type == events.Search && e.Query != "" && (e.Value == nil || *e.Value > 0) {
			ix.RecordSearch(e.Query, e.UserID)
		}
	}
}

// UserDeleted does nothing: the index holds no per-user data (engine.Listener).
func (ix *Index) UserDeleted(string) {}
