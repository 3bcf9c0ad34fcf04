package pgstore

import (
	"context"
	"time"
)

// Outbox kinds: what changed. Payloads are JSON; see docs/postgres.md.
const (
	KindItemsUpsert  = "items.upsert"  // {"ids": [...]}: read the items (GetItems)
	KindItemsDelete  = "items.delete"  // {"ids": [id]}
	KindUsersUpsert  = "users.upsert"  // {"ids": [...]}
	KindUsersDelete  = "users.delete"  // {"ids": [id]}: the user and all their events are gone
	KindEventsAppend = "events.append" // EventsPayload: a range of sequence numbers
	KindEventsExpire = "events.expire" // ExpirePayload: sequence numbers retention deleted
	KindModelMeta    = "model.meta"    // store.ModelMeta of a new or changed version
)

// OutboxRow is one committed change, written in the transaction that made it.
type OutboxRow struct {
	ID      int64
	Shop    string
	Kind    string
	Payload []byte // JSON
	At      time.Time
}

// ReadOutbox returns up to limit outbox rows of the store's shop with ids
// after afterID, in id order. Ids are given in commit order (see the
// package comment), so a reader that remembers the last id it handled
// never skips a change committed later.
func (s *Store) ReadOutbox(ctx context.Context, afterID int64, limit int) ([]OutboxRow, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.pool.Query(ctx, `SELECT id, shop, kind, payload, at FROM outbox WHERE shop = $1 AND id > $2 ORDER BY id LIMIT $3`, s.shop, afterID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []OutboxRow
	for rows.Next() {
		var r OutboxRow
		if err := rows.Scan(&r.ID, &r.Shop, &r.Kind, &r.Payload, &r.At); err != nil {
			return nil, err
		}
		r.At = r.At.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// TrimOutbox deletes the shop's outbox rows with ids up to uptoID (those
// a relay has published).
func (s *Store) TrimOutbox(ctx context.Context, uptoID int64) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM outbox WHERE shop = $1 AND id <= $2`, s.shop, uptoID)
	return err
}

// LastOutboxID is the id of the newest outbox row (0 when none).
func (s *Store) LastOutboxID(ctx context.Context) (int64, error) {
	n, err := s.counter(ctx, "last_outbox")
	return int64(n), err
}
