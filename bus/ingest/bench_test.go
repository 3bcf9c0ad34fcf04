package ingest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aisle-dev/aisle/bus/ingest"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/internal/natstest"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// BenchmarkStreamIngestion: events/s from the ingest subject into the
// embedded store (validated, stored durably, acknowledged), for messages
// of 1, 100 and 1000 events. Each b.N is one message.
//
//	go test -run XXX -bench StreamIngestion -benchtime 200x ./bus/ingest
func BenchmarkStreamIngestion(b *testing.B) {
	for _, per := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("events_per_message=%d", per), func(b *testing.B) {
			nc := natstest.Conn(b)
			st, err := boltstore.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			eng, err := engine.New(engine.Options{Store: st})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			items := make([]catalog.Item, 1000)
			for i := range items {
				items[i] = catalog.Item{ID: fmt.Sprintf("i%d", i), Title: "item", Available: true}
			}
			if err := eng.AddItems(ctx, items); err != nil {
				b.Fatal(err)
			}
			name := natstest.Name("BENCH")
			o := ingest.Options{Stream: "INGEST_" + name, Subject: "bench.ingest." + name, DeadSubject: "bench.dead." + name, Durable: "bench"}
			c, err := ingest.New(ctx, nc, eng, o, nil)
			if err != nil {
				b.Fatal(err)
			}
			js, _ := jetstream.New(nc)
			defer js.DeleteStream(context.Background(), o.Stream)
			var sb strings.Builder
			sb.WriteByte('[')
			for i := range per {
				if i > 0 {
					sb.WriteByte(',')
				}
				fmt.Fprintf(&sb, `{"user_id":"u%d","item_id":"i%d","type":"view"}`, i%5000, i%1000)
			}
			sb.WriteByte(']')
			body := []byte(sb.String())
			for range b.N {
				if _, err := js.PublishAsync(o.Subject, body); err != nil {
					b.Fatal(err)
				}
			}
			<-js.PublishAsyncComplete()
			b.ResetTimer()
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { c.Run(rctx); close(done) }()
			for c.Stats().Messages < int64(b.N) {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			cancel()
			<-done
			b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "events/s")
			if n, _ := st.CountEvents(ctx); n != b.N*per {
				b.Fatalf("%d events stored, want %d", n, b.N*per)
			}
		})
	}
}
