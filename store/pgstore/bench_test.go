package pgstore_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/cputime"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/pgstore"
	"github.com/aisle-dev/aisle/store/pgstore/pgtest"
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
// per batch of 1,000 events, on one connection. Besides events/s (wall
// time, which on a shared machine mostly measures the load) it reports
// the CPU time the PostgreSQL backend and this process spent per batch:
// 1,000 ms / (their sum) bounds the batches per second one core gives.
func BenchmarkAppendEvents(b *testing.B) {
	ctx := context.Background()
	st, err := pgstore.Open(ctx, pgtest.URL(b), pgstore.Options{MaxConns: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var pid uint32
	if err := st.Pool().QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	mk := func(n int) []events.Event {
		evs := make([]events.Event, 1000)
		for i := range evs {
			k := n*1000 + i
			evs[i] = events.Event{UserID: fmt.Sprintf("user-%d", (k*7)%50000), ItemID: fmt.Sprintf("item-%05d", k%10000), Type: events.View, SessionID: "s", Timestamp: now.Add(time.Duration(k) * time.Millisecond)}
		}
		return evs
	}
	if err := st.AppendEvents(ctx, mk(0)); err != nil { // the partition, the cached COPY description
		b.Fatal(err)
	}
	pg0, go0 := backendCPU(b, pid), cputime.Process()
	b.ResetTimer()
	for n := range b.N {
		if err := st.AppendEvents(ctx, mk(n+1)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(backendCPU(b, pid)-pg0)/float64(time.Millisecond)/float64(b.N), "pg-cpu-ms/batch")
	b.ReportMetric(float64(cputime.Process()-go0)/float64(time.Millisecond)/float64(b.N), "go-cpu-ms/batch")
}

// backendCPU is the CPU time (user and system) of a local process, from
// /proc (clock ticks of 10 ms).
func backendCPU(b *testing.B, pid uint32) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Skipf("the PostgreSQL backend's CPU time needs a local server: %v", err)
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+stime) * 10 * time.Millisecond
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
