package pgstore_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store/pgstore"
	"github.com/aisle-dev/aisle/store/pgstore/pgtest"
)

// Retention drops a month's partition whole when every row in it is past
// its type's cutoff, deletes row by row in a month where some rows stay,
// and leaves alone a month holding another shop's rows (whose retention
// this store does not know). A replica that still believes a dropped
// month exists stores a late event into it all the same.
func TestRetentionDropsWholePartitions(t *testing.T) {
	url := pgtest.URL(t)
	s, err := pgstore.Open(ctx, url, pgstore.Options{})
	must(t, err)
	defer s.Close()
	other, err := pgstore.Open(ctx, url, pgstore.Options{Shop: "other"})
	must(t, err)
	defer other.Close()
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 12, 0, 0, 0, time.UTC) }
	ev := func(u string, typ events.Type, at time.Time) events.Event {
		return events.Event{UserID: u, ItemID: "a", Type: typ, Timestamp: at}
	}
	must(t, s.AppendEvents(ctx, []events.Event{
		ev("u1", events.View, day(2020, 1, 3)), ev("u2", events.View, day(2020, 1, 30)), ev("u1", events.Purchase, day(2020, 1, 4)), // all past: dropped
		ev("u1", events.View, day(2020, 2, 3)), ev("u1", events.Purchase, day(2020, 2, 20)), // the purchase stays: row deletes
		ev("u3", events.View, day(2020, 4, 3)),  // another shop shares April: row deletes
		ev("u1", events.View, time.Now().UTC()), // this month: kept
	}))
	must(t, other.AppendEvents(ctx, []events.Event{ev("x", events.View, day(2020, 4, 5))}))
	// a second replica of the shop, which has seen January
	replica, err := pgstore.Open(ctx, url, pgstore.Options{})
	must(t, err)
	defer replica.Close()
	must(t, replica.AppendEvents(ctx, []events.Event{ev("u4", events.View, day(2020, 1, 31))}))
	// the row on the last microsecond before the cutoff is past it
	cut := map[events.Type]time.Time{events.View: day(2020, 6, 1), events.Purchase: day(2020, 2, 10)}
	lastOutbox, err := s.LastOutboxID(ctx)
	must(t, err)
	var deleted int
	byType := map[string]int{}
	var after uint64
	for {
		b, err := s.ExpireEvents(ctx, cut, after, 2)
		must(t, err)
		deleted += b.Deleted
		for k, v := range b.ByType {
			byType[k] += v
		}
		after = b.Next
		if b.Done {
			break
		}
	}
	if deleted != 6 || byType["view"] != 5 || byType["purchase"] != 1 {
		t.Fatalf("deleted %d %v, want 6: 5 views, 1 purchase", deleted, byType)
	}
	var parts []string
	rows, err := s.Pool().Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass ORDER BY 1`)
	must(t, err)
	for rows.Next() {
		var p string
		must(t, rows.Scan(&p))
		parts = append(parts, p)
	}
	must(t, rows.Err())
	now := time.Now().UTC()
	want := []string{"events_p202002", "events_p202004", fmt.Sprintf("events_p%04d%02d", now.Year(), int(now.Month()))}
	if !slices.Equal(parts, want) {
		t.Fatalf("partitions %v, want %v (January dropped)", parts, want)
	}
	if n, _ := s.CountEvents(ctx); n != 2 {
		t.Fatalf("%d events left, want 2 (February's purchase, this month's view)", n)
	}
	if n, _ := other.CountEvents(ctx); n != 1 {
		t.Fatalf("the other shop has %d events, want its 1", n)
	}
	// the outbox tells the others: one row for the dropped month, with its bounds and count
	var drops []pgstore.ExpirePayload
	for _, r := range outboxSince(t, s, lastOutbox) {
		if r.Kind != pgstore.KindEventsExpire {
			t.Fatalf("unexpected change %s", r.Kind)
		}
		var p pgstore.ExpirePayload
		must(t, json.Unmarshal(r.Payload, &p))
		if len(p.Dropped) > 0 {
			drops = append(drops, p)
		}
	}
	if len(drops) != 1 || drops[0].Dropped[0] != "events_p202001" || drops[0].Count != 4 || len(drops[0].Seqs) != 2 || drops[0].Seqs[0] != 1 || drops[0].Seqs[1] != 8 {
		t.Fatalf("drop changes %+v, want one naming events_p202001 with 4 events, seqs 1–8", drops)
	}
	// the replica still believes January exists: a late event goes in anyway
	late := []events.Event{ev("u5", events.View, day(2020, 1, 15))}
	must(t, replica.AppendEvents(ctx, late))
	got, err := s.UserEvents(ctx, "u5", 0)
	must(t, err)
	if len(got) != 1 || got[0].Seq != late[0].Seq {
		t.Fatalf("the late event: %+v", got)
	}
}
