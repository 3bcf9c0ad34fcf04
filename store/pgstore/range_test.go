package pgstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// ScanEventRange reads exactly the events of a sequence range, in order.
func TestScanEventRange(t *testing.T) {
	ctx := context.Background()
	st := open(t)
	if err := st.PutItems(ctx, []catalog.Item{{ID: "a"}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for b := range 3 {
		evs := make([]events.Event, 4)
		for i := range evs {
			evs[i] = events.Event{UserID: fmt.Sprintf("u%d", (b*4+i)%3), ItemID: "a", Type: events.View, Timestamp: now}
		}
		if err := st.AppendEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ first, last, want uint64 }{{5, 8, 4}, {1, 12, 12}, {12, 12, 1}, {0, 2, 2}, {13, 20, 0}, {9, 3, 0}} {
		var got []uint64
		err := st.ScanEventRange(ctx, c.first, c.last, func(e events.Event) error { got = append(got, e.Seq); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if uint64(len(got)) != c.want {
			t.Fatalf("range %d–%d: %v, want %d events", c.first, c.last, got, c.want)
		}
		for i, q := range got {
			if q != max(c.first, 1)+uint64(i) {
				t.Fatalf("range %d–%d: %v, want consecutive from %d", c.first, c.last, got, max(c.first, 1))
			}
		}
	}
}

// Batches that queue while a group waits to take its range (the shop's
// row is held here by another connection, as another replica would) are
// carried by the next group: five batches, two commits (the first
// batch's, then the four that queued behind it).
func TestQueuedBatchesRideTheWaitingTransaction(t *testing.T) {
	ctx := context.Background()
	st := open(t)
	if err := st.PutItems(ctx, []catalog.Item{{ID: "a"}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	batch := func(k int) []events.Event {
		return []events.Event{{UserID: fmt.Sprintf("u%d", k), ItemID: "a", Type: events.View, Timestamp: now}}
	}
	if err := st.AppendEvents(ctx, batch(0)); err != nil { // the partition
		t.Fatal(err)
	}
	other, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback(ctx)
	if _, err := other.Exec(ctx, `SELECT 1 FROM shop_state WHERE shop = $1 FOR UPDATE`, st.Shop()); err != nil {
		t.Fatal(err)
	}
	var holder int
	if err := other.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&holder); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 5)
	for k := 1; k <= 5; k++ {
		go func() { errs <- st.AppendEvents(ctx, batch(k)) }()
		if k == 1 { // the first one's transaction waits for the lock
			waitUntil(t, "a transaction waits for the shop's lock", func() bool {
				var n int
				st.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, holder).Scan(&n)
				return n > 0
			})
		}
	}
	waitUntil(t, "the other four queue behind it", func() bool { return st.QueuedBatches() == 4 })
	if err := other.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var txs, n int
	if err := st.Pool().QueryRow(ctx, `SELECT count(DISTINCT xmin::text), count(*) FROM events WHERE user_id <> 'u0'`).Scan(&txs, &n); err != nil {
		t.Fatal(err)
	}
	if n != 5 || txs != 2 {
		t.Fatalf("%d events in %d transactions, want 5 in 2", n, txs)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("never: %s", what)
}
