package related

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// rebuildEvents is the size of the generated log of the memory benchmarks.
const rebuildEvents = 400_000

// genStream generates a shop of 20,000 items in 200 leaves and calls fn
// with n events of 40,000 shoppers (views, clicks, carts and purchases,
// orders with ids), one at a time as a store scan would.
func genStream(n int, fn func(*events.Event)) []catalog.Item {
	items := make([]catalog.Item, 20_000)
	for i := range items {
		items[i] = catalog.Item{ID: fmt.Sprintf("item-%06d", i), Title: fmt.Sprintf("product %d of kind %d", i, i%300),
			Brand: fmt.Sprintf("brand %d", i%150), Categories: []string{fmt.Sprintf("Shop/D%d/L%d", i%12, i%200)}}
	}
	r := rand.New(rand.NewPCG(1, 2))
	types := []events.Type{events.View, events.View, events.View, events.Click, events.AddToCart, events.Purchase}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var e events.Event
	for k := 0; k < n; k++ {
		u := r.IntN(40_000)
		e = events.Event{Seq: uint64(k + 1), Type: types[r.IntN(len(types))], UserID: fmt.Sprintf("user-%06d", u),
			ItemID:    fmt.Sprintf("item-%06d", (u*37+r.IntN(60))%len(items)),
			Timestamp: t0.Add(time.Duration(k) * 20 * time.Second), RequestID: fmt.Sprintf("req-%d", k)}
		if e.Type == events.Purchase || e.Type == events.AddToCart {
			e.SessionID = fmt.Sprintf("order-%06d-%d", u, r.IntN(3))
		}
		fn(&e)
	}
	return items
}

// peakHeap samples the heap (live objects and not yet swept garbage)
// every half millisecond while fn runs and returns its peak above the
// heap before, in MiB, and the live heap fn's result holds after a GC.
func peakHeap(fn func() any) (peak, live float64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() float64 {
		metrics.Read(sample)
		return float64(sample[0].Value.Uint64())
	}
	runtime.GC()
	base := read()
	var mx float64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(500 * time.Microsecond)
		defer tk.Stop()
		for {
			mx = max(mx, read())
			select {
			case <-stop:
				return
			case <-tk.C:
			}
		}
	}()
	res := fn()
	close(stop)
	wg.Wait()
	mx = max(mx, read())
	runtime.GC()
	live = read() - base
	runtime.KeepAlive(res)
	return (mx - base) / (1 << 20), live / (1 << 20)
}

// BenchmarkRebuildMemory is the memory of rebuilding the item relations
// from a store of 400k events (what a restart or a forget costs, issue
// 12): "events" is the former way (every event read into a slice with
// shared ids, as recommend.relatedEvents did, a copy of it for the
// hold-out, and the behaviour built from both), "log" the events streamed
// into a Log (hold-out as a mask), and "learn-log" the whole LearnLog
// from a streamed Log. peak-heap-MB is the sampled peak of the heap above
// the start, live-MB what the result holds.
func BenchmarkRebuildMemory(b *testing.B) {
	ctx := context.Background()
	var items []catalog.Item
	for _, bc := range []struct {
		name string
		run  func() any
	}{
		{"events", func() any {
			shared := map[string]string{}
			intern := func(v string) string {
				if c, ok := shared[v]; ok {
					return c
				}
				shared[v] = v
				return v
			}
			evs := make([]events.Event, 0, rebuildEvents)
			items = genStream(rebuildEvents, func(e *events.Event) {
				x := *e
				x.Query, x.RequestID = "", ""
				x.UserID, x.ItemID, x.Type = intern(x.UserID), intern(x.ItemID), events.Type(intern(string(x.Type)))
				evs = append(evs, x)
			})
			cfg := Config{}
			cfg.defaults()
			c := buildContent(items, cfg.Analyzer, nil, false)
			train, held := legacyHoldOut(items, evs, cfg)
			bt, err := legacyBuildBehaviour(ctx, c, train, cfg)
			if err != nil {
				b.Fatal(err)
			}
			ba, err := legacyBuildBehaviour(ctx, c, evs, cfg)
			if err != nil {
				b.Fatal(err)
			}
			return []any{c, held, bt, ba}
		}},
		{"log", func() any {
			cfg := Config{}
			cfg.defaults()
			log := NewLog(cfg)
			log.Grow(rebuildEvents)
			items = genStream(rebuildEvents, log.Add)
			c := buildContent(items, cfg.Analyzer, nil, false)
			skip, held := holdOut(items, log)
			bt, err := buildBehaviour(ctx, c, log, skip, cfg)
			if err != nil {
				b.Fatal(err)
			}
			ba, err := buildBehaviour(ctx, c, log, nil, cfg)
			if err != nil {
				b.Fatal(err)
			}
			return []any{c, held, bt, ba}
		}},
		{"learn-log", func() any {
			log := NewLog(Config{})
			log.Grow(rebuildEvents)
			items = genStream(rebuildEvents, log.Add)
			ix, _, err := LearnLog(ctx, items, log, nil, nil, Config{}, nil)
			if err != nil {
				b.Fatal(err)
			}
			return ix
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var peak, live float64
			for b.Loop() {
				peak, live = peakHeap(bc.run)
			}
			b.ReportMetric(peak, "peak-heap-MB")
			b.ReportMetric(live, "live-MB")
		})
	}
}
