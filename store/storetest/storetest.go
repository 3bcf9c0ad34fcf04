// Package storetest is the contract every store implementation passes: one
// table-driven suite over the interfaces of package store (and the
// optional ones a store implements), run by the tests of store/boltstore
// and store/pgstore against a fresh, empty store per case.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
)

// Opener returns a new, empty store; it closes it when t ends.
type Opener func(t *testing.T) store.Store

// Case is one contract check.
type Case struct {
	Name string
	Run  func(t *testing.T, s store.Store)
}

// Cases are the contract checks, in order.
func Cases() []Case {
	return []Case{
		{"items put, replace, get, count", itemsPutGet},
		{"items batch with a bad record stores nothing", itemsAtomic},
		{"items delete", itemsDelete},
		{"items pages in byte order with cursors", itemsPaging},
		{"users put, get, pages, delete with events", users},
		{"events seq, new users, user events newest first", eventsAppend},
		{"scan events after a cursor, stop on error", eventsScan},
		{"concurrent appends are scanned once each, in order", eventsConcurrent},
		{"models versions, load, stream, meta", models},
		{"model lifecycle promote and rollback", lifecycle},
		{"vectors", vectors},
		{"forget a user", forget},
		{"scan a user's events oldest first", userScan},
		{"expire old events in steps", expire},
		{"idempotent batches", idempotent},
		{"several keys in one request", idempotentMany},
		{"rewrite a model", rewrite},
		{"merchandising records: atomic, serialised updates", merch},
		{"dashboard sessions: put, get, delete, prune", dashboardSessions},
	}
}

// Run runs every case against a new store from open.
func Run(t *testing.T, open Opener) {
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) { c.Run(t, open(t)) })
	}
}

var ctx = context.Background()

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, what string, f func(context.Context) (int, error), want int) {
	t.Helper()
	n, err := f(ctx)
	must(t, err)
	if n != want {
		t.Fatalf("%s count = %d, want %d", what, n, want)
	}
}

func price(p float64) *float64 { return &p }

var t0 = time.Date(2026, 11, 30, 23, 59, 0, 123456789, time.UTC)

func itemsPutGet(t *testing.T, s store.Store) {
	it := catalog.Item{ID: "a", Title: "Blue mug", Brand: "B", Categories: []string{"Home/Kitchen"}, Price: price(9.5),
		Attributes: map[string]any{"colour": "blue", "size": 2.0}, Available: true, CreatedAt: t0}
	must(t, s.PutItems(ctx, []catalog.Item{it, {ID: "b", Title: "first"}, {ID: "b", Title: "second"}}))
	count(t, "items", s.CountItems, 2)
	got, err := s.GetItem(ctx, "a")
	must(t, err)
	if got.Title != it.Title || *got.Price != 9.5 || got.Attributes["colour"] != "blue" || !got.CreatedAt.Equal(t0) || !got.Available || got.Categories[0] != "Home/Kitchen" {
		t.Fatalf("got %+v, want %+v", got, it)
	}
	if b, _ := s.GetItem(ctx, "b"); b.Title != "second" {
		t.Fatalf("a later record of the same id in a batch must win, got %q", b.Title)
	}
	must(t, s.PutItems(ctx, []catalog.Item{{ID: "a", Title: "Red mug"}}))
	count(t, "items", s.CountItems, 2)
	if got, _ := s.GetItem(ctx, "a"); got.Title != "Red mug" {
		t.Fatalf("replace: %q", got.Title)
	}
	if _, err := s.GetItem(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing item: %v, want ErrNotFound", err)
	}
	must(t, s.PutItems(ctx, nil))
}

func itemsAtomic(t *testing.T, s store.Store) {
	bad := []catalog.Item{{ID: "ok1"}, {ID: "bad", Attributes: map[string]any{"x": math.NaN()}}, {ID: "ok2"}}
	if err := s.PutItems(ctx, bad); err == nil {
		t.Fatal("a batch with an unencodable item was accepted")
	}
	count(t, "items", s.CountItems, 0)
	if _, err := s.GetItem(ctx, "ok1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the good item of a failed batch was stored: %v", err)
	}
	if err := s.PutUsers(ctx, []catalog.User{{ID: "u"}, {ID: "v", Attributes: map[string]any{"x": math.Inf(1)}}}); err == nil {
		t.Fatal("a batch with an unencodable user was accepted")
	}
	count(t, "users", s.CountUsers, 0)
}

func itemsDelete(t *testing.T, s store.Store) {
	must(t, s.PutItems(ctx, []catalog.Item{{ID: "a"}, {ID: "b"}}))
	must(t, s.DeleteItem(ctx, "a"))
	count(t, "items", s.CountItems, 1)
	if _, err := s.GetItem(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted item: %v", err)
	}
	if err := s.DeleteItem(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: %v, want ErrNotFound", err)
	}
}

func itemsPaging(t *testing.T, s store.Store) {
	ids := []string{"é", "B", "a", "Z10", "Z9", "a b", "a\x01"}
	for i := range 20 {
		ids = append(ids, fmt.Sprintf("i%02d", i))
	}
	var items []catalog.Item
	for _, id := range ids {
		items = append(items, catalog.Item{ID: id})
	}
	must(t, s.PutItems(ctx, items))
	want := slices.Clone(ids)
	slices.Sort(want) // byte order
	var got []string
	cursor, pages := "", 0
	for {
		page, next, err := s.ListItems(ctx, cursor, 10)
		must(t, err)
		pages++
		for _, it := range page {
			got = append(got, it.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(got, want) || pages != 3 {
		t.Fatalf("pages %d, ids %q, want %q", pages, got, want)
	}
	var scanned []string
	must(t, s.ScanItems(ctx, func(it catalog.Item) error { scanned = append(scanned, it.ID); return nil }))
	if !slices.Equal(scanned, want) {
		t.Fatalf("scan %q", scanned)
	}
	stop := errors.New("stop")
	n := 0
	if err := s.ScanItems(ctx, func(catalog.Item) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("scan must stop at fn's first error: %v after %d", err, n)
	}
	if _, _, err := s.ListItems(ctx, "!!not base64!!", 10); !errors.Is(err, store.ErrBadCursor) {
		t.Fatalf("bad cursor: %v, want ErrBadCursor", err)
	}
	page, next, err := s.ListItems(ctx, "", len(ids))
	must(t, err)
	if len(page) != len(ids) || next != "" {
		t.Fatalf("a page holding the rest must end the listing: %d, %q", len(page), next)
	}
}

func ev(user, item string, typ events.Type, at time.Time) events.Event {
	return events.Event{UserID: user, ItemID: item, Type: typ, Timestamp: at}
}

func users(t *testing.T, s store.Store) {
	must(t, s.PutUsers(ctx, []catalog.User{{ID: "u1", Attributes: map[string]any{"tier": "gold"}, CreatedAt: t0}, {ID: "u2"}}))
	count(t, "users", s.CountUsers, 2)
	u, err := s.GetUser(ctx, "u1")
	must(t, err)
	if u.Attributes["tier"] != "gold" || !u.CreatedAt.Equal(t0) {
		t.Fatalf("user %+v", u)
	}
	page, next, err := s.ListUsers(ctx, "", 1)
	must(t, err)
	if len(page) != 1 || page[0].ID != "u1" || next == "" {
		t.Fatalf("first page %+v %q", page, next)
	}
	page, next, err = s.ListUsers(ctx, next, 1)
	must(t, err)
	if len(page) != 1 || page[0].ID != "u2" || next != "" {
		t.Fatalf("second page %+v %q", page, next)
	}
	must(t, s.AppendEvents(ctx, []events.Event{ev("u1", "a", events.View, t0), ev("u2", "a", events.View, t0), ev("u1", "b", events.Purchase, t0)}))
	must(t, s.DeleteUser(ctx, "u1"))
	count(t, "users", s.CountUsers, 1)
	count(t, "events", s.CountEvents, 1)
	if evs, _ := s.UserEvents(ctx, "u1", 0); len(evs) != 0 {
		t.Fatalf("a deleted user's events remain: %+v", evs)
	}
	if _, err := s.GetUser(ctx, "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted user: %v", err)
	}
	if err := s.DeleteUser(ctx, "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: %v, want ErrNotFound", err)
	}
}

func eventsAppend(t *testing.T, s store.Store) {
	must(t, s.PutUsers(ctx, []catalog.User{{ID: "known", Attributes: map[string]any{"k": "v"}, CreatedAt: t0}}))
	one := 1.5
	batch := []events.Event{
		ev("u1", "a", events.View, t0),
		{UserID: "u1", Type: events.Search, Query: "blue mug", SessionID: "s1", Timestamp: t0.Add(time.Second)},
		{UserID: "known", ItemID: "a", Type: events.Rating, Value: &one, Timestamp: t0.Add(2 * time.Second)},
		ev("u2", "b", events.Purchase, t0.AddDate(0, 1, 0)), // the next month
	}
	must(t, s.AppendEvents(ctx, batch))
	for i := 1; i < len(batch); i++ {
		if batch[i].Seq <= batch[i-1].Seq || batch[0].Seq == 0 {
			t.Fatalf("seqs not increasing: %d then %d", batch[i-1].Seq, batch[i].Seq)
		}
	}
	count(t, "events", s.CountEvents, 4)
	count(t, "users", s.CountUsers, 3)
	if u, _ := s.GetUser(ctx, "known"); u.Attributes["k"] != "v" {
		t.Fatal("an event overwrote an existing user")
	}
	u1, err := s.GetUser(ctx, "u1")
	must(t, err)
	if !u1.CreatedAt.Equal(t0) {
		t.Fatalf("a new user is created at their first event's time, got %v", u1.CreatedAt)
	}
	more := []events.Event{ev("u1", "c", events.AddToCart, t0.Add(time.Hour))}
	must(t, s.AppendEvents(ctx, more))
	if more[0].Seq <= batch[3].Seq {
		t.Fatalf("seq %d after %d", more[0].Seq, batch[3].Seq)
	}
	got, err := s.UserEvents(ctx, "u1", 0)
	must(t, err)
	if len(got) != 3 || got[0].ItemID != "c" || got[1].Query != "blue mug" || got[2].ItemID != "a" {
		t.Fatalf("newest first: %+v", got)
	}
	if g := got[1]; g.SessionID != "s1" || g.Type != events.Search || !g.Timestamp.Equal(t0.Add(time.Second)) || g.Seq != batch[1].Seq {
		t.Fatalf("round trip: %+v, want %+v", g, batch[1])
	}
	if got, _ := s.UserEvents(ctx, "known", 1); len(got) != 1 || got[0].Value == nil || *got[0].Value != 1.5 {
		t.Fatalf("value: %+v", got)
	}
	if got, _ := s.UserEvents(ctx, "u1", 2); len(got) != 2 || got[0].ItemID != "c" {
		t.Fatalf("limit: %+v", got)
	}
	if got, err := s.UserEvents(ctx, "nobody", 10); err != nil || len(got) != 0 {
		t.Fatalf("unknown user: %v %v", got, err)
	}
	must(t, s.AppendEvents(ctx, nil))
}

func seqs(t *testing.T, s store.Store, after uint64) []uint64 {
	t.Helper()
	var out []uint64
	must(t, s.ScanEvents(ctx, after, func(e events.Event) error { out = append(out, e.Seq); return nil }))
	return out
}

func eventsScan(t *testing.T, s store.Store) {
	var batch []events.Event
	for i := range 30 {
		batch = append(batch, ev(fmt.Sprint("u", i%4), fmt.Sprint("i", i), events.View, t0.Add(time.Duration(i)*time.Minute)))
	}
	must(t, s.AppendEvents(ctx, batch[:10]))
	must(t, s.AppendEvents(ctx, batch[10:]))
	all := seqs(t, s, 0)
	if len(all) != 30 || !slices.IsSorted(all) {
		t.Fatalf("scan all: %v", all)
	}
	if got := seqs(t, s, all[9]); len(got) != 20 || got[0] != all[10] {
		t.Fatalf("scan after the 10th: %v", got)
	}
	if got := seqs(t, s, all[29]); len(got) != 0 {
		t.Fatalf("scan after the last: %v", got)
	}
	stop := errors.New("stop")
	n := 0
	if err := s.ScanEvents(ctx, 0, func(events.Event) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("scan must stop at fn's first error: %v after %d", err, n)
	}
}

// eventsConcurrent appends from several goroutines while a reader follows
// the log with ScanEvents cursors: every event must be read exactly once,
// in seq order, however the writers' commits interleave.
func eventsConcurrent(t *testing.T, s store.Store) {
	const writers, batches, size = 4, 15, 20
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				batch := make([]events.Event, size)
				for i := range batch {
					batch[i] = ev(fmt.Sprintf("w%d-%d", w, i%3), "x", events.View, t0.Add(time.Duration(b)*time.Second))
				}
				if err := s.AppendEvents(ctx, batch); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	var seen []uint64
	var cursor uint64
	read := func() {
		must(t, s.ScanEvents(ctx, cursor, func(e events.Event) error {
			if e.Seq <= cursor {
				return fmt.Errorf("seq %d after cursor %d", e.Seq, cursor)
			}
			seen = append(seen, e.Seq)
			cursor = e.Seq
			return nil
		}))
	}
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		read()
	}
	read()
	all := seqs(t, s, 0)
	if len(all) != writers*batches*size || !slices.Equal(seen, all) {
		t.Fatalf("the following reader saw %d events, the log holds %d (a cursor skipped a late commit?)", len(seen), len(all))
	}
}

func blobOf(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

func models(t *testing.T, s store.Store) {
	big := blobOf(3<<20+17, 1) // several chunks in a chunked store
	v1, err := s.SaveModel(ctx, store.ModelMeta{Name: "ease", Params: map[string]float64{"l2": 100}, Status: store.StatusCandidate}, []byte("one"))
	must(t, err)
	v2, err := s.SaveModel(ctx, store.ModelMeta{Name: "ease", Status: store.StatusCandidate}, big)
	must(t, err)
	_, err = s.SaveModel(ctx, store.ModelMeta{Name: "als"}, []byte{})
	must(t, err)
	if v1 != 1 || v2 != 2 {
		t.Fatalf("versions %d, %d", v1, v2)
	}
	if _, err := s.SaveModel(ctx, store.ModelMeta{}, nil); err == nil {
		t.Fatal("a model without a name was saved")
	}
	metas, err := s.ListModels(ctx, "ease")
	must(t, err)
	if len(metas) != 2 || metas[0].Version != 1 || metas[1].Version != 2 || metas[1].Size != int64(len(big)) || metas[0].Params["l2"] != 100 || metas[0].CreatedAt.IsZero() {
		t.Fatalf("list: %+v", metas)
	}
	if all, _ := s.ListModels(ctx, ""); len(all) != 3 {
		t.Fatalf("all models: %d", len(all))
	}
	if none, _ := s.ListModels(ctx, "eas"); len(none) != 0 {
		t.Fatalf("a name prefix matched: %+v", none)
	}
	meta, blob, err := s.LoadModel(ctx, "ease", 2)
	must(t, err)
	if meta.Version != 2 || !bytes.Equal(blob, big) {
		t.Fatalf("load: version %d, %d bytes", meta.Version, len(blob))
	}
	h := sha256.New()
	must(t, s.ReadModel(ctx, "ease", 2, func(m store.ModelMeta, r io.Reader) error {
		buf := make([]byte, 4096) // small reads across chunk bounds
		_, err := io.CopyBuffer(h, r, buf)
		return err
	}))
	if want := sha256.Sum256(big); !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("streamed artefact differs")
	}
	stop := errors.New("stop")
	if err := s.ReadModel(ctx, "ease", 2, func(store.ModelMeta, io.Reader) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("fn's error: %v", err)
	}
	if _, b, _ := s.LoadModel(ctx, "als", 1); len(b) != 0 {
		t.Fatalf("empty artefact: %d bytes", len(b))
	}
	if _, _, err := s.LoadModel(ctx, "ease", 3); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing version: %v", err)
	}
	if err := s.ReadModel(ctx, "nope", 1, func(store.ModelMeta, io.Reader) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("read missing: %v", err)
	}
	meta.Status, meta.Note, meta.Metrics = store.StatusServing, "best", map[string]float64{"ndcg": 0.3}
	must(t, s.UpdateModelMeta(ctx, meta))
	if m, _, _ := s.LoadModel(ctx, "ease", 2); m.Status != store.StatusServing || m.Note != "best" || m.Metrics["ndcg"] != 0.3 {
		t.Fatalf("updated meta: %+v", m)
	}
	if err := s.UpdateModelMeta(ctx, store.ModelMeta{Name: "ease", Version: 9}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
}

func lifecycle(t *testing.T, s store.Store) {
	for range 2 {
		_, err := s.SaveModel(ctx, store.ModelMeta{Name: "m", Status: store.StatusCandidate}, []byte("x"))
		must(t, err)
	}
	yes := func(store.ModelMeta, *store.ModelMeta) (bool, string) { return true, "" }
	nop := func(store.ModelMeta) error { return nil }
	for v := 1; v <= 2; v++ {
		ok, err := store.PromoteVersion(ctx, s, "m", v, yes, nop)
		must(t, err)
		if !ok {
			t.Fatalf("version %d not promoted", v)
		}
	}
	back, err := store.RollbackVersion(ctx, s, "m", nop)
	must(t, err)
	metas, _ := s.ListModels(ctx, "m")
	if back.Version != 1 || metas[0].Status != store.StatusServing || metas[1].Status != store.StatusRolledBack {
		t.Fatalf("after rollback: %+v", metas)
	}
}

func vectors(t *testing.T, s store.Store) {
	vs, ok := s.(store.Vectors)
	if !ok {
		t.Skip("the store keeps no vectors")
	}
	must(t, s.PutItems(ctx, []catalog.Item{{ID: "a"}, {ID: "b"}}))
	h := sha256.Sum256([]byte("text"))
	must(t, vs.PutVectors(ctx, "sp/3", []store.ItemVector{{ItemID: "a", TextHash: h, Vec: []float32{1, -2, 0.5}}, {ItemID: "ghost", Vec: []float32{1}}, {ItemID: "b", Vec: []float32{3}}}))
	must(t, vs.PutVectors(ctx, "other", []store.ItemVector{{ItemID: "a", Vec: []float32{9}}}))
	got, err := vs.GetVectors(ctx, "sp/3", []string{"a", "ghost", "b", "a"})
	must(t, err)
	if len(got) != 4 || got[0].ItemID != "a" || got[0].TextHash != h || !slices.Equal(got[0].Vec, []float32{1, -2, 0.5}) || got[1].Vec != nil || got[1].ItemID != "ghost" || got[2].Vec[0] != 3 || got[3].Vec == nil {
		t.Fatalf("get: %+v", got)
	}
	if err := vs.PutVectors(ctx, "", nil); err == nil {
		t.Fatal("an empty space name was accepted")
	}
	must(t, s.DeleteItem(ctx, "a"))
	if got, _ := vs.GetVectors(ctx, "other", []string{"a"}); got[0].Vec != nil {
		t.Fatal("a deleted item's vector remains")
	}
	must(t, vs.DeleteVectors(ctx, []string{"b"}))
	if got, _ := vs.GetVectors(ctx, "sp/3", []string{"b"}); got[0].Vec != nil {
		t.Fatal("DeleteVectors left a vector")
	}
	if got, err := vs.GetVectors(ctx, "unknown space", []string{"b"}); err != nil || got[0].Vec != nil {
		t.Fatalf("unknown space: %v %v", got, err)
	}
}

func forget(t *testing.T, s store.Store) {
	f, ok := s.(store.Forgetter)
	if !ok {
		t.Skip("the store cannot forget")
	}
	must(t, s.PutUsers(ctx, []catalog.User{{ID: "u"}, {ID: "keep"}}))
	must(t, s.AppendEvents(ctx, []events.Event{ev("u", "a", events.View, t0), ev("keep", "a", events.View, t0),
		{UserID: "u", Type: events.Search, Query: "secret", Timestamp: t0.Add(time.Minute)}, ev("u", "a", events.Purchase, t0.Add(2*time.Minute))}))
	at := t0.Add(time.Hour)
	removed, rc, err := f.ForgetUser(ctx, "u", at)
	must(t, err)
	if len(removed) != 3 || removed[0].Type != events.View || removed[2].Type != events.Purchase || !slices.IsSortedFunc(removed, func(a, b events.Event) int { return int(a.Seq) - int(b.Seq) }) {
		t.Fatalf("removed events oldest first: %+v", removed)
	}
	if !rc.Profile || rc.Events != 3 || rc.SearchLogEntries != 1 || rc.ByType["view"] != 1 || !rc.DeletedAt.Equal(at) {
		t.Fatalf("receipt %+v", rc)
	}
	got, err := f.ForgetReceipt(ctx, "u")
	must(t, err)
	if got.Events != 3 || !got.DeletedAt.Equal(at) {
		t.Fatalf("stored receipt %+v", got)
	}
	count(t, "events", s.CountEvents, 1)
	count(t, "users", s.CountUsers, 1)
	if _, err := f.ForgetReceipt(ctx, "keep"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("receipt of a kept user: %v", err)
	}
	if _, _, err := f.ForgetUser(ctx, "nobody", at); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("forget an unknown user: %v", err)
	}
	fu, err := f.ForgottenUsers(ctx)
	must(t, err)
	if len(fu) != 1 || !fu[store.UserHash("u")].Equal(at) {
		t.Fatalf("forgotten users %v", fu)
	}
}

func userScan(t *testing.T, s store.Store) {
	sc, ok := s.(store.UserEventScanner)
	if !ok {
		t.Skip("no user event scanner")
	}
	var batch []events.Event
	for i := range 2500 {
		u := "u"
		if i%5 == 0 {
			u = "other"
		}
		batch = append(batch, ev(u, fmt.Sprint(i), events.View, t0.Add(time.Duration(i)*time.Second)))
	}
	must(t, s.AppendEvents(ctx, batch))
	var got []uint64
	must(t, sc.ScanUserEvents(ctx, "u", func(e events.Event) error {
		if e.UserID != "u" {
			return fmt.Errorf("event of %q", e.UserID)
		}
		got = append(got, e.Seq)
		return nil
	}))
	if len(got) != 2000 || !slices.IsSorted(got) {
		t.Fatalf("%d events, sorted %v", len(got), slices.IsSorted(got))
	}
}

func expire(t *testing.T, s store.Store) {
	x, ok := s.(store.Expirer)
	if !ok {
		t.Skip("no expiry")
	}
	var batch []events.Event
	for i := range 10 {
		typ := events.View
		if i%2 == 1 {
			typ = events.Purchase
		}
		batch = append(batch, ev("u", "a", typ, t0.Add(time.Duration(i)*time.Hour)))
	}
	must(t, s.AppendEvents(ctx, batch))
	cut := map[events.Type]time.Time{events.View: t0.Add(5 * time.Hour)}
	// Steps of 4 until done. A store may drop a whole stretch of the log
	// at once when every event in it expired (pgstore drops the month of
	// the first event, November), so the steps are checked as a pass:
	// every expired event deleted, no other, and a step looks at no more
	// than its limit.
	var after uint64
	deleted, views, steps := 0, 0, 0
	for {
		b, err := x.ExpireEvents(ctx, cut, after, 4)
		must(t, err)
		steps++
		if b.Scanned > 4 || b.Last != batch[9].Seq || b.Next < after || steps > 10 {
			t.Fatalf("step %d after %d: %+v", steps, after, b)
		}
		deleted += b.Deleted
		views += b.ByType["view"]
		after = b.Next
		if b.Done {
			break
		}
	}
	if deleted != 3 || views != 3 || steps < 2 {
		t.Fatalf("a pass of %d steps deleted %d events (%d views), want 3 views in at least 2 steps", steps, deleted, views)
	}
	count(t, "events", s.CountEvents, 7)
	for _, e := range must2(t)(s.UserEvents(ctx, "u", 0)) {
		if e.Type == events.View && e.Timestamp.Before(cut[events.View]) {
			t.Fatalf("an expired event remains: %+v", e)
		}
	}
}

func must2(t *testing.T) func([]events.Event, error) []events.Event {
	return func(evs []events.Event, err error) []events.Event {
		t.Helper()
		must(t, err)
		return evs
	}
}

func idempotent(t *testing.T, s store.Store) {
	il, ok := s.(store.IdempotentEventLog)
	if !ok {
		t.Skip("no idempotency")
	}
	h1, h2 := sha256.Sum256([]byte("one")), sha256.Sum256([]byte("two"))
	now := t0
	batch := []events.Event{ev("u", "a", events.View, t0), ev("u", "b", events.View, t0)}
	rc, replay, err := il.AppendEventsOnce(ctx, "k1", h1, batch, now, time.Hour)
	must(t, err)
	if replay || rc.Accepted != 2 || rc.FirstSeq != batch[0].Seq || rc.FirstSeq == 0 {
		t.Fatalf("first: %+v replay %v", rc, replay)
	}
	again := []events.Event{ev("u", "a", events.View, t0), ev("u", "b", events.View, t0)}
	rc2, replay, err := il.AppendEventsOnce(ctx, "k1", h1, again, now.Add(time.Minute), time.Hour)
	must(t, err)
	if !replay || rc2.FirstSeq != rc.FirstSeq || rc2.Accepted != 2 {
		t.Fatalf("retry: %+v replay %v", rc2, replay)
	}
	count(t, "events", s.CountEvents, 2)
	if _, _, err := il.AppendEventsOnce(ctx, "k1", h2, again, now.Add(time.Minute), time.Hour); !errors.Is(err, store.ErrIdempotencyConflict) {
		t.Fatalf("reuse for another body: %v", err)
	}
	rc3, replay, err := il.AppendEventsOnce(ctx, "k1", h2, again, now.Add(2*time.Hour), time.Hour)
	must(t, err)
	if replay || rc3.FirstSeq <= rc.FirstSeq {
		t.Fatalf("after the ttl the key is new: %+v replay %v", rc3, replay)
	}
	count(t, "events", s.CountEvents, 4)
	if _, _, err := il.AppendEventsOnce(ctx, "", h1, nil, now, time.Hour); err == nil {
		t.Fatal("an empty key was accepted")
	}
}

func idempotentMany(t *testing.T, s store.Store) {
	il, ok := s.(store.BatchIdempotentEventLog)
	if !ok {
		t.Skip("no requests with several keys")
	}
	h1, h2 := sha256.Sum256([]byte("one")), sha256.Sum256([]byte("two"))
	two := func(u string) []events.Event {
		return []events.Event{ev(u, "a", events.View, t0), ev(u, "b", events.View, t0)}
	}
	res, err := il.AppendEventsOnceBatch(ctx, []store.OncePart{{Key: "m1", BodyHash: h1, Events: two("u1")}}, t0, time.Hour)
	must(t, err)
	first := res[0].Receipt
	parts := []store.OncePart{
		{Key: "m1", BodyHash: h1, Events: two("u1")}, // stored before
		{Key: "m2", BodyHash: h1, Events: two("u2")},
		{Key: "m1", BodyHash: h2, Events: two("u1")}, // another body
		{Key: "m2", BodyHash: h1, Events: two("u2")}, // repeated in the request
		{Key: "m3", BodyHash: h1, Events: two("u3")},
	}
	res, err = il.AppendEventsOnceBatch(ctx, parts, t0.Add(time.Minute), time.Hour)
	must(t, err)
	switch {
	case !res[0].Replay || res[0].Err != nil || res[0].Receipt.FirstSeq != first.FirstSeq || parts[0].Events[0].Seq != 0:
		t.Fatalf("stored before: %+v", res[0])
	case res[1].Replay || res[1].Err != nil || res[1].Receipt.FirstSeq != parts[1].Events[0].Seq || parts[1].Events[0].Seq == 0:
		t.Fatalf("new: %+v", res[1])
	case !errors.Is(res[2].Err, store.ErrIdempotencyConflict):
		t.Fatalf("another body: %+v", res[2])
	case !res[3].Replay || res[3].Receipt.FirstSeq != res[1].Receipt.FirstSeq || parts[3].Events[0].Seq != 0:
		t.Fatalf("repeated: %+v", res[3])
	case res[4].Replay || res[4].Err != nil || res[4].Receipt.Accepted != 2:
		t.Fatalf("new: %+v", res[4])
	}
	count(t, "events", s.CountEvents, 6)
	count(t, "users", s.CountUsers, 3)
}

func rewrite(t *testing.T, s store.Store) {
	rw, ok := s.(store.ModelRewriter)
	if !ok {
		t.Skip("no model rewriting")
	}
	_, err := s.SaveModel(ctx, store.ModelMeta{Name: "m", Note: "keep"}, blobOf(2<<20, 3))
	must(t, err)
	must(t, rw.RewriteModel(ctx, "m", 1, []byte("scrubbed")))
	meta, blob, err := s.LoadModel(ctx, "m", 1)
	must(t, err)
	if string(blob) != "scrubbed" || meta.Size != 8 || meta.Note != "keep" {
		t.Fatalf("rewritten: %q %+v", blob, meta)
	}
	if err := rw.RewriteModel(ctx, "m", 2, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rewrite missing: %v", err)
	}
}

// merch checks store.Merch: reads see committed writes, a failed update
// stores nothing, scans go by prefix in key order, and concurrent updates
// are serialised (a read-modify-write counter loses no increment).
func merch(t *testing.T, s store.Store) {
	m, ok := s.(store.Merch)
	if !ok {
		t.Skip("the store keeps no merchandising records")
	}
	must(t, m.MerchUpdate(ctx, func(tx store.MerchTx) error {
		for _, k := range []string{"r/2", "r/1", "s/1", "r/10"} {
			if err := tx.Put("rules", k, []byte("v"+k)); err != nil {
				return err
			}
		}
		return tx.Put("other", "r/1", []byte("x"))
	}))
	boom := errors.New("boom")
	if err := m.MerchUpdate(ctx, func(tx store.MerchTx) error {
		if err := tx.Put("rules", "r/3", []byte("no")); err != nil {
			return err
		}
		if err := tx.Delete("rules", "r/1"); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("a failed update: %v, want its error", err)
	}
	must(t, m.MerchView(ctx, func(tx store.MerchTx) error {
		if v := tx.Get("rules", "r/1"); string(v) != "vr/1" {
			t.Errorf("get r/1 = %q after a failed update deleted it", v)
		}
		if v := tx.Get("rules", "r/3"); v != nil {
			t.Errorf("get r/3 = %q: a failed update's write is visible", v)
		}
		var keys []string
		if err := tx.Scan("rules", "r/", func(k string, v []byte) error {
			keys = append(keys, k+"="+string(v))
			return nil
		}); err != nil {
			return err
		}
		if want := []string{"r/1=vr/1", "r/10=vr/10", "r/2=vr/2"}; !slices.Equal(keys, want) {
			t.Errorf("scan r/ = %v, want %v", keys, want)
		}
		return nil
	}))
	// keys join their parts with a 0x00 byte (the ads ledger: request id,
	// 0x00, item): they are stored, found and scanned by prefix in byte
	// order like any other
	must(t, m.MerchUpdate(ctx, func(tx store.MerchTx) error {
		for _, k := range []string{"a\x00b", "a\x00\x00c", "a\x01", "a", "ab\x00"} {
			if err := tx.Put("nul", k, []byte(k)); err != nil {
				return err
			}
		}
		return nil
	}))
	must(t, m.MerchView(ctx, func(tx store.MerchTx) error {
		if v := tx.Get("nul", "a\x00b"); string(v) != "a\x00b" {
			t.Errorf("get a\\x00b = %q", v)
		}
		var keys []string
		if err := tx.Scan("nul", "a\x00", func(k string, v []byte) error {
			keys = append(keys, k)
			return nil
		}); err != nil {
			return err
		}
		if want := []string{"a\x00\x00c", "a\x00b"}; !slices.Equal(keys, want) {
			t.Errorf("scan a\\x00 = %q, want %q", keys, want)
		}
		return nil
	}))
	must(t, m.MerchUpdate(ctx, func(tx store.MerchTx) error { return tx.Delete("rules", "absent") }))
	const writers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := m.MerchUpdate(ctx, func(tx store.MerchTx) error {
					n, _ := strconv.Atoi(string(tx.Get("ledger", "n")))
					return tx.Put("ledger", "n", []byte(strconv.Itoa(n+1)))
				}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	must(t, m.MerchView(ctx, func(tx store.MerchTx) error {
		if v := string(tx.Get("ledger", "n")); v != strconv.Itoa(writers*each) {
			t.Errorf("counter after %d serialised increments: %s", writers*each, v)
		}
		return nil
	}))
}

func dashboardSessions(t *testing.T, s store.Store) {
	ss, ok := s.(store.Sessions)
	if !ok {
		t.Skip("the store keeps no dashboard sessions")
	}
	base := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	mk := func(tok string, level string, expires time.Time) store.DashboardSession {
		h := sha256.Sum256([]byte(tok))
		return store.DashboardSession{TokenHash: h, Level: level, KeyCheck: store.SessionKeyCheck(h, "key-"+level), Expires: expires}
	}
	a := mk("a", "admin", base.Add(time.Hour))
	must(t, ss.PutSession(ctx, a))
	got, err := ss.GetSession(ctx, a.TokenHash)
	must(t, err)
	if got.Level != "admin" || got.KeyCheck != a.KeyCheck || !got.Expires.Equal(a.Expires) || got.TokenHash != a.TokenHash {
		t.Fatalf("get session = %+v, want %+v", got, a)
	}
	if got.KeyCheck != store.SessionKeyCheck(a.TokenHash, "key-admin") || got.KeyCheck == store.SessionKeyCheck(a.TokenHash, "rotated") {
		t.Fatal("the key check does not tell the opening key from another")
	}
	if _, err := ss.GetSession(ctx, sha256.Sum256([]byte("absent"))); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get an absent session: %v, want ErrNotFound", err)
	}
	if err := ss.PutSession(ctx, store.DashboardSession{TokenHash: a.TokenHash, Expires: base}); err == nil {
		t.Fatal("a session without a level was stored")
	}
	if got, _ := ss.GetSession(ctx, a.TokenHash); got.Level != "admin" {
		t.Fatalf("a refused put changed the session: %+v", got)
	}
	// replace: a longer expiry, a read level
	a2 := a
	a2.Level, a2.Expires = "read", base.Add(2*time.Hour)
	must(t, ss.PutSession(ctx, a2))
	if got, _ := ss.GetSession(ctx, a.TokenHash); got.Level != "read" || !got.Expires.Equal(a2.Expires) {
		t.Fatalf("replaced session = %+v, want %+v", got, a2)
	}
	must(t, ss.DeleteSession(ctx, a.TokenHash))
	if _, err := ss.GetSession(ctx, a.TokenHash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get a deleted session: %v, want ErrNotFound", err)
	}
	must(t, ss.DeleteSession(ctx, a.TokenHash)) // absent: no error

	// prune: two expired, then keep the 2 that expire last of 4 live ones
	for i, d := range []time.Duration{-time.Hour, 0, 1 * time.Hour, 3 * time.Hour, 2 * time.Hour, 4 * time.Hour} {
		must(t, ss.PutSession(ctx, mk("p"+strconv.Itoa(i), "read", base.Add(d))))
	}
	n, err := ss.PruneSessions(ctx, base, 2)
	must(t, err)
	if n != 4 {
		t.Fatalf("pruned %d sessions, want 4 (2 expired at now, 2 beyond keep)", n)
	}
	for i, want := range []bool{false, false, false, true, false, true} {
		_, err := ss.GetSession(ctx, mk("p"+strconv.Itoa(i), "read", base).TokenHash)
		if have := err == nil; have != want {
			t.Errorf("session p%d kept = %v, want %v (err %v)", i, have, want, err)
		}
	}
	if n, err := ss.PruneSessions(ctx, base, 10); err != nil || n != 0 {
		t.Fatalf("prune again = %d, %v; want 0", n, err)
	}
}
