package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
)

// store500k fills a store with 500k events of 6,000 users (the shape of
// BenchmarkCheck500k), 10 of them searches of one user with a unique query.
func store500k(b *testing.B) (*Store, string) {
	b.Helper()
	dir := b.TempDir()
	st, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for batch := 0; batch < 50; batch++ {
		evs := make([]events.Event, 10000)
		for i := range evs {
			n := batch*10000 + i
			evs[i] = events.Event{UserID: fmt.Sprintf("u%05d", n%6000), ItemID: fmt.Sprintf("i%05d", n%3700), Type: events.View, Timestamp: base.Add(time.Duration(n) * time.Second)}
		}
		if batch == 25 {
			for k := 0; k < 10; k++ {
				evs[k] = events.Event{UserID: "target", Type: events.Search, Query: "qz7f3a9 unique lamp", Timestamp: base}
			}
		}
		if err := st.AppendEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
	}
	return st, dir
}

// BenchmarkForgetAndCompact500k measures forgetting one user (one
// transaction) and the compaction that then removes their bytes from the
// file, on a 500k-event store; it reports whether the query's bytes were
// still in the file between the two.
func BenchmarkForgetAndCompact500k(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		st, dir := store500k(b)
		path := filepath.Join(dir, FileName)
		b.StartTimer()
		t0 := time.Now()
		if _, _, err := st.ForgetUser(ctx, "target", time.Now()); err != nil {
			b.Fatal(err)
		}
		forget := time.Since(t0)
		raw, _ := os.ReadFile(path)
		left := bytes.Count(raw, []byte("qz7f3a9 unique lamp"))
		t1 := time.Now()
		rep, err := st.Compact(ctx)
		if err != nil {
			b.Fatal(err)
		}
		compact := time.Since(t1)
		raw, _ = os.ReadFile(path)
		after := bytes.Count(raw, []byte("qz7f3a9 unique lamp"))
		b.ReportMetric(float64(forget.Microseconds())/1000, "forget-ms")
		b.ReportMetric(float64(compact.Milliseconds()), "compact-ms")
		b.ReportMetric(float64(rep.BytesBefore)/(1<<20), "MiB-before")
		b.ReportMetric(float64(rep.BytesAfter)/(1<<20), "MiB-after")
		b.ReportMetric(float64(left), "copies-before-compact")
		b.ReportMetric(float64(after), "copies-after-compact")
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
}

// BenchmarkSnapshot500k measures an online snapshot of a 500k-event store.
func BenchmarkSnapshot500k(b *testing.B) {
	st, _ := store500k(b)
	defer st.Close()
	ctx := context.Background()
	var n int64
	for b.Loop() {
		var err error
		if n, err = st.WriteSnapshot(ctx, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/(1<<20), "MiB")
}
