package recommend

import (
	"context"
	"os"
	"reflect"
	"testing"

	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/internal/snapshot"
)

// The learnt item relations survive a restart: a service started over the
// same log (grown meanwhile) answers similar items and bought together
// exactly as before the stop, from their snapshot, without a rebuild; a
// damaged snapshot and one whose events the log no longer holds are
// ignored; a forget removes it before it returns and the rebuild without
// the user writes a new one.
func TestRelatedSurviveRestart(t *testing.T) {
	ctx := context.Background()
	st, its, evs, snapDir := snapStore(t, 12_000, 10_000, 5)
	cfg := Config{SnapshotDir: snapDir, SnapshotEvery: -1}
	var items []string
	for k := 0; k < len(its); k += 17 {
		items = append(items, its[k].ID)
	}
	relAnswers := func(svc *Service) map[string]any {
		t.Helper()
		out := map[string]any{}
		for _, it := range items {
			a, err := svc.Similar(ctx, it, Request{N: 10})
			if err != nil {
				t.Fatal(err)
			}
			b, err := svc.BoughtTogether(ctx, it, Request{N: 10})
			if err != nil {
				t.Fatal(err)
			}
			out["similar "+it], out["bought together "+it] = a, b
		}
		return out
	}
	first := newStopped(t, st, cfg, nil)
	if err := first.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := first.LearnRelated(ctx); err != nil {
		t.Fatal(err)
	}
	before := relAnswers(first)
	if err := first.CloseSnapshots(); err != nil {
		t.Fatal(err)
	}
	if first.relSnap.written.Load() == 0 {
		t.Fatal("no snapshot of the relations written")
	}
	// events stored after the stop (another replica, a crash) do not
	// change them until the usual rebuild
	if err := st.AppendEvents(ctx, evs[10_000:]); err != nil {
		t.Fatal(err)
	}
	start := func(what string, wantRestored bool) *Service {
		t.Helper()
		svc := newStopped(t, st, cfg, nil)
		if err := svc.Load(ctx); err != nil {
			t.Fatal(err)
		}
		if got := svc.relSnap.restored.Load(); got != wantRestored {
			t.Fatalf("%s: relations restored %v, want %v", what, got, wantRestored)
		}
		return svc
	}
	second := start("restart", true)
	if cur := second.rel.cur.Load(); cur == nil || !cur.learnt {
		t.Fatal("the restored relations are not the learnt ones")
	}
	after := relAnswers(second)
	for k, w := range before {
		if !reflect.DeepEqual(after[k], w) {
			t.Fatalf("%s after the restart:\n%+v\nbefore the stop:\n%+v", k, after[k], w)
		}
	}
	second.relSnap.wg.Wait()

	path := snapshot.Path(snapDir, relatedPart)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), good...)
	bad[len(bad)-100] ^= 0x10
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	start("damaged", false)

	// forgetting a user removes the snapshot before the call returns; the
	// rebuild without them writes a new one
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	third := start("before a forget", true)
	eng.Subscribe(third)
	if _, err := eng.ForgetUser(ctx, "u11"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the relations' snapshot survived a forget: %v", err)
	}
	if err := third.waitRelatedFence(ctx); err != nil {
		t.Fatal(err)
	}
	third.relSnap.wg.Wait()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no snapshot after the rebuild without the user: %v", err)
	}
	start("after the forget", true)

	// the old snapshot over a log that lost the user's events: ignored
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	start("a log without events it was built from", false)
}

// A relations build replaced by a newer one before its snapshot was
// written is not written: snapshot writes run in the background, and an
// older state written last would be what a restart restores (the start's
// warm-up learning, on a log read while events still arrived, finished
// its write after the complete learning's; TestRestartAnswersFromSnapshots
// then found other bought-together answers after a restart).
func TestOlderRelationsAreNotWrittenOverNewer(t *testing.T) {
	ctx := context.Background()
	st, _, _, snapDir := snapStore(t, 2_000, 2_000, 7)
	svc := newStopped(t, st, Config{SnapshotDir: snapDir, SnapshotEvery: -1}, nil)
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.LearnRelated(ctx); err != nil {
		t.Fatal(err)
	}
	svc.relSnap.wg.Wait()
	cur := svc.rel.cur.Load()
	older := *cur
	older.events = cur.events - 1
	written := svc.relSnap.written.Load()
	if err := svc.writeRelated(&older); err != nil {
		t.Fatal(err)
	}
	if svc.relSnap.written.Load() != written {
		t.Fatal("a state that is no longer the current one was written over the current one's snapshot")
	}
	if err := svc.writeRelated(cur); err != nil || svc.relSnap.written.Load() != written+1 {
		t.Fatalf("the current state was not written: %v", err)
	}
}

// A background learning that started from a stale state (the start's
// warm-up build, on a log read while events still arrived) does not
// replace relations learnt since from more of the log (LearnRelated),
// even when it ends later.
func TestStaleLearningDoesNotReplaceAFullerOne(t *testing.T) {
	ctx := context.Background()
	st, _, _, snapDir := snapStore(t, 2_000, 2_000, 8)
	svc := newStopped(t, st, Config{SnapshotDir: snapDir, SnapshotEvery: -1}, nil)
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.LearnRelated(ctx); err != nil {
		t.Fatal(err)
	}
	full := svc.rel.cur.Load()
	stale := *full
	stale.events, stale.learnt = full.events/2, false
	log, _, err := svc.relatedLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	svc.rel.running.Store(true)
	svc.learnRelated(&stale, log)
	if svc.rel.cur.Load() != full {
		t.Fatal("a learning from a stale state replaced relations learnt from more of the log")
	}
}
