package recommend

import (
	"math"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
)

// Issue 12 items 1 and 2: one event with a weight beyond float32 made every
// popularity score infinite (and JSON encoding fail), and one event dated
// 2100 moved "the last 7 days" into the future so only it counted.
func TestLedgerGuards(t *testing.T) {
	now := time.Now().UTC()
	cases := []struct {
		name string
		bad  events.Event
		w    float64
	}{
		{"weight beyond float32", events.Event{UserID: "x", ItemID: "b", Type: events.Rating, Timestamp: now}, 1e39},
		{"infinite weight", events.Event{UserID: "x", ItemID: "b", Type: events.Rating, Timestamp: now}, math.Inf(1)},
		{"NaN weight", events.Event{UserID: "x", ItemID: "b", Type: events.Rating, Timestamp: now}, math.NaN()},
		{"dated 2100", events.Event{UserID: "x", ItemID: "b", Type: events.View, Timestamp: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLedger(24*time.Hour, 30*24*time.Hour)
			for k := 0; k < 5; k++ {
				l.add(events.Event{UserID: "u", ItemID: "a", Type: events.View, Timestamp: now.Add(-time.Duration(k) * time.Hour)}, 0, 1, false)
			}
			l.add(c.bad, 1, c.w, false)
			pop := make([]float32, 2)
			l.popular(7*24*time.Hour, pop)
			tr := make([]float32, 2)
			l.trending(tr)
			for i := range pop {
				if math.IsNaN(float64(pop[i])) || math.IsInf(float64(pop[i]), 0) || math.IsNaN(float64(tr[i])) || math.IsInf(float64(tr[i]), 0) {
					t.Fatalf("popular %v trending %v: not finite", pop, tr)
				}
			}
			if pop[0] != 5 {
				t.Fatalf("popular in the last 7 days %v: item a's 5 views must count", pop)
			}
			if pop[1] > pop[0] {
				t.Fatalf("popular %v: the one bad event outweighs 5 views", pop)
			}
		})
	}
}
