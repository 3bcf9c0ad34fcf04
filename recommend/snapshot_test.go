package recommend

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/snapshot"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// answers is everything a restarted service must answer as a full replay
// does: popular (all time, a week, a day), trending, personal
// recommendations, buy it again, similar items and bought together.
func answers(t *testing.T, svc *Service, users, items []string) map[string]any {
	t.Helper()
	ctx := context.Background()
	out := map[string]any{
		"popular":     svc.Popular(0, Request{N: 40}),
		"popular 7d":  svc.Popular(7*24*time.Hour, Request{N: 40}),
		"popular 24h": svc.Popular(24*time.Hour, Request{N: 40}),
		"trending":    svc.Trending(Request{N: 40}),
	}
	for _, u := range users {
		a, err := svc.Recommend(ctx, u, Request{N: 20})
		if err != nil {
			t.Fatal(err)
		}
		out["recommend "+u] = a
		b, err := svc.BuyAgain(ctx, u, Request{N: 10})
		if err != nil {
			t.Fatal(err)
		}
		out["buy again "+u] = b
	}
	for _, it := range items {
		a, err := svc.Similar(ctx, it, Request{N: 10})
		if err != nil {
			t.Fatal(err)
		}
		out["similar "+it] = a
		b, err := svc.BoughtTogether(ctx, it, Request{N: 10})
		if err != nil {
			t.Fatal(err)
		}
		out["bought together "+it] = b
	}
	return out
}

// newStopped is New whose background work is stopped before the test's
// end (relations learnt after a request write their snapshot into the
// test's temporary directory otherwise, after it is removed).
func newStopped(t testing.TB, st store.Store, cfg Config, log *slog.Logger) *Service {
	t.Helper()
	svc := New(st, cfg, log)
	t.Cleanup(svc.Stop)
	return svc
}

func sameAnswers(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Fatalf("%s: %s differs from a full replay:\n%+v\nfull replay:\n%+v", what, k, got[k], w)
		}
	}
}

// A service restarted from a snapshot (the counts of the events before it,
// then the events after) answers exactly as one that replays the whole
// log; a damaged snapshot or one that no longer matches the log is
// ignored and the log replayed; forgetting a user removes the snapshot.
// snapStore is a bolt store (closed at the test's end) holding the
// catalogue and the first head of n soak-shaped events, with the events
// and a snapshot directory beside it.
func snapStore(t *testing.T, n, head int, seed uint64) (*boltstore.Store, []catalog.Item, []events.Event, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := boltstore.Open(filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	its, evs := soakShaped(n, seed)
	if err := st.PutItems(context.Background(), its); err != nil {
		t.Fatal(err)
	}
	if err := st.AppendEvents(context.Background(), evs[:head]); err != nil {
		t.Fatal(err)
	}
	return st, its, evs, filepath.Join(dir, "snapshots")
}

func TestRestartFromSnapshotMatchesFullReplay(t *testing.T) {
	ctx := context.Background()
	st, its, evs, snapDir := snapStore(t, 12_000, 6000, 3)
	cfg := Config{SnapshotDir: snapDir, SnapshotEvery: -1}
	eng, err := engine.New(engine.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	live := newStopped(t, st, cfg, nil)
	if err := live.Load(ctx); err != nil {
		t.Fatal(err)
	}
	eng.Subscribe(live)
	addLive := func(from, to int) {
		for k := from; k < to; k += 500 {
			if err := eng.AddEvents(ctx, evs[k:min(k+500, to)]); err != nil {
				t.Fatal(err)
			}
		}
	}
	addLive(6000, 9000)
	if err := live.SaveSnapshot(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(snapshot.Path(snapDir, snapshotPart)); err != nil {
		t.Fatalf("no snapshot written: %v", err)
	}
	// forgetting a user removes the snapshot at once
	if _, err := eng.ForgetUser(ctx, "u5"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(snapshot.Path(snapDir, snapshotPart)); !os.IsNotExist(err) {
		t.Fatalf("the snapshot survived forgetting a user: %v", err)
	}
	if err := live.SaveSnapshot(); err != nil {
		t.Fatal(err)
	}
	addLive(9000, 12_000) // the tail, not in the snapshot
	trainAndPromote(t, st, live, "itemknn")

	users := []string{"u1", "u5", "u17", "u230", "u999", "u1500", "nobody"}
	items := []string{its[0].ID, its[7].ID, its[80].ID, its[500].ID}
	full := newStopped(t, st, Config{SnapshotEvery: -1}, nil)
	if err := full.Load(ctx); err != nil {
		t.Fatal(err)
	}
	want := answers(t, full, users, items)
	sameAnswers(t, "the live service", answers(t, live, users, items), want)

	restart := func(what string, wantCovered bool) {
		t.Helper()
		svc := newStopped(t, st, cfg, nil)
		if err := svc.Load(ctx); err != nil {
			t.Fatal(err)
		}
		cov, rep := svc.snap.covered.Load(), svc.snap.replayed.Load()
		if wantCovered && (cov == 0 || rep >= cov) {
			t.Fatalf("%s: %d events from the snapshot, %d replayed: the snapshot was not used", what, cov, rep)
		}
		if !wantCovered && cov != 0 {
			t.Fatalf("%s: %d events taken from a snapshot that must be ignored", what, cov)
		}
		sameAnswers(t, what, answers(t, svc, users, items), want)
	}
	restart("restart from the snapshot", true)

	// a damaged snapshot is ignored
	path := snapshot.Path(snapDir, snapshotPart)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), good...)
	bad[len(bad)/2] ^= 0x40
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	restart("damaged snapshot", false)

	// a snapshot that counts events the log no longer holds (a user
	// deleted while the server was stopped) is ignored too
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteUser(ctx, "u17"); err != nil {
		t.Fatal(err)
	}
	want = answers(t, func() *Service {
		s := newStopped(t, st, Config{SnapshotEvery: -1}, nil)
		if err := s.Load(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}(), users, items)
	restart("snapshot not matching the log", false)
}

// A snapshot made under other settings (here the trending half-life) is
// not loaded.
func TestSnapshotOfOtherSettingsIgnored(t *testing.T) {
	ctx := context.Background()
	st, _ := fixture(t)
	dir := t.TempDir()
	a := newStopped(t, st, Config{SnapshotDir: dir, SnapshotEvery: -1}, nil)
	if err := a.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.SaveSnapshot(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cfg  Config
		used bool
	}{
		{"same settings", Config{}, true},
		{"other trending half-life", Config{TrendingShort: 2 * time.Hour}, false},
		{"other history bound", Config{MaxHistory: 10}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.SnapshotDir, c.cfg.SnapshotEvery = dir, -1
			b := newStopped(t, st, c.cfg, nil)
			if err := b.Load(ctx); err != nil {
				t.Fatal(err)
			}
			if used := b.snap.covered.Load() > 0; used != c.used {
				t.Fatalf("snapshot used %v, want %v", used, c.used)
			}
		})
	}
}

// FuzzDecodeState feeds damaged payloads to the state decoder: it must
// refuse or decode, never panic or allocate without bound.
func FuzzDecodeState(f *testing.F) {
	st, err := boltstore.Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	its, evs := soakShaped(300, 9)
	if err := st.PutItems(ctx, its[:50]); err != nil {
		f.Fatal(err)
	}
	if err := st.AppendEvents(ctx, evs); err != nil {
		f.Fatal(err)
	}
	svc := New(st, Config{}, nil)
	if err := svc.Load(ctx); err != nil {
		f.Fatal(err)
	}
	svc.relearn.mu.Lock()
	good := svc.encodeState()
	svc.relearn.mu.Unlock()
	if _, err := svc.decodeState(good); err != nil {
		f.Fatalf("the service's own state does not decode: %v", err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{stateVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := svc.decodeState(b)
		if err == nil && st == nil {
			t.Fatal("nil state without an error")
		}
	})
}

func TestSnapshotWrittenEveryNEvents(t *testing.T) {
	ctx := context.Background()
	st, _ := fixture(t)
	eng, err := engine.New(engine.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	svc := newStopped(t, st, Config{SnapshotDir: t.TempDir(), SnapshotEvery: 1000}, nil)
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	eng.Subscribe(svc)
	_, evs := soakShaped(2500, 5)
	its, _ := soakShaped(0, 5)
	if err := eng.AddItems(ctx, its); err != nil {
		t.Fatal(err)
	}
	for k := 0; k < len(evs); k += 250 {
		if err := eng.AddEvents(ctx, evs[k:k+250]); err != nil {
			t.Fatal(err)
		}
		svc.snap.wg.Wait()
	}
	// the load counted the fixture's 1,200 events, none from a snapshot:
	// the first batch passes 1,000, then every fourth batch does
	if n := svc.snap.written.Load(); n != 3 {
		t.Fatalf("%d snapshots written for 1,200 loaded and 2,500 live events every 1,000, want 3", n)
	}
	if err := svc.CloseSnapshots(); err != nil || svc.snap.written.Load() != 4 {
		t.Fatalf("the shutdown snapshot: %v, %d written", err, svc.snap.written.Load())
	}
	// a start from it that counts nothing new does not write it again
	again := newStopped(t, st, svc.cfg, nil)
	if err := again.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := again.CloseSnapshots(); err != nil || again.snap.written.Load() != 0 {
		t.Fatalf("shutdown without new events: %v, %d written", err, again.snap.written.Load())
	}
}

// Relearning after retention removes the snapshot (it holds the expired
// events), also while snapshots are being written.
func TestRetentionDropsSnapshot(t *testing.T) {
	ctx := context.Background()
	st, _ := fixture(t)
	dir := t.TempDir()
	svc := newStopped(t, st, Config{SnapshotDir: dir, SnapshotEvery: -1}, nil)
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // writers racing the relearning
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				if err := svc.SaveSnapshot(); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	for range 5 {
		if err := svc.RelearnAfterRetention(ctx, st.ScanEvents); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	<-done
	if err := svc.RelearnAfterRetention(ctx, st.ScanEvents); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(snapshot.Path(dir, snapshotPart)); !os.IsNotExist(err) {
		t.Fatalf("the snapshot survived a retention pass: %v", err)
	}
}
