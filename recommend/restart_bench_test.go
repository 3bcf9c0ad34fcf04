package recommend

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/ads"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// soakShaped returns n events of 2,000 shoppers over 1,000 items, one a
// minute ending now, a tenth of them carts and purchases with order ids
// (the data of decision 0036's restart measurement).
func soakShaped(n int, seed uint64) ([]catalog.Item, []events.Event) {
	rng := rand.New(rand.NewPCG(seed, 1))
	its := make([]catalog.Item, 1000)
	for i := range its {
		its[i] = catalog.Item{ID: fmt.Sprintf("item-%04d", i), Title: fmt.Sprintf("product %d kind %d", i, i%50),
			Categories: []string{fmt.Sprintf("Shop/D%d/L%d", i%8, i%60)}, Available: true, CreatedAt: time.Unix(1_700_000_000, 0)}
	}
	types := []events.Type{events.View, events.View, events.View, events.View, events.View, events.View, events.Click, events.AddToCart, events.Purchase, events.Purchase}
	t0 := time.Now().Add(-time.Duration(n+1) * time.Minute).Truncate(time.Second)
	evs := make([]events.Event, n)
	for k := range evs {
		u := rng.IntN(2000)
		it := (u*7 + int(rng.ExpFloat64()*80)) % 1000
		t := types[rng.IntN(len(types))]
		e := events.Event{UserID: fmt.Sprintf("u%d", u), ItemID: its[it].ID, Type: t, Timestamp: t0.Add(time.Duration(k) * time.Minute)}
		if t == events.Purchase || t == events.AddToCart {
			e.SessionID = fmt.Sprintf("o%d-%d", u, rng.IntN(40))
		}
		evs[k] = e
	}
	return its, evs
}

// BenchmarkRestart measures what a start costs against the event log
// (AISLE_BENCH_EVENTS events, default 200,000), as aisle.Start makes it:
// the recommender's load with the search click model's and ad billing's
// replay in the same scan. "scan" is the store's scan alone; "full"
// replays every event into all three (no snapshot); "recommend-snapshot"
// is session 6's start (the recommender's counts from their snapshot, the
// click model and ad billing from every event); "all-snapshots" loads the
// counts, the click model, ad billing's coverage and the learnt item
// relations from their snapshots (decision 0047), which cover all but the
// last 1% of the events. It reports the ledger's estimated bytes, the live
// heap after the load and the snapshots' size.
func BenchmarkRestart(b *testing.B) {
	n := 200_000
	if v, err := strconv.Atoi(os.Getenv("AISLE_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	dir := b.TempDir()
	st, err := boltstore.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	its, evs := soakShaped(n, 1)
	if err := st.PutItems(ctx, its); err != nil {
		b.Fatal(err)
	}
	byID := map[string]catalog.Item{}
	for _, it := range its {
		byID[it.ID] = it
	}
	head := len(evs) - len(evs)/100
	appendAll := func(evs []events.Event) {
		for k := 0; k < len(evs); k += 10_000 {
			if err := st.AppendEvents(ctx, evs[k:min(k+10_000, len(evs))]); err != nil {
				b.Fatal(err)
			}
		}
	}
	appendAll(evs[:head])
	// start is one start: the service, the click model and ad billing,
	// with snapshots in snapDir when set (recDir for the recommender's)
	start := func(recDir, snapDir string) (*Service, *search.Clicks, *ads.Service) {
		svc := New(st, Config{SnapshotDir: recDir, SnapshotEvery: -1}, nil)
		clicks := search.NewClicks()
		clicks.SkipUser = func(u string) bool { return !svc.Personalized(u) }
		clicks.Consent = svc.ConsentFingerprint
		clicks.SetSnapshots(snapDir, -1, nil)
		ad, err := ads.New(ctx, ads.Options{Store: st, Item: func(_ context.Context, id string) (catalog.Item, error) {
			if it, ok := byID[id]; ok {
				return it, nil
			}
			return catalog.Item{}, store.ErrNotFound
		}})
		if err != nil {
			b.Fatal(err)
		}
		ad.SetSnapshots(snapDir, -1, nil)
		clicks.LoadSnapshot()
		ad.LoadSnapshot()
		if err := svc.Load(ctx, clicks.Replay, ad.Replay); err != nil {
			b.Fatal(err)
		}
		if err := clicks.ReplayDone(ctx, st.ScanEvents); err != nil {
			b.Fatal(err)
		}
		if err := ad.ReplayDone(ctx, st.ScanEvents); err != nil {
			b.Fatal(err)
		}
		return svc, clicks, ad
	}
	snapDir, recOnly := b.TempDir(), b.TempDir()
	{
		svc, clicks, ad := start(snapDir, snapDir)
		if _, err := svc.LearnRelated(ctx); err != nil {
			b.Fatal(err)
		}
		for _, c := range []func() error{svc.CloseSnapshots, clicks.CloseSnapshots, ad.CloseSnapshots} {
			if err := c(); err != nil {
				b.Fatal(err)
			}
		}
	}
	appendAll(evs[head:])
	var snapBytes int64
	for _, part := range []string{"recommend", "clicks", "ads", "related"} {
		fi, err := os.Stat(filepath.Join(snapDir, part+".snap"))
		if err != nil {
			b.Fatal(err)
		}
		snapBytes += fi.Size()
		b.Logf("%s.snap: %.1f MiB", part, float64(fi.Size())/(1<<20))
	}
	rec, err := os.ReadFile(filepath.Join(snapDir, "recommend.snap"))
	if err == nil {
		err = os.WriteFile(filepath.Join(recOnly, "recommend.snap"), rec, 0o600)
	}
	if err != nil {
		b.Fatal(err)
	}
	heap := func(b *testing.B) {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	}
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			if err := st.ScanEvents(ctx, 0, func(events.Event) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, v := range []struct{ name, recDir, snapDir string }{{"full", "", ""}, {"recommend-snapshot", recOnly, ""}, {"all-snapshots", snapDir, snapDir}} {
		b.Run(v.name, func(b *testing.B) {
			var svc *Service
			for b.Loop() {
				svc, _, _ = start(v.recDir, v.snapDir)
			}
			if v.recDir != "" && svc.snap.covered.Load() == 0 {
				b.Fatal("the snapshot was not used")
			}
			if v.snapDir != "" && !svc.relSnap.restored.Load() {
				b.Fatal("the relations were not restored")
			}
			b.ReportMetric(float64(svc.MemoryBytes().Ledger)/(1<<20), "ledger-MiB")
			if v.snapDir != "" {
				b.ReportMetric(float64(snapBytes)/(1<<20), "snapshots-MiB")
			}
			heap(b)
			runtime.KeepAlive(svc)
		})
	}
}
