package pgstore_test

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
)

// BenchmarkIngestEngine measures durable ingest through the engine (the
// path of POST /api/events: validation, then one transaction per batch)
// into PostgreSQL, batches of 1,000 events over 10,000 known items, from
// one writer and from several at once (replicas or clients).
func BenchmarkIngestEngine(b *testing.B) {
	for _, writers := range []int{1, 4} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			ctx := context.Background()
			st := openTB(b)
			eng, err := engine.New(engine.Options{Store: st})
			if err != nil {
				b.Fatal(err)
			}
			items := make([]catalog.Item, 10000)
			for i := range items {
				items[i] = catalog.Item{ID: fmt.Sprintf("item-%05d", i), Title: "thing", Available: true}
			}
			if err := st.PutItems(ctx, items); err != nil {
				b.Fatal(err)
			}
			const batch = 1000
			now := time.Now().UTC()
			mk := func(w, n int) []events.Event {
				evs := make([]events.Event, batch)
				for i := range evs {
					k := n*batch + i
					evs[i] = events.Event{UserID: fmt.Sprintf("user-%d-%d", w, k%5000), ItemID: items[(k*7919)%len(items)].ID,
						Type: events.View, SessionID: "s", Timestamp: now.Add(time.Duration(k) * time.Millisecond)}
				}
				return evs
			}
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			per := (b.N + writers - 1) / writers
			for w := range writers {
				wg.Go(func() {
					for n := range per {
						if err := eng.AddEvents(ctx, mk(w, n)); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(per*writers*batch)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkAppendEvents measures the store alone: one COPY transaction
// per batch of 1,000 events.
func BenchmarkAppendEvents(b *testing.B) {
	ctx := context.Background()
	st := openTB(b)
	now := time.Now().UTC()
	b.ResetTimer()
	for n := range b.N {
		evs := make([]events.Event, 1000)
		for i := range evs {
			k := n*1000 + i
			evs[i] = events.Event{UserID: fmt.Sprintf("user-%d", k%5000), ItemID: fmt.Sprintf("item-%05d", k%10000), Type: events.View, SessionID: "s", Timestamp: now.Add(time.Duration(k) * time.Millisecond)}
		}
		if err := st.AppendEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkReadModel streams a 64 MiB artefact: the bytes allocated per
// read show whether it is ever held whole (it should not be).
func BenchmarkReadModel(b *testing.B) {
	ctx := context.Background()
	st := openTB(b)
	blob := make([]byte, 64<<20)
	for i := range blob {
		blob[i] = byte(i)
	}
	v, err := st.SaveModel(ctx, store.ModelMeta{Name: "big"}, blob)
	if err != nil {
		b.Fatal(err)
	}
	blob = nil
	b.SetBytes(64 << 20)
	b.ReportAllocs()
	for b.Loop() {
		err := st.ReadModel(ctx, "big", v, func(_ store.ModelMeta, r io.Reader) error {
			_, err := io.Copy(io.Discard, r)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
