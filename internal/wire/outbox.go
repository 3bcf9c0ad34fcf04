package wire

import (
	"context"

	"github.com/aisle-dev/aisle/bus"
	"github.com/aisle-dev/aisle/store/pgstore"
)

// outboxOf adapts the PostgreSQL store's outbox (rows of its own type)
// to the relay; nil for another store.
func outboxOf(st any) bus.OutboxSource {
	pg, ok := st.(*pgstore.Store)
	if !ok {
		return nil
	}
	return bus.OutboxFuncs{
		Read: func(ctx context.Context, after int64, limit int) ([]bus.OutboxRow, error) {
			rows, err := pg.ReadOutbox(ctx, after, limit)
			out := make([]bus.OutboxRow, len(rows))
			for i, r := range rows {
				out[i] = bus.OutboxRow(r)
			}
			return out, err
		},
		Trim: pg.TrimOutbox,
	}
}
