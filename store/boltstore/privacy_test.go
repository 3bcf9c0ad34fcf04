package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
)

// scanDir reports whether needle occurs in any file of dir.
func scanDir(t *testing.T, dir string, needle []byte) bool {
	t.Helper()
	found := false
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		found = found || bytes.Contains(b, needle)
		return nil
	})
	return found
}

// Forgetting a user removes their record and events at once, leaves a
// receipt that names nobody, and after compaction no file of the data
// directory holds their query text any more (before it, bbolt's freed
// pages still do).
func TestForgetUserThenCompact(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	secret := "zebra-striped umbrella 7f3a9"
	var evs []events.Event
	now := time.Now().UTC().Truncate(time.Second)
	for i := 0; i < 10; i++ {
		evs = append(evs, events.Event{UserID: "alice", SessionID: "s1", Type: events.Search, Query: secret, Timestamp: now})
		evs = append(evs, events.Event{UserID: "alice", ItemID: "i1", Type: events.View, Timestamp: now})
	}
	for i := 0; i < 200; i++ {
		evs = append(evs, events.Event{UserID: fmt.Sprintf("u%d", i), ItemID: "i1", Type: events.View, Timestamp: now})
	}
	if err := s.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if !scanDir(t, dir, []byte(secret)) {
		t.Fatal("the query is not in the file before forgetting: the test proves nothing")
	}
	got, rc, err := s.ForgetUser(ctx, "alice", now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 20 || rc.Events != 20 || rc.SearchLogEntries != 10 || rc.ByType["view"] != 10 || !rc.Profile {
		t.Fatalf("forgot %d events, receipt %+v", len(got), rc)
	}
	if _, _, err := s.ForgetUser(ctx, "alice", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("forgetting again: %v, want not found", err)
	}
	if evs, _ := s.UserEvents(ctx, "alice", 0); len(evs) != 0 {
		t.Fatalf("%d events left", len(evs))
	}
	if n, _ := s.CountEvents(ctx); n != 200 {
		t.Fatalf("%d events counted, want 200", n)
	}
	if r, err := s.ForgetReceipt(ctx, "alice"); err != nil || r.Events != 20 {
		t.Fatalf("receipt %+v %v", r, err)
	}
	if fu, _ := s.ForgottenUsers(ctx); len(fu) != 1 {
		t.Fatalf("forgotten users %v", fu)
	}
	select {
	case <-s.CompactRequested():
	default:
		t.Fatal("no compaction requested")
	}
	leftBefore := scanDir(t, dir, []byte(secret))
	rep, err := s.Compact(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("query bytes on disk before compaction: %v; compaction %+v", leftBefore, rep)
	if scanDir(t, dir, []byte(secret)) {
		t.Fatal("the forgotten query is still on disk after compaction")
	}
	if scanDir(t, dir, []byte("alice")) {
		t.Fatal("the forgotten user id is still on disk after compaction")
	}
	// the store works on, across a reopen, with its sequence kept
	if at, _ := s.CompactedAt(ctx); at.IsZero() {
		t.Fatal("no compaction time")
	}
	more := []events.Event{{UserID: "bob", ItemID: "i1", Type: events.View, Timestamp: now}}
	if err := s.AppendEvents(ctx, more); err != nil {
		t.Fatal(err)
	}
	if more[0].Seq != 221 {
		t.Fatalf("seq %d after compaction, want 221", more[0].Seq)
	}
	s.Close()
	if s, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountEvents(ctx); n != 201 {
		t.Fatalf("%d events after reopen", n)
	}
	if evs, _ := s.UserEvents(ctx, "u3", 0); len(evs) != 1 {
		t.Fatalf("u3 has %d events after compaction", len(evs))
	}
}

// A snapshot taken while writes go on opens as a store with a consistent
// count of events.
func TestSnapshotWhileWriting(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	stop := make(chan struct{})
	done := make(chan error)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if err := s.AppendEvents(ctx, []events.Event{{UserID: "u", ItemID: "i", Type: events.View, Timestamp: time.Now()}}); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	var buf bytes.Buffer
	n, err := s.WriteSnapshot(ctx, &buf)
	close(stop)
	if werr := <-done; werr != nil {
		t.Fatal(werr)
	}
	if err != nil || n != int64(buf.Len()) {
		t.Fatal(n, err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cnt, _ := r.CountEvents(ctx)
	evs, _ := r.UserEvents(ctx, "u", 0)
	if cnt == 0 || cnt != len(evs) {
		t.Fatalf("snapshot counts %d events, indexes %d", cnt, len(evs))
	}
}

func TestExpireEvents(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	now := time.Now().UTC()
	old := now.Add(-100 * 24 * time.Hour)
	var evs []events.Event
	for i := 0; i < 50; i++ {
		evs = append(evs,
			events.Event{UserID: "u", ItemID: "i", Type: events.View, Timestamp: old},
			events.Event{UserID: "u", ItemID: "i", Type: events.View, Timestamp: now},
			events.Event{UserID: "u", ItemID: "i", Type: events.Purchase, Timestamp: old})
	}
	if err := s.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	cut := map[events.Type]time.Time{events.View: now.Add(-90 * 24 * time.Hour)}
	var after uint64
	deleted, steps := 0, 0
	for {
		b, err := s.ExpireEvents(ctx, cut, after, 16)
		if err != nil {
			t.Fatal(err)
		}
		deleted += b.Deleted
		after = b.Next
		steps++
		if b.Done {
			break
		}
	}
	if deleted != 50 || steps < 10 {
		t.Fatalf("deleted %d in %d steps", deleted, steps)
	}
	if n, _ := s.CountEvents(ctx); n != 100 {
		t.Fatalf("%d events left", n)
	}
	left, _ := s.UserEvents(ctx, "u", 0)
	for _, e := range left {
		if e.Type == events.View && e.Timestamp.Before(cut[events.View]) {
			t.Fatal("an expired view is still indexed")
		}
	}
	if len(left) != 100 {
		t.Fatalf("%d indexed events left", len(left))
	}
}

// Compaction while readers and writers work: every acknowledged write is
// in the compacted file, and no reader sees an error.
func TestCompactWhileServing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	stop := make(chan struct{})
	errs := make(chan error, 3)
	acked := make(chan int, 1)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				acked <- n
				errs <- nil
				return
			default:
			}
			if err := s.AppendEvents(ctx, []events.Event{{UserID: fmt.Sprintf("u%d", n%5), ItemID: "i", Type: events.View, Timestamp: time.Now()}}); err != nil {
				errs <- err
				acked <- n
				return
			}
			n++
		}
	}()
	go func() {
		for {
			select {
			case <-stop:
				errs <- nil
				return
			default:
			}
			if _, err := s.UserEvents(ctx, "u1", 10); err != nil {
				errs <- err
				return
			}
		}
	}()
	for i := 0; i < 2; i++ {
		time.Sleep(20 * time.Millisecond)
		if _, err := s.Compact(ctx); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	n := <-acked
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if s, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.CountEvents(ctx); c != n || n == 0 {
		t.Fatalf("%d events stored, %d acknowledged", c, n)
	}
}

// ScanUserEvents reads in chunks, oldest first, and sees every event.
func TestScanUserEventsChunks(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	t0 := time.Now().UTC().Add(-time.Hour)
	var evs []events.Event
	for i := 0; i < 2*scanChunk+17; i++ {
		evs = append(evs, events.Event{UserID: "ann", ItemID: "i", Type: events.View, Timestamp: t0.Add(time.Duration(i) * time.Millisecond)},
			events.Event{UserID: "anna", ItemID: "i", Type: events.View, Timestamp: t0})
	}
	if err := s.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	var last uint64
	n := 0
	err := s.ScanUserEvents(ctx, "ann", func(e events.Event) error {
		if e.UserID != "ann" || e.Seq <= last {
			return fmt.Errorf("event %+v after seq %d", e, last)
		}
		last = e.Seq
		n++
		return nil
	})
	if err != nil || n != 2*scanChunk+17 {
		t.Fatalf("%d events, %v", n, err)
	}
}

// A snapshot streamed to a slow client makes compaction give way rather
// than stall every request behind it.
func TestCompactGivesWayToASnapshot(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if err := s.AppendEvents(ctx, []events.Event{{UserID: "u", ItemID: "i", Type: events.View, Timestamp: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	started := make(chan struct{})
	go s.WriteSnapshot(ctx, &slowWriter{started: started, release: release})
	<-started
	if _, err := s.Compact(ctx); !errors.Is(err, ErrBusy) {
		t.Fatalf("compaction during a snapshot: %v", err)
	}
	if _, err := s.UserEvents(ctx, "u", 1); err != nil { // requests still served
		t.Fatal(err)
	}
	close(release)
}

type slowWriter struct {
	started, release chan struct{}
	once             bool
}

func (w *slowWriter) Write(p []byte) (int, error) {
	if !w.once {
		w.once = true
		close(w.started)
		<-w.release
	}
	return len(p), nil
}
