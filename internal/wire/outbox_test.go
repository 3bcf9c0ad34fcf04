package wire

import (
	"context"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/store/pgstore"
	"github.com/aisle-dev/aisle/store/pgstore/pgtest"
)

// The relay reads and trims the PostgreSQL store's outbox through
// outboxOf; any other store has none.
func TestOutboxOf(t *testing.T) {
	if outboxOf(struct{}{}) != nil {
		t.Fatal("a store without an outbox got one")
	}
	ctx := context.Background()
	st, err := pgstore.Open(ctx, pgtest.URL(t), pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	src := outboxOf(st)
	if src == nil {
		t.Fatal("the PostgreSQL store's outbox is not adapted")
	}
	if err := st.PutItems(ctx, []catalog.Item{{ID: "a"}, {ID: "b"}}); err != nil {
		t.Fatal(err)
	}
	rows, err := src.ReadOutbox(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].ID == 0 || rows[0].Kind == "" || !strings.Contains(string(rows[0].Payload), `"a"`) {
		t.Fatalf("outbox after one write: %+v", rows)
	}
	if err := src.TrimOutbox(ctx, rows[0].ID); err != nil {
		t.Fatal(err)
	}
	if rows, err = src.ReadOutbox(ctx, 0, 10); err != nil || len(rows) != 0 {
		t.Fatalf("outbox after trim: %+v %v", rows, err)
	}
}
