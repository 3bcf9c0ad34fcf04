package pgstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"

	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/pgstore"
	"github.com/aisle-dev/aisle/store/pgstore/pgtest"
	"github.com/aisle-dev/aisle/store/storetest"
)

func open(t *testing.T) *pgstore.Store { return openTB(t) }

func openTB(t testing.TB) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), pgtest.URL(t), pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

var ctx = context.Background()

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func outboxSince(t *testing.T, s *pgstore.Store, after int64) []pgstore.OutboxRow {
	t.Helper()
	rows, err := s.ReadOutbox(ctx, after, 1000)
	must(t, err)
	return rows
}

// Every committed change leaves one outbox row of its kind, written in
// its transaction; a change that fails leaves none.
func TestOutbox(t *testing.T) {
	s := open(t)
	ev := func(u, item string) events.Event {
		return events.Event{UserID: u, ItemID: item, Type: events.View, Timestamp: time.Now()}
	}
	cases := []struct {
		name    string
		op      func() error
		kind    string // "" when the change must fail and leave no row
		payload string
	}{
		{"put items", func() error { return s.PutItems(ctx, []catalog.Item{{ID: "a"}, {ID: "b"}}) }, pgstore.KindItemsUpsert, `{"ids":["a","b"]}`},
		{"bad item batch", func() error {
			return s.PutItems(ctx, []catalog.Item{{ID: "c"}, {ID: "d", Attributes: map[string]any{"x": math.NaN()}}})
		}, "", ""},
		{"delete item", func() error { return s.DeleteItem(ctx, "b") }, pgstore.KindItemsDelete, `{"ids":["b"]}`},
		{"delete a missing item", func() error { return s.DeleteItem(ctx, "zz") }, "", ""},
		{"put users", func() error { return s.PutUsers(ctx, []catalog.User{{ID: "u1"}}) }, pgstore.KindUsersUpsert, `{"ids":["u1"]}`},
		{"append events", func() error { return s.AppendEvents(ctx, []events.Event{ev("u1", "a"), ev("u2", "a"), ev("u2", "a")}) },
			pgstore.KindEventsAppend, `{"first_seq":1,"last_seq":3,"count":3,"new_users":["u2"]}`},
		{"events batch with a NUL byte", func() error { return s.AppendEvents(ctx, []events.Event{ev("u3", "a"), ev("u\x00", "a")}) }, "", ""},
		{"more events", func() error { return s.AppendEvents(ctx, []events.Event{ev("u1", "a")}) },
			pgstore.KindEventsAppend, `{"first_seq":4,"last_seq":4,"count":1}`},
		{"delete user", func() error { return s.DeleteUser(ctx, "u1") }, pgstore.KindUsersDelete, `{"ids":["u1"]}`},
		{"forget user", func() error { _, _, err := s.ForgetUser(ctx, "u2", time.Now()); return err }, pgstore.KindUsersDelete, `{"ids":["u2"]}`},
		{"forget a missing user", func() error { _, _, err := s.ForgetUser(ctx, "u2", time.Now()); return err }, "", ""},
		{"save model", func() error { _, err := s.SaveModel(ctx, store.ModelMeta{Name: "m"}, []byte("x")); return err }, pgstore.KindModelMeta, ""},
		{"update model meta", func() error {
			return s.UpdateModelMeta(ctx, store.ModelMeta{Name: "m", Version: 1, Status: store.StatusServing})
		}, pgstore.KindModelMeta, ""},
		{"update a missing model", func() error { return s.UpdateModelMeta(ctx, store.ModelMeta{Name: "m", Version: 7}) }, "", ""},
	}
	last := int64(0)
	for _, c := range cases {
		err := c.op()
		rows := outboxSince(t, s, last)
		if c.kind == "" {
			if err == nil || len(rows) != 0 {
				t.Fatalf("%s: err %v, %d outbox rows; want an error and none", c.name, err, len(rows))
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(rows) != 1 || rows[0].Kind != c.kind || rows[0].ID != last+1 || rows[0].Shop != pgstore.DefaultShop || rows[0].At.IsZero() {
			t.Fatalf("%s: outbox %+v, want one %s row with id %d", c.name, rows, c.kind, last+1)
		}
		if c.payload != "" && string(rows[0].Payload) != c.payload {
			t.Fatalf("%s: payload %s, want %s", c.name, rows[0].Payload, c.payload)
		}
		last = rows[0].ID
	}
	if meta := outboxSince(t, s, last-1)[0]; !strings.Contains(string(meta.Payload), `"status":"serving"`) {
		t.Fatalf("model.meta payload: %s", meta.Payload)
	}
	if rows, _ := s.ReadOutbox(ctx, 0, 3); len(rows) != 3 || rows[2].ID != 3 {
		t.Fatalf("limit: %+v", rows)
	}
	must(t, s.TrimOutbox(ctx, last-2))
	if rows := outboxSince(t, s, 0); len(rows) != 2 || rows[0].ID != last-1 {
		t.Fatalf("after trimming: %+v", rows)
	}
	if n, _ := s.LastOutboxID(ctx); n != last {
		t.Fatalf("last outbox id %d, want %d", n, last)
	}
}

// A batch the database refuses stores nothing, gives back no sequence
// numbers and leaves the counters alone.
func TestEventBatchIsAtomic(t *testing.T) {
	s := open(t)
	batch := []events.Event{{UserID: "ok", Type: events.View, Timestamp: time.Now()}, {UserID: "bad\x00", Type: events.View, Timestamp: time.Now()}}
	if err := s.AppendEvents(ctx, batch); err == nil {
		t.Fatal("a user id with a NUL byte was stored")
	}
	if batch[0].Seq != 0 {
		t.Fatalf("a failed batch kept seq %d", batch[0].Seq)
	}
	for name, f := range map[string]func(context.Context) (int, error){"events": s.CountEvents, "users": s.CountUsers} {
		if n, _ := f(ctx); n != 0 {
			t.Fatalf("%s: %d after a failed batch", name, n)
		}
	}
	if _, err := s.GetUser(ctx, "ok"); err == nil {
		t.Fatal("the failed batch's new user was created")
	}
	good := []events.Event{{UserID: "ok", Type: events.View, Timestamp: time.Now()}}
	must(t, s.AppendEvents(ctx, good))
	if good[0].Seq != 1 {
		t.Fatalf("the next batch starts at seq %d, want 1 (no gap)", good[0].Seq)
	}
	if err := s.AppendEvents(ctx, []events.Event{{UserID: "x", Type: events.View, Timestamp: time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)}}); err == nil || !strings.Contains(err.Error(), "years 1 to 9999") {
		t.Fatalf("an event in the year 12000: %v", err)
	}
}

// Several replicas (stores) write at once while a follower reads the
// event log and the outbox with cursors: it sees every event and every
// outbox row exactly once, in order — the guarantee the change feed
// relies on.
func TestReplicasWriteWhileAFollowerReads(t *testing.T) {
	url := pgtest.URL(t)
	var replicas []*pgstore.Store
	for range 3 {
		s, err := pgstore.Open(ctx, url, pgstore.Options{})
		must(t, err)
		t.Cleanup(func() { s.Close() })
		replicas = append(replicas, s)
	}
	const batches, size = 20, 50
	var wg sync.WaitGroup
	for r, s := range replicas {
		for w := range 2 {
			wg.Go(func() {
				for b := range batches {
					evs := make([]events.Event, size)
					for i := range evs {
						evs[i] = events.Event{UserID: fmt.Sprintf("r%dw%d", r, w), ItemID: fmt.Sprint(b), Type: events.View, Timestamp: time.Now()}
					}
					if err := s.AppendEvents(ctx, evs); err != nil {
						t.Error(err)
						return
					}
					if b%5 == 0 {
						if err := s.PutItems(ctx, []catalog.Item{{ID: fmt.Sprintf("r%dw%db%d", r, w, b)}}); err != nil {
							t.Error(err)
							return
						}
					}
				}
			})
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	f := replicas[0]
	var seqCursor uint64
	var outCursor int64
	var seen []uint64
	var kinds []string
	follow := func() {
		must(t, f.ScanEvents(ctx, seqCursor, func(e events.Event) error {
			seen = append(seen, e.Seq)
			seqCursor = e.Seq
			return nil
		}))
		rows, err := f.ReadOutbox(ctx, outCursor, 100)
		must(t, err)
		for _, r := range rows {
			if r.ID != outCursor+1 {
				t.Fatalf("outbox id %d after %d: a row was skipped", r.ID, outCursor)
			}
			outCursor = r.ID
			kinds = append(kinds, r.Kind)
		}
	}
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		follow()
	}
	for range 100 {
		before := outCursor
		follow()
		if outCursor == before {
			break
		}
	}
	total := len(replicas) * 2 * batches * size
	if len(seen) != total || !slices.IsSorted(seen) || seen[len(seen)-1] != uint64(total) {
		t.Fatalf("the follower saw %d events (sorted %v), want %d", len(seen), slices.IsSorted(seen), total)
	}
	if n := len(replicas) * 2 * (batches + batches/5); len(kinds) != n {
		t.Fatalf("the follower saw %d outbox rows, want %d", len(kinds), n)
	}
}

// Replicas starting together apply each migration once.
func TestMigrationsApplyOnceUnderConcurrentOpens(t *testing.T) {
	url := pgtest.URL(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s, err := pgstore.Open(ctx, url, pgstore.Options{})
			if err != nil {
				t.Error(err)
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	applied, err := pgstore.Migrate(ctx, url)
	must(t, err)
	if len(applied) != 0 {
		t.Fatalf("applied again: %v", applied)
	}
	s := open(t)
	migs, _ := pgstore.Migrations()
	var n int
	must(t, s.Pool().QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n))
	if n != len(migs) {
		t.Fatalf("schema_migrations has %d rows, want %d", n, len(migs))
	}
}

// Events go to monthly partitions, created on demand; a user's newest
// events come first across them.
func TestEventPartitions(t *testing.T) {
	s := open(t)
	var evs []events.Event
	for m := range 3 {
		evs = append(evs, events.Event{UserID: "u", ItemID: fmt.Sprint(m), Type: events.View, Timestamp: time.Date(2025, time.Month(11+m), 15, 0, 0, 0, 0, time.UTC)})
	}
	must(t, s.AppendEvents(ctx, evs))
	var parts []string
	rows, err := s.Pool().Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'events'::regclass ORDER BY 1`)
	must(t, err)
	parts, err = pgx.CollectRows(rows, pgx.RowTo[string])
	must(t, err)
	if want := []string{"events_p202511", "events_p202512", "events_p202601"}; !slices.Equal(parts, want) {
		t.Fatalf("partitions %v, want %v", parts, want)
	}
	got, err := s.UserEvents(ctx, "u", 2)
	must(t, err)
	if len(got) != 2 || got[0].ItemID != "2" || got[1].ItemID != "1" {
		t.Fatalf("newest first: %+v", got)
	}
	// A second store (another replica) finds the partitions already there.
	s2, err := pgstore.Open(ctx, s.Pool().Config().ConnString(), pgstore.Options{})
	must(t, err)
	defer s2.Close()
	must(t, s2.AppendEvents(ctx, evs[:1]))
}

// Two shops in one schema see only their own data, and number their
// events and outbox rows independently.
func TestShopsAreSeparate(t *testing.T) {
	url := pgtest.URL(t)
	a, err := pgstore.Open(ctx, url, pgstore.Options{Shop: "a"})
	must(t, err)
	defer a.Close()
	b, err := pgstore.Open(ctx, url, pgstore.Options{Shop: "b"})
	must(t, err)
	defer b.Close()
	must(t, a.PutItems(ctx, []catalog.Item{{ID: "x"}}))
	evs := []events.Event{{UserID: "u", ItemID: "x", Type: events.View, Timestamp: time.Now()}}
	must(t, a.AppendEvents(ctx, evs))
	evsB := []events.Event{{UserID: "u", Type: events.Search, Query: "q", Timestamp: time.Now()}}
	must(t, b.AppendEvents(ctx, evsB))
	if evs[0].Seq != 1 || evsB[0].Seq != 1 {
		t.Fatalf("seqs %d and %d, want 1 in each shop", evs[0].Seq, evsB[0].Seq)
	}
	if _, err := b.GetItem(ctx, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("shop b sees shop a's item: %v", err)
	}
	if got, _ := b.UserEvents(ctx, "u", 0); len(got) != 1 || got[0].Type != events.Search {
		t.Fatalf("shop b's events: %+v", got)
	}
	must(t, b.DeleteUser(ctx, "u"))
	if got, _ := a.UserEvents(ctx, "u", 0); len(got) != 1 {
		t.Fatalf("deleting shop b's user removed shop a's events: %+v", got)
	}
	if n, _ := a.CountItems(ctx); n != 1 {
		t.Fatalf("shop a items %d", n)
	}
	if rows := outboxSince(t, b, 0); len(rows) != 2 || rows[0].Shop != "b" {
		t.Fatalf("shop b's outbox: %+v", rows)
	}
}

// ItemsExist answers exactly the ids of the store's own shop that are in
// its catalogue — also once the plan cache has switched to a generic plan
// (after five runs), and for a batch's worth of ids, repeated ones and
// unknown ones among them.
func TestItemsExist(t *testing.T) {
	url := pgtest.URL(t)
	a, err := pgstore.Open(ctx, url, pgstore.Options{Shop: "a"})
	must(t, err)
	defer a.Close()
	b, err := pgstore.Open(ctx, url, pgstore.Options{Shop: "b"})
	must(t, err)
	defer b.Close()
	var items []catalog.Item
	for i := range 600 {
		items = append(items, catalog.Item{ID: fmt.Sprintf("it-%d", i*2)})
	}
	must(t, a.PutItems(ctx, items))
	must(t, b.PutItems(ctx, []catalog.Item{{ID: "only-b"}, {ID: "it-1"}}))
	var ids []string
	for i := range 1200 {
		ids = append(ids, fmt.Sprintf("it-%d", i))
	}
	ids = append(ids, "only-b", "it-0", "it-0", "", "nope")
	for run := range 8 {
		got, err := a.ItemsExist(ctx, ids)
		must(t, err)
		if len(got) != 600 {
			t.Fatalf("run %d: %d ids found, want the 600 of shop a", run, len(got))
		}
		for i := range 600 {
			if id := fmt.Sprintf("it-%d", i*2); !got[id] {
				t.Fatalf("run %d: %s not found", run, id)
			}
		}
		if got["only-b"] || got["it-1"] {
			t.Fatalf("run %d: shop a finds shop b's items: %v %v", run, got["only-b"], got["it-1"])
		}
	}
	got, err := a.ItemsExist(ctx, nil)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("no ids: %v", got)
	}
}

// Opening fails with a message that says what to do.
func TestOpenErrors(t *testing.T) {
	url := pgtest.URL(t)
	cases := []struct{ name, url, want string }{
		{"not a URL", "postgres://%zz", "expected postgres://"},
		{"missing schema", strings.Replace(url, "search_path=", "search_path=no_such_schema_x", 1), "CREATE SCHEMA"},
		{"nobody listening", "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", "is it running"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := pgstore.Open(ctx, c.url, pgstore.Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

// Concurrent batches share transactions (group commit), yet each is
// atomic on its own: a bad batch grouped with good ones fails alone, and
// every good batch gets a contiguous seq range and its own outbox row.
func TestGroupCommitKeepsBatchesApart(t *testing.T) {
	s := open(t)
	const writers, rounds, size = 6, 8, 30
	var wg sync.WaitGroup
	var mu sync.Mutex
	good, bad := 0, 0
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				evs := make([]events.Event, size)
				for i := range evs {
					evs[i] = events.Event{UserID: fmt.Sprintf("w%d", w), ItemID: fmt.Sprint(r), Type: events.View, Timestamp: time.Now()}
				}
				poisoned := (w+r)%5 == 0
				if poisoned {
					evs[size-1].UserID = "bad\x00"
				}
				err := s.AppendEvents(ctx, evs)
				mu.Lock()
				switch {
				case poisoned && err == nil:
					t.Errorf("writer %d round %d: a batch with a NUL byte was stored", w, r)
				case poisoned:
					bad++
					if evs[0].Seq != 0 {
						t.Errorf("a refused batch kept seq %d", evs[0].Seq)
					}
				case err != nil:
					t.Errorf("writer %d round %d: a good batch failed: %v", w, r, err)
				default:
					good++
					if evs[size-1].Seq != evs[0].Seq+size-1 {
						t.Errorf("seqs %d..%d are not one contiguous range", evs[0].Seq, evs[size-1].Seq)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if n, _ := s.CountEvents(ctx); n != good*size || bad == 0 {
		t.Fatalf("%d events stored, want %d (good batches %d, bad %d)", n, good*size, good, bad)
	}
	rows := outboxSince(t, s, 0)
	if len(rows) != good {
		t.Fatalf("%d outbox rows for %d stored batches", len(rows), good)
	}
	seen := 0
	for _, r := range rows {
		var p pgstore.EventsPayload
		must(t, json.Unmarshal(r.Payload, &p))
		if p.Count != size || p.LastSeq-p.FirstSeq != size-1 {
			t.Fatalf("payload %+v", p)
		}
		seen += p.Count
	}
	if last := seqsOf(t, s); len(last) != seen || !slices.IsSorted(last) {
		t.Fatalf("scan: %d events", len(last))
	}
}

func seqsOf(t *testing.T, s *pgstore.Store) []uint64 {
	var out []uint64
	must(t, s.ScanEvents(ctx, 0, func(e events.Event) error { out = append(out, e.Seq); return nil }))
	return out
}
