//go:build !pgmerge

// Delete this file when store/pgstore is merged (see outbox_pg.go).

package wire

import "github.com/aisle-dev/aisle/bus"

// outboxOf adapts a store whose outbox rows are of its own type; without
// the PostgreSQL store built in there is none.
func outboxOf(any) bus.OutboxSource { return nil }
