package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
)

// forgetRecorder is a listener that keeps what it is told to forget.
type forgetRecorder struct {
	recorder
	got []events.Event
}

func (f *forgetRecorder) UserForgotten(id string, removed []events.Event) map[string]int {
	f.got = append(f.got, removed...)
	return map[string]int{"things": len(removed)}
}

func TestForgetReportExportAndCompaction(t *testing.T) {
	ctx := context.Background()
	e, _ := newEngine(t, true)
	f := &forgetRecorder{}
	e.Subscribe(f)
	now := time.Now().UTC()
	evs := []events.Event{
		{UserID: "ann", ItemID: "a", Type: events.View, Timestamp: now.Add(-2 * time.Minute)},
		{UserID: "ann", Type: events.Search, Query: "blue pen", Timestamp: now.Add(-time.Minute)},
		{UserID: "ben", ItemID: "a", Type: events.View, Timestamp: now},
	}
	if err := e.AddEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	err := e.ExportUser(ctx, "ann", func(kind string, v any) error { kinds = append(kinds, kind); return nil })
	if err != nil || len(kinds) != 3 || kinds[0] != "user" || kinds[1] != "event" || kinds[2] != "search" {
		t.Fatalf("export %v %v", kinds, err)
	}
	if err := e.ExportUser(ctx, "nobody", func(string, any) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("export of an unknown user: %v", err)
	}
	if _, err := e.Forgotten(ctx, "ann"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("report before forgetting: %v", err)
	}
	rep, err := e.ForgetUser(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.got) != 2 || f.forgotten != 1 || rep.InMemory["things"] != 2 || rep.Store.Events != 2 || rep.Store.SearchLogEntries != 1 {
		t.Fatalf("listener got %d events; report %+v", len(f.got), rep)
	}
	if rep.Complete || len(rep.Pending) != 1 || rep.Pending[0].What != "compaction" || rep.Pending[0].DueBy == nil {
		t.Fatalf("pending %+v", rep.Pending)
	}
	if _, err := e.ForgetUser(ctx, "ann"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("forgetting twice: %v", err)
	}
	jctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.RunPrivacyJobs(jctx, PrivacyOptions{CompactAfter: 10 * time.Millisecond}); close(done) }()
	defer func() { cancel(); <-done }()
	e.requestCompaction() // the request of the forget above came before the job ran
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		rep, err = e.Forgotten(ctx, "ann")
		if err != nil {
			t.Fatal(err)
		}
		if rep.Complete {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still pending: %+v", rep.Pending)
		}
	}
	if rep.CompactedAt == nil || !rep.CompactedAt.After(rep.Store.DeletedAt) {
		t.Fatalf("compacted at %v, deleted at %v", rep.CompactedAt, rep.Store.DeletedAt)
	}
	if c, _ := e.Counts(ctx); c.Events != 1 {
		t.Fatalf("%d events left", c.Events)
	}
}
