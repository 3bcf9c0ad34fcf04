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
// (engine.Listener). A user named by a key that may write (POST
// /api/events, an admin-key search) vouches for the query as one shopper;
// a storefront session or a read-key pseudonym (see loggedByUntrusted)
// only counts, since the log does not hold the client network that makes
// a vouch costly to fake: the request vouched when it ran (VouchSearch,
// decision 0061). A search event whose value says it found nothing is not
// remembered.
func (ix *Index) EventsAppended(evs []events.Event) {
	for i := range evs {
		ix.ReplaySearch(evs[i])
	}
}

// ReplaySearch remembers the query of one search event as EventsAppended
// does; a start hands it every event of the log, so that suggestions
// survive a restart (the earned marks of decision 0061 restore the
// queries that anonymous shoppers from several networks made suggestions).
func (ix *Index) ReplaySearch(e events.Event) {
	if e.Type != events.Search || e.Query == "" || (e.Value != nil && *e.Value <= 0) {
		return
	}
	if loggedByUntrusted(e.UserID) {
		ix.CountSearch(e.Query)
	} else {
		ix.RecordSearch(e.Query, e.UserID)
	}
}

// loggedByUntrusted reports whether user is a name only the untrusted
// paths log under: a storefront session, "anon-" and 24 hex digits
// (web.visitorOf), or a read-key pseudonym, "anon-r-" and 24 hex digits
// (api.ReadKeyPseudonym). Any other "anon-…" id was written with a key
// that may write events, whose holder names its shoppers.
func loggedByUntrusted(user string) bool {
	rest, ok := strings.CutPrefix(user, "anon-")
	if !ok {
		return false
	}
	rest = strings.TrimPrefix(rest, "r-")
	if len(rest) != 24 {
		return false
	}
	for _, c := range rest {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// UserDeleted does nothing: the index holds no per-user data (engine.Listener).
func (ix *Index) UserDeleted(string) {}
