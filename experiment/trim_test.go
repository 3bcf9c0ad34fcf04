package experiment

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/impressions"
)

// ridAt is a request id made at t (the shape of reqid.New).
func ridAt(t time.Time, n int) string { return fmt.Sprintf("%08x%016x", t.Unix(), n) }

func TestTooOld(t *testing.T) {
	cut := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		e    events.Event
		want bool
	}{
		{"recent, no request", events.Event{Timestamp: cut.Add(time.Hour)}, false},
		{"old, no request", events.Event{Timestamp: cut.Add(-time.Second)}, true},
		{"no time, no request", events.Event{}, false},
		{"recent answer", events.Event{Timestamp: cut.Add(time.Hour), RequestID: ridAt(cut, 1)}, false},
		{"old answer, recent event", events.Event{Timestamp: cut.Add(time.Hour), RequestID: ridAt(cut.Add(-2*time.Second), 1)}, true},
		{"malformed request id", events.Event{Timestamp: cut.Add(time.Hour), RequestID: "x"}, false},
	}
	for _, c := range cases {
		if got := tooOld(c.e, cut); got != c.want {
			t.Errorf("%s: tooOld = %v, want %v", c.name, got, c.want)
		}
	}
}

// The keys of counted events are kept for the attribution window (the
// impression retention) and then trimmed, in memory and in the file; an
// event older than the window is never counted, so a trimmed key cannot
// let a retried event count twice.
func TestCountedKeysAreTrimmedAfterTheWindow(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	imp, err := impressions.Open(filepath.Join(dir, "imp.db"), impressions.Options{Retention: 24 * time.Hour, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer imp.Close()
	m, err := Open(Options{Path: filepath.Join(dir, "exp.db"), Impressions: imp, Now: clock,
		Price: func(context.Context, string) (float64, bool) { return 10, true }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	e, err := m.Create(contract())
	if err != nil {
		t.Fatal(err)
	}
	as, _ := m.Serve("recommend", "u1")
	show := func(n int) string {
		rid := ridAt(now, n)
		m.Shown(impressions.Impression{RequestID: rid, Surface: "recommend", UserID: "u1", Experiment: e.ID, Variant: as.Variant, Items: []string{"i1"}}, "u1")
		return rid
	}
	click := func(rid string) events.Event {
		return events.Event{UserID: "u1", ItemID: "i1", Type: events.Click, RequestID: rid, Timestamp: now}
	}
	clicks := func() float64 {
		t.Helper()
		r, err := m.Results(e.ID)
		if err != nil {
			t.Fatal(err)
		}
		return r.Variants[as.Index].Clicks
	}
	stored := func() int {
		t.Helper()
		if err := m.Flush(); err != nil {
			t.Fatal(err)
		}
		n := 0
		if err := m.view(func(tx *bolt.Tx) error { n = tx.Bucket(bSeen).Stats().KeyN; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	old := show(1)
	m.EventsAppended([]events.Event{click(old)})
	now = now.Add(20 * time.Hour)
	recent := show(2)
	m.EventsAppended([]events.Event{click(recent), click(old)}) // old: a retry
	if c, n := clicks(), stored(); c != 2 || n != 2 {
		t.Fatalf("%v clicks, %d keys stored; want 2 and 2", c, n)
	}
	now = now.Add(5 * time.Hour) // old is past the 24 h window, recent is not
	if err := m.TrimCounted(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := stored(); n != 1 || len(m.seen) != 1 {
		t.Fatalf("%d keys stored, %d in memory after the trim; want 1 (the recent answer's)", n, len(m.seen))
	}
	// retries of both: the old one is past the window, the recent one kept
	m.EventsAppended([]events.Event{click(recent), click(old)})
	if c := clicks(); c != 2 {
		t.Fatalf("%v clicks after retrying both; want still 2", c)
	}
	// a restart reads the trimmed file
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if m, err = Open(Options{Path: filepath.Join(dir, "exp.db"), Impressions: imp, Now: clock}); err != nil {
		t.Fatal(err)
	}
	if len(m.seen) != 1 {
		t.Fatalf("%d keys after a restart, want 1", len(m.seen))
	}
}
