package search

import (
	"context"
	"strings"

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
// (engine.Listener). A named user vouches for the query as one shopper; an
// anonymous one ("anon-…": a storefront session, a read-key pseudonym)
// only counts, since the log does not hold the client network that makes
// a vouch costly to fake: the request vouched when it ran (VouchSearch,
// decision 0061). A search event whose value says it found nothing is not
// remembered.
func (ix *Index) EventsAppended(evs []events.Event) {
	for i := range evs {
		e := &evs[i]
		if e.Type == events.Search && e.Query != "" && (e.Value == nil || *e.Value > 0) {
			if strings.HasPrefix(e.UserID, "anon-") {
				ix.CountSearch(e.Query)
			} else {
				ix.RecordSearch(e.Query, e.UserID)
			}
		}
	}
}

// UserDeleted does nothing: the index holds no per-user data (engine.Listener).
func (ix *Index) UserDeleted(string) {}
