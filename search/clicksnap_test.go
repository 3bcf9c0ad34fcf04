package search

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/snapshot"
)

// clickLog is n events of searches and actions in 300 sessions of 60
// shoppers, Seqs 1..n, some actions stored before the search they
// followed.
func clickLog(n int, seed uint64) []events.Event {
	rng := rand.New(rand.NewPCG(seed, 7))
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	queries := []string{"gel pen", "stapler", "Desk Lamp", "paper a4", "ink"}
	types := []events.Type{events.Search, events.Click, events.Click, events.AddToCart, events.Purchase, events.View}
	out := make([]events.Event, n)
	for k := range out {
		s := rng.IntN(300)
		e := events.Event{Seq: uint64(k + 1), UserID: fmt.Sprintf("u%d", s%60), SessionID: fmt.Sprintf("s%d", s),
			Type: types[rng.IntN(len(types))], Timestamp: t0.Add(time.Duration(k)*20*time.Second - time.Duration(rng.IntN(120))*time.Second)}
		if e.Type == events.Search {
			e.Query = queries[rng.IntN(len(queries))]
		} else {
			e.ItemID = fmt.Sprintf("i%d", rng.IntN(40))
			e.Position = 1 + rng.IntN(10)
		}
		out[k] = e
	}
	return out
}

func newSnapClicks(dir string) *Clicks {
	c := NewClicks()
	c.PositionWeight = func(p int) float64 { return 1 + float64(p)/10 }
	c.SetSnapshots(dir, -1, nil)
	return c
}

// startClicks starts a click model as the server does: its snapshot,
// then the whole log through Replay.
func startClicks(t *testing.T, dir string, log []events.Event) *Clicks {
	t.Helper()
	c := newSnapClicks(dir)
	c.LoadSnapshot()
	for _, e := range log {
		c.Replay(e)
	}
	if err := c.ReplayDone(context.Background(), scanOf(log)); err != nil {
		t.Fatal(err)
	}
	return c
}

func scanOf(log []events.Event) func(context.Context, uint64, func(events.Event) error) error {
	return func(_ context.Context, _ uint64, fn func(events.Event) error) error {
		for _, e := range log {
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	}
}

// dumpClicks is the model's state as text (weights and sessions).
func dumpClicks(c *Clicks) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var lines []string
	for q, m := range c.pairs {
		for id, w := range m {
			lines = append(lines, fmt.Sprintf("pair %q %q %.12g", q, id, w))
		}
	}
	for id, ss := range c.sessions {
		lines = append(lines, fmt.Sprintf("session %q newest %d", id, ss.newest.UnixNano()))
		for _, s := range ss.searches {
			lines = append(lines, fmt.Sprintf("  search %q %d", s.query, s.at.UnixNano()))
		}
		for _, a := range ss.actions {
			lines = append(lines, fmt.Sprintf("  action %d %q %.12g for %q %d", a.at.UnixNano(), a.item, a.w, a.search.query, a.search.at.UnixNano()))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// A click model started from its snapshot (written at a clean shutdown,
// the log then grown by events it never heard) holds exactly what one
// learnt from the whole log holds, and goes on learning the same; a
// damaged snapshot, one of other settings and one that no longer matches
// the log are ignored.
func TestClicksRestartFromSnapshotMatchesFullReplay(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "snapshots")
	log := clickLog(6000, 1)
	first := startClicks(t, dir, log[:2000])
	for k := 2000; k < 4000; k += 250 {
		first.EventsAppended(log[k : k+250])
	}
	if err := first.CloseSnapshots(); err != nil {
		t.Fatal(err)
	}
	if first.SnapshotsWritten() != 1 {
		t.Fatalf("%d snapshots written at shutdown, want 1", first.SnapshotsWritten())
	}
	later := log[5500:]
	check := func(what string, c *Clicks, log []events.Event, wantCovered bool) {
		t.Helper()
		full := newSnapClicks("")
		for _, e := range log {
			full.Record(e)
		}
		if used := c.snap.lastCovered > 0; used != wantCovered {
			t.Fatalf("%s: snapshot used %v, want %v", what, used, wantCovered)
		}
		if got, want := dumpClicks(c), dumpClicks(full); got != want {
			t.Fatalf("%s: state differs from a full replay\n%.2000s\nwant\n%.2000s", what, got, want)
		}
		c.EventsAppended(later)
		full.EventsAppended(later)
		if got, want := dumpClicks(c), dumpClicks(full); got != want {
			t.Fatalf("%s: after more events the state differs from a full replay", what)
		}
	}
	grown := log[:5500]
	check("restart", startClicks(t, dir, grown), grown, true)

	// damaged: ignored
	p := snapshot.Path(dir, clicksPart)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	good := slices.Clone(b)
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	check("damaged", startClicks(t, dir, grown), grown, false)
	// a log that lost an event the snapshot counted: relearnt
	if err := os.WriteFile(p, good, 0o600); err != nil {
		t.Fatal(err)
	}
	lost := slices.Delete(slices.Clone(grown), 100, 101)
	check("a log missing a covered event", startClicks(t, dir, lost), lost, false)

	// other settings: ignored once the start knows them all (ReplayDone),
	// relearnt from the log, and the file removed
	if err := os.WriteFile(p, good, 0o600); err != nil {
		t.Fatal(err)
	}
	other := newSnapClicks(dir)
	other.Window = time.Hour
	other.LoadSnapshot()
	for _, e := range grown {
		other.Replay(e)
	}
	if err := other.ReplayDone(context.Background(), scanOf(grown)); err != nil {
		t.Fatal(err)
	}
	if other.snap.lastCovered != 0 {
		t.Fatal("a snapshot of another window was used")
	}
	if _, err := os.Stat(p); err == nil {
		t.Fatal("the ignored snapshot of another window is still on disk")
	}
}

// A forget removes the snapshot before it returns and none is written
// until the model was relearnt without the user; a change of the users
// who consent removes it too; a rebuild (as after retention) removes it
// before reading the log.
func TestClicksSnapshotPrivacy(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "snapshots")
	log := clickLog(2000, 2)
	optedOut := map[string]bool{}
	c := newSnapClicks(dir)
	c.SkipUser = func(u string) bool { return optedOut[u] }
	c.Consent = func() uint64 { return uint64(len(optedOut)) }
	c.LoadSnapshot()
	if err := c.ReplayDone(context.Background(), scanOf(nil)); err != nil {
		t.Fatal(err)
	}
	c.EventsAppended(log)
	exists := func() bool { _, err := os.Stat(snapshot.Path(dir, clicksPart)); return err == nil }
	save := func() {
		t.Helper()
		if err := c.snap.keeper.Save(); err != nil {
			t.Fatal(err)
		}
	}
	save()
	if !exists() {
		t.Fatal("no snapshot written")
	}
	var removed []events.Event
	for _, e := range log {
		if e.UserID == "u7" {
			removed = append(removed, e)
		}
	}
	c.UserForgotten("u7", removed)
	if exists() {
		t.Fatal("the snapshot survived a forget")
	}
	save()
	if err := c.CloseSnapshots(); err != nil || exists() {
		t.Fatalf("a snapshot was written before the model was relearnt without the user (%v)", err)
	}
	kept := slices.DeleteFunc(slices.Clone(log), func(e events.Event) bool { return e.UserID == "u7" })
	if err := c.Rebuild(context.Background(), scanOf(kept)); err != nil {
		t.Fatal(err)
	}
	save()
	if !exists() {
		t.Fatal("no snapshot after the rebuild")
	}
	if strings.Contains(dumpClicks(startClicks(t, dir, kept)), `"s7"`) && !slices.ContainsFunc(kept, func(e events.Event) bool { return e.SessionID == "s7" }) {
		t.Fatal("the forgotten user's session came back from the snapshot")
	}
	optedOut["u3"] = true
	c.UsersUpserted([]catalog.User{{ID: "u3"}})
	if exists() {
		t.Fatal("the snapshot survived a consent withdrawal")
	}
	c.UsersUpserted([]catalog.User{{ID: "u4"}}) // no change: nothing more
	if err := c.Rebuild(context.Background(), scanOf(kept)); err != nil {
		t.Fatal(err)
	}
	save()
	if !exists() {
		t.Fatal("no snapshot after relearning without the withdrawn user")
	}
	retention := kept[500:]
	err := c.Rebuild(context.Background(), func(ctx context.Context, after uint64, fn func(events.Event) error) error {
		if exists() {
			t.Error("the snapshot is still there while the log is read again")
		}
		return scanOf(retention)(ctx, after, fn)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A consent withdrawal made while this process was stopped (through
// another replica, say) is known only once the recommender has loaded,
// after LoadSnapshot: the snapshot, written when nobody had opted out, is
// then ignored and removed, and the model relearnt without the user's
// sessions, never saved back under the new consent set.
func TestClicksSnapshotOfAnotherConsentSetIsNotUsed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "snapshots")
	log := clickLog(2000, 3)
	first := startClicks(t, dir, log)
	if err := first.CloseSnapshots(); err != nil {
		t.Fatal(err)
	}
	optedOut := map[string]bool{}
	c := newSnapClicks(dir)
	c.SkipUser = func(u string) bool { return optedOut[u] }
	c.Consent = func() uint64 { return uint64(len(optedOut)) }
	c.LoadSnapshot() // as aisle.Start: before the recommender loads consent
	optedOut["u5"] = true
	for _, e := range log {
		c.Replay(e)
	}
	if err := c.ReplayDone(context.Background(), scanOf(log)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(snapshot.Path(dir, clicksPart)); err == nil {
		t.Error("the snapshot made under another consent set is still on disk")
	}
	for _, e := range log {
		if e.UserID == "u5" && strings.Contains(dumpClicks(c), fmt.Sprintf("session %q", e.SessionID)) &&
			!slices.ContainsFunc(log, func(o events.Event) bool { return o.SessionID == e.SessionID && o.UserID != "u5" }) {
			t.Fatalf("the opted-out user's session %s came back from the snapshot", e.SessionID)
		}
	}
	want := newSnapClicks("")
	want.SkipUser = c.SkipUser
	want.Consent = c.Consent
	want.LoadSnapshot()
	if err := want.ReplayDone(context.Background(), scanOf(nil)); err != nil {
		t.Fatal(err)
	}
	if err := want.Rebuild(context.Background(), scanOf(log)); err != nil {
		t.Fatal(err)
	}
	if dumpClicks(c) != dumpClicks(want) {
		t.Error("the model started over a snapshot of another consent set differs from one learnt without the user")
	}
}
