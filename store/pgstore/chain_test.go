package pgstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store/pgstore"
)

// The chain of event transactions (decision 0041): a batch that took its
// range after another commits only once every batch before it has ended,
// whatever way it ends — committed, given up, or its connection gone —
// and a catalogue write waits for the batches before it the same way.
// Each case holds one or two ranges on connections of its own (as other
// replicas would) and checks that the store's write does not commit
// until the case lets them go.
func TestChainCommitsInAllocationOrder(t *testing.T) {
	cases := []struct {
		name string
		hold int // ranges taken before the store's write
		// release ends the held ranges after the write was seen waiting
		release func(t *testing.T, h []held)
		write   func(s *pgstore.Store) error
	}{
		{"predecessor gives up", 1, func(t *testing.T, h []held) {
			abandon(t, h[0])
		}, func(s *pgstore.Store) error { return appendOne(s, "late") }},
		{"predecessor dies while the one before it is open", 2, func(t *testing.T, h []held) {
			// the later one dies without waiting for the earlier one: the
			// write must still wait for the earlier one
			h[1].conn.Conn().Close(ctx)
			time.Sleep(300 * time.Millisecond)
			var n int
			must(t, h[0].conn.QueryRow(ctx, `SELECT count(*) FROM events WHERE seq > 1`).Scan(&n))
			if n != 0 {
				t.Fatalf("the write committed while an earlier range was still open (%d events)", n)
			}
			abandon(t, h[0])
		}, func(s *pgstore.Store) error { return appendOne(s, "late") }},
		{"catalogue write waits for the batches before it", 1, func(t *testing.T, h []held) {
			abandon(t, h[0])
		}, func(s *pgstore.Store) error { return s.PutItems(ctx, []catalog.Item{{ID: "late"}}) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			must(t, appendOne(s, "first")) // the partition, and one committed batch
			var h []held
			for range c.hold {
				conn, err := s.Pool().Acquire(ctx)
				must(t, err)
				var seq, ob, link int64
				must(t, conn.QueryRow(ctx, `SELECT last_seq, last_outbox, chain FROM aisle_chain_alloc($1, 1, 1)`, s.Shop()).Scan(&seq, &ob, &link))
				h = append(h, held{conn, link})
			}
			lastOutbox, err := s.LastOutboxID(ctx)
			must(t, err)
			done := make(chan error, 1)
			go func() { done <- c.write(s) }()
			select {
			case err := <-done:
				t.Fatalf("the write ended (%v) while a range before it was open", err)
			case <-time.After(300 * time.Millisecond):
			}
			if rows := outboxSince(t, s, 1); len(rows) != 0 {
				t.Fatalf("a change committed while a range before it was open: %+v", rows)
			}
			c.release(t, h)
			select {
			case err := <-done:
				must(t, err)
			case <-time.After(10 * time.Second):
				t.Fatal("the write never committed after the ranges before it ended")
			}
			rows := outboxSince(t, s, 1)
			if len(rows) != 1 || rows[0].ID <= lastOutbox {
				t.Fatalf("outbox after the write: %+v, want one row after id %d", rows, lastOutbox)
			}
			for _, x := range h {
				x.conn.Release() // a closed one is dropped from the pool
			}
		})
	}
}

// held is a range another connection took and holds.
type held struct {
	conn *pgxpool.Conn
	link int64
}

// abandon ends a held range as a batch that gave up would.
func abandon(t *testing.T, h held) {
	t.Helper()
	var shop string
	must(t, h.conn.QueryRow(ctx, `SELECT shop FROM shop_state`).Scan(&shop))
	if _, err := h.conn.Exec(ctx, `SELECT aisle_chain_abandon($1, $2)`, shop, h.link); err != nil {
		t.Fatal(err)
	}
}

func appendOne(s *pgstore.Store, user string) error {
	return s.AppendEvents(ctx, []events.Event{{UserID: user, ItemID: "a", Type: events.View, Timestamp: time.Now().UTC()}})
}

// A group the database refuses after it took its range (here: a batch
// for a month whose partition was dropped behind the store's back, as
// retention on another replica would) is retried batch by batch: every
// batch is stored, the refused attempt leaves only a gap in the numbers,
// and the chain goes on (the later batches commit, in order).
func TestRefusedGroupLeavesAGapAndTheChainGoesOn(t *testing.T) {
	s := open(t)
	march := time.Date(2021, 3, 5, 0, 0, 0, 0, time.UTC)
	must(t, s.AppendEvents(ctx, []events.Event{{UserID: "early", ItemID: "a", Type: events.View, Timestamp: march}}))
	must(t, appendOne(s, "now")) // this month's partition
	if _, err := s.Pool().Exec(ctx, `DROP TABLE events_p202103`); err != nil {
		t.Fatal(err)
	}
	// hold the shop's row so that the batches queue into one group
	other, err := s.Pool().Begin(ctx)
	must(t, err)
	defer other.Rollback(ctx)
	if _, err := other.Exec(ctx, `SELECT 1 FROM shop_state WHERE shop = $1 FOR UPDATE`, s.Shop()); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 5)
	go func() { errs <- appendOne(s, "first") }()
	var holder int
	must(t, other.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&holder))
	waitUntil(t, "the first batch waits for the shop's row", func() bool {
		var n int
		s.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, holder).Scan(&n)
		return n > 0
	})
	for k := range 4 {
		at := time.Now().UTC()
		if k == 2 {
			at = march
		}
		go func() {
			errs <- s.AppendEvents(ctx, []events.Event{{UserID: fmt.Sprintf("q%d", k), ItemID: "a", Type: events.View, Timestamp: at}})
		}()
	}
	waitUntil(t, "four batches queue behind it", func() bool { return s.QueuedBatches() == 4 })
	must(t, other.Rollback(ctx))
	for range 5 {
		must(t, <-errs)
	}
	var seqs []uint64
	must(t, s.ScanEvents(ctx, 0, func(e events.Event) error { seqs = append(seqs, e.Seq); return nil }))
	if len(seqs) != 6 { // "now", "first", q0–q3 ("early" went with its partition)
		t.Fatalf("%d events stored (%v), want 6", len(seqs), seqs)
	}
	if span := seqs[len(seqs)-1] - seqs[0] + 1; span == uint64(len(seqs)) {
		t.Fatalf("seqs %v have no gap: no group was refused after taking its range, so the test tests nothing", seqs)
	}
	rows := outboxSince(t, s, 0)
	var appended []string
	prev := int64(0)
	for _, r := range rows {
		if r.ID <= prev {
			t.Fatalf("outbox ids out of order: %+v", rows)
		}
		prev = r.ID
		if r.Kind == pgstore.KindEventsAppend {
			appended = append(appended, string(r.Payload))
		}
	}
	if len(appended) != 7 { // one per stored batch, "early" included
		t.Fatalf("%d events.append changes, want 7: %v", len(appended), appended)
	}
}
