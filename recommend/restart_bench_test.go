package recommend

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
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
// (AISLE_BENCH_EVENTS events, default 200,000): the store's scan alone,
// the service's load replaying the whole log (scan + counting into the
// ledger, profiles and rows), and its load from a snapshot covering all
// but the last 1% of the events (read, decode, the scan that checks it
// and the tail). It reports the ledger's estimated bytes and the
// snapshot's size.
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
	head := len(evs) - len(evs)/100
	appendAll := func(evs []events.Event) {
		for k := 0; k < len(evs); k += 10_000 {
			if err := st.AppendEvents(ctx, evs[k:min(k+10_000, len(evs))]); err != nil {
				b.Fatal(err)
			}
		}
	}
	appendAll(evs[:head])
	snapDir := b.TempDir()
	first := New(st, Config{SnapshotDir: snapDir, SnapshotEvery: -1}, nil)
	if err := first.Load(ctx); err != nil {
		b.Fatal(err)
	}
	if err := first.SaveSnapshot(); err != nil {
		b.Fatal(err)
	}
	first = nil
	appendAll(evs[head:])
	fi, err := os.Stat(filepath.Join(snapDir, "recommend.snap"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			if err := st.ScanEvents(ctx, 0, func(events.Event) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("load", func(b *testing.B) {
		var svc *Service
		for b.Loop() {
			svc = New(st, Config{}, nil)
			if err := svc.Load(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(svc.MemoryBytes().Ledger)/(1<<20), "ledger-MiB")
	})
	b.Run("snapshot", func(b *testing.B) {
		var svc *Service
		for b.Loop() {
			svc = New(st, Config{SnapshotDir: snapDir, SnapshotEvery: -1}, nil)
			if err := svc.Load(ctx); err != nil {
				b.Fatal(err)
			}
			if svc.snap.covered.Load() == 0 {
				b.Fatal("the snapshot was not used")
			}
		}
		b.ReportMetric(float64(fi.Size())/(1<<20), "snapshot-MiB")
	})
}
