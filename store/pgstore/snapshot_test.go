package pgstore_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// WriteSnapshot writes an embedded data file holding the whole shop —
// items, users, events in order, every model version with its metadata,
// vectors, merchandising records — that the embedded store opens and
// checks, as of one moment while a writer goes on: every batch is in
// the copy whole or not at all.
func TestWriteSnapshot(t *testing.T) {
	ctx := context.Background()
	st := open(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := st.PutItems(ctx, []catalog.Item{{ID: "a", Title: "kettle", Available: true}, {ID: "b", Title: "mug"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutUsers(ctx, []catalog.User{{ID: "u1", Attributes: map[string]any{"tier": "gold"}, CreatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	if err := st.AppendEvents(ctx, []events.Event{{UserID: "u1", ItemID: "a", Type: events.View, Timestamp: now}, {UserID: "u1", ItemID: "b", Type: events.Purchase, Timestamp: now.Add(time.Second)}}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := st.SaveModel(ctx, store.ModelMeta{Name: "ease", Status: "candidate"}, bytes.Repeat([]byte{byte(i + 1)}, 3<<20)); err != nil {
			t.Fatal(err)
		}
	}
	metas, err := st.ListModels(ctx, "ease")
	if err != nil || len(metas) != 2 {
		t.Fatalf("models: %v %v", metas, err)
	}
	metas[1].Status = "serving"
	if err := st.UpdateModelMeta(ctx, metas[1]); err != nil {
		t.Fatal(err)
	}
	if err := st.PutVectors(ctx, "text", []store.ItemVector{{ItemID: "a", Vec: []float32{1, 2.5}}, {ItemID: "b", Vec: []float32{-1, 0}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.MerchUpdate(ctx, func(m store.MerchTx) error { return m.Put("rules", "r1", []byte(`{"pin":"a"}`)) }); err != nil {
		t.Fatal(err)
	}

	// a writer adds one new user with 50 events per batch meanwhile
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for k := 0; wctx.Err() == nil; k++ {
			evs := make([]events.Event, 50)
			for i := range evs {
				evs[i] = events.Event{UserID: fmt.Sprintf("w%d", k), ItemID: "a", Type: events.View, Timestamp: now.Add(time.Duration(i) * time.Millisecond)}
			}
			if err := st.AppendEvents(wctx, evs); err != nil && wctx.Err() == nil {
				t.Error(err)
				return
			}
		}
	})
	time.Sleep(100 * time.Millisecond)
	file := filepath.Join(t.TempDir(), "snap.db")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	n, err := st.WriteSnapshot(ctx, f)
	f.Close()
	stop()
	wg.Wait()
	if err != nil || n == 0 {
		t.Fatalf("WriteSnapshot: %d bytes, %v", n, err)
	}
	rep, err := boltstore.Check(ctx, file, 10)
	if err != nil || len(rep.Problems) > 0 {
		t.Fatalf("the snapshot does not check: %v %v", rep.Problems, err)
	}
	dir := t.TempDir()
	if err := os.Rename(file, filepath.Join(dir, boltstore.FileName)); err != nil {
		t.Fatal(err)
	}
	b, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	if it, err := b.GetItem(ctx, "a"); err != nil || it.Title != "kettle" || !it.Available {
		t.Fatalf("item a: %+v %v", it, err)
	}
	if u, err := b.GetUser(ctx, "u1"); err != nil || u.Attributes["tier"] != "gold" {
		t.Fatalf("user u1: %+v %v", u, err)
	}
	evs, err := b.UserEvents(ctx, "u1", 0)
	if err != nil || len(evs) != 2 || evs[0].ItemID != "b" || !evs[0].Timestamp.Equal(now.Add(time.Second)) {
		t.Fatalf("u1's events: %+v %v", evs, err)
	}
	// the writer's batches: whole, and in as many users as batches
	perUser := map[string]int{}
	var last uint64
	err = b.ScanEvents(ctx, 0, func(e events.Event) error {
		if e.Seq <= last {
			return fmt.Errorf("seq %d after %d", e.Seq, last)
		}
		last = e.Seq
		if strings.HasPrefix(e.UserID, "w") {
			perUser[e.UserID]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for u, k := range perUser {
		if k != 50 {
			t.Errorf("user %s has %d of its batch's 50 events in the snapshot: not one moment", u, k)
		}
	}
	users, _ := b.CountUsers(ctx)
	if users != 1+len(perUser) {
		t.Errorf("the snapshot has %d users, want u1 and the %d writers whose events it holds", users, len(perUser))
	}
	t.Logf("snapshot of %d bytes taken while a writer went on: %d of its batches in it", n, len(perUser))
	ms, err := b.ListModels(ctx, "ease")
	if err != nil || len(ms) != 2 || ms[1].Status != "serving" || ms[0].Status != "candidate" {
		t.Fatalf("models in the snapshot: %+v %v", ms, err)
	}
	_, blob, err := b.LoadModel(ctx, "ease", ms[1].Version)
	if err != nil || len(blob) != 3<<20 || blob[0] != 2 || blob[len(blob)-1] != 2 {
		t.Fatalf("artefact of version 2: %d bytes, %v", len(blob), err)
	}
	vs, err := b.GetVectors(ctx, "text", []string{"a", "b"})
	if err != nil || len(vs) != 2 || vs[0].Vec[1] != 2.5 {
		t.Fatalf("vectors: %+v %v", vs, err)
	}
	var rule []byte
	b.MerchView(ctx, func(m store.MerchTx) error { rule = m.Get("rules", "r1"); return nil })
	if string(rule) != `{"pin":"a"}` {
		t.Fatalf("merchandising record: %q", rule)
	}
}

// Compact rewrites the tables where a forgotten user's rows were deleted:
// afterwards their id is in no data file of those tables (checked on the
// files when the server's data directory is readable), nothing is
// pending, and CompactedAt says when.
func TestCompact(t *testing.T) {
	ctx := context.Background()
	st := open(t)
	if at, err := st.CompactedAt(ctx); err != nil || !at.IsZero() {
		t.Fatalf("CompactedAt before any compaction: %v %v", at, err)
	}
	if err := st.PutItems(ctx, []catalog.Item{{ID: "a"}}); err != nil {
		t.Fatal(err)
	}
	secret := "secret-shopper-7f3a9c"
	jan := time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC)
	var evs []events.Event
	for i := range 200 {
		evs = append(evs, events.Event{UserID: secret, ItemID: "a", Type: events.View, Timestamp: jan.AddDate(0, i%2, 0)},
			events.Event{UserID: fmt.Sprintf("other-%d", i), ItemID: "a", Type: events.View, Timestamp: jan})
	}
	if err := st.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.ForgetUser(ctx, secret, time.Now()); err != nil {
		t.Fatal(err)
	}
	var pending []string
	rows, err := st.Pool().Query(ctx, `SELECT rel FROM compact_pending ORDER BY rel`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r string
		rows.Scan(&r)
		pending = append(pending, r)
	}
	rows.Close()
	if strings.Join(pending, ",") != "events_p202501,events_p202502,users" {
		t.Fatalf("tables to compact after forgetting: %v, want both months' partitions and users", pending)
	}
	rep, err := st.Compact(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.At.IsZero() || rep.BytesBefore <= 0 || rep.BytesAfter <= 0 {
		t.Fatalf("report: %+v", rep)
	}
	if at, err := st.CompactedAt(ctx); err != nil || !at.Equal(rep.At.Truncate(time.Microsecond)) {
		t.Fatalf("CompactedAt %v (%v), want %v", at, err, rep.At)
	}
	var left int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM compact_pending`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d tables still pending (%v)", left, err)
	}
	if n, err := st.CountEvents(ctx); err != nil || n != 200 {
		t.Fatalf("the others' events after compaction: %d %v", n, err)
	}

	// the files themselves, when this process can read them
	var dataDir string
	if err := st.Pool().QueryRow(ctx, `SELECT current_setting('data_directory')`).Scan(&dataDir); err != nil {
		t.Logf("data directory not readable by this user (%v): the files are not checked", err)
		return
	}
	if _, err := st.Pool().Exec(ctx, `CHECKPOINT`); err != nil {
		t.Logf("CHECKPOINT needs more rights (%v): the files are not checked", err)
		return
	}
	for _, rel := range pending {
		var path string
		if err := st.Pool().QueryRow(ctx, `SELECT pg_relation_filepath($1)`, rel).Scan(&path); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(dataDir, path))
		if err != nil {
			t.Logf("%s: %v: the files are not checked", rel, err)
			return
		}
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("%s (%s) still holds the forgotten user's id after Compact", rel, path)
		}
	}
}
