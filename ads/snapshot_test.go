package ads

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/reqid"
	"github.com/aisle-dev/aisle/internal/snapshot"
)

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

// A start from ad billing's snapshot skips the events it covers and bills
// the clicks stored after it exactly once; a snapshot that no longer
// matches the log is ignored (every event replayed, nothing billed
// twice); a forget and a retention pass remove the file before they
// return.
func TestAdsRestartFromSnapshot(t *testing.T) {
	ctx := context.Background()
	sh := newTestShop(t)
	dir := filepath.Join(t.TempDir(), "snapshots")
	start := func(log []events.Event) *Service {
		t.Helper()
		s := sh.service(t)
		s.SetSnapshots(dir, -1, nil)
		s.LoadSnapshot()
		for _, e := range log {
			s.Replay(e)
		}
		if err := s.ReplayDone(ctx, scanOf(log)); err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := start(nil)
	a := saveCampaign(t, s, Campaign{Name: "A", Advertiser: "Acme", Items: []string{"i0"}, Bid: 1, DailyBudget: 1000, Pacing: "asap"})
	var log []events.Event
	for i := range 30 {
		user := fmt.Sprintf("u%d", i)
		rid := reqid.New()
		if ps := s.Fill(ctx, Request{RequestID: rid, Surface: "search", Query: "stapler", User: user}); len(ps) == 0 || ps[0].Campaign != a.ID {
			t.Fatalf("placements %+v", ps)
		}
		log = append(log, events.Event{Seq: uint64(len(log) + 1), UserID: user, ItemID: "i1", Type: events.View, Timestamp: sh.now},
			events.Event{Seq: uint64(len(log) + 2), UserID: user, ItemID: "i0", Type: events.Click, RequestID: rid, Position: 1, Timestamp: sh.now})
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s.EventsAppended(log[:40]) // 20 clicks billed live
	if err := s.CloseSnapshots(); err != nil {
		t.Fatal(err)
	}
	clicks := func(s *Service) int64 {
		t.Helper()
		rep, err := s.Report(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		return rep.Clicks
	}
	if n := clicks(s); n != 20 {
		t.Fatalf("%d clicks billed live, want 20", n)
	}
	// stopped with 10 clicks stored but not billed
	s = start(log)
	if s.snap.lastCovered != 40 {
		t.Fatalf("%d events taken from the snapshot, want 40", s.snap.lastCovered)
	}
	if n := clicks(s); n != 30 {
		t.Fatalf("%d clicks billed after the restart, want 30", n)
	}
	if err := s.CloseSnapshots(); err != nil {
		t.Fatal(err)
	}
	s = start(log)
	if s.snap.lastCovered != 60 || clicks(s) != 30 {
		t.Fatalf("second restart: %d covered, %d clicks; want 60, 30", s.snap.lastCovered, clicks(s))
	}
	// a log that lost a covered event: every event replayed, none billed twice
	lost := slices.Delete(slices.Clone(log), 0, 1)
	s = start(lost)
	if s.snap.lastCovered != 0 || clicks(s) != 30 {
		t.Fatalf("a log missing a covered event: %d covered, %d clicks; want 0, 30", s.snap.lastCovered, clicks(s))
	}
	path := snapshot.Path(dir, adsPart)
	exists := func() bool { _, err := os.Stat(path); return err == nil }
	if err := s.snap.keeper.Save(); err != nil || !exists() {
		t.Fatalf("no snapshot written (%v)", err)
	}
	s.UserForgotten("u3", []events.Event{lost[4], lost[5]})
	if exists() {
		t.Fatal("the snapshot survived a forget")
	}
	kept := slices.Delete(slices.Clone(lost), 4, 6)
	if err := s.snap.keeper.Save(); err != nil {
		t.Fatal(err)
	}
	s = start(kept)
	if s.snap.lastCovered != len(kept) {
		t.Fatalf("after a forget: %d covered, want %d", s.snap.lastCovered, len(kept))
	}
	retained := kept[10:]
	err := s.RelearnAfterRetention(ctx, func(ctx context.Context, after uint64, fn func(events.Event) error) error {
		if exists() {
			t.Error("the snapshot is still there while retention relearns")
		}
		return scanOf(retained)(ctx, after, fn)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.snap.keeper.Save(); err != nil {
		t.Fatal(err)
	}
	s = start(retained)
	if s.snap.lastCovered != len(retained) || clicks(s) != 30 {
		t.Fatalf("after retention: %d covered, %d clicks; want %d, 30", s.snap.lastCovered, clicks(s), len(retained))
	}
}
