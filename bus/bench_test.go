package bus_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/bus"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
)

// signal is an Applier that reports each applied change.
type signal chan struct{}

func (s signal) Apply(context.Context, engine.Change) error { s <- struct{}{}; return nil }

// BenchmarkFeedLatency: from Publish (the relay's, acknowledged by the
// feed) to Apply on a follower, one change at a time; p50 and p99.
//
//	go test -run XXX -bench FeedLatency -benchtime 2000x ./bus
func BenchmarkFeedLatency(b *testing.B) {
	for name, open := range map[string]func(tb testing.TB) bus.Bus{
		"memory":    func(testing.TB) bus.Bus { return bus.NewMemory() },
		"jetstream": jetstreamFeed,
	} {
		b.Run(name, func(b *testing.B) {
			f := open(b)
			sig := make(signal, 1)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			fl := &bus.Follower{Bus: f, Engine: sig}
			go fl.Run(ctx, 1, nil)
			m, err := bus.Encode(engine.Change{Kind: engine.KindItemsUpsert, Items: []catalog.Item{{ID: "a", Title: "a pen", Available: true}}})
			if err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				m.ID = int64(i + 1)
				t0 := time.Now()
				if err := f.Publish(ctx, m); err != nil {
					b.Fatal(err)
				}
				<-sig
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
		})
	}
}
