package recommend

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
)

// Issue 12, remaining goal 1: the ledger merges superseded entries (one
// user's events on one item within an hour), so its memory follows users
// × items × hours, not the number of events, while all-time popularity and
// forgetting a user stay exact.
func TestLedgerCompactsSupersededEvents(t *testing.T) {
	base := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC) // on the hour
	cases := []struct {
		name       string
		users      int
		items      int
		perPair    int           // events per (user, item)
		spacing    time.Duration // between one pair's events
		maxEntries int           // entries left after compaction, at most
	}{
		{"repeats within an hour merge", 50, 40, 40, time.Minute, 50 * 40},
		{"across hours they stay apart", 40, 40, 41, 30 * time.Minute, 40 * 40 * 21},
		{"nothing to merge", 300, 250, 1, 0, 300 * 250},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLedger()
			want := make([]float32, c.items)
			n := 0
			for k := 0; k < c.perPair; k++ {
				for u := 0; u < c.users; u++ {
					for i := 0; i < c.items; i++ {
						e := events.Event{UserID: fmt.Sprintf("u%d", u), ItemID: "x", Type: events.View, Timestamp: base.Add(time.Duration(k) * c.spacing)}
						l.add(e, int32(i), 1, false)
						want[i]++
						n++
					}
				}
			}
			if n < minLedgerCompact {
				t.Fatalf("the case adds %d events, fewer than the %d that start a compaction", n, minLedgerCompact)
			}
			if l.count() != n {
				t.Errorf("count = %d, want %d events recorded", l.count(), n)
			}
			// compaction runs as entries double: never more than twice
			// the distinct (user, item, hour) groups, or the threshold
			if bound := max(2*c.maxEntries, minLedgerCompact); len(l.evs) > bound {
				t.Errorf("%d entries after %d events, want at most %d", len(l.evs), n, bound)
			}
			l.mu.Lock()
			l.compact()
			l.mu.Unlock()
			if len(l.evs) > c.maxEntries {
				t.Errorf("%d entries after compacting %d events, want at most %d", len(l.evs), n, c.maxEntries)
			}
			got := make([]float32, c.items)
			l.popular(0, got)
			for i := range got {
				if math.Abs(float64(got[i]-want[i])) > 1e-3 {
					t.Fatalf("all-time popularity of item %d = %v, want %v", i, got[i], want[i])
				}
			}
			// forgetting one user removes exactly their share
			evs, _, _ := l.forget("u0")
			if evs == 0 {
				t.Fatal("forgetting u0 removed no entries")
			}
			clear(got)
			l.popular(0, got)
			for i := range got {
				if w := want[i] - float32(c.perPair); math.Abs(float64(got[i]-w)) > 1e-3 {
					t.Fatalf("after forgetting u0 item %d = %v, want %v", i, got[i], w)
				}
			}
			// the newest event's time is kept: a window ending now still counts it
			clear(got)
			l.popular(time.Minute, got)
			if got[0] == 0 {
				t.Error("a one-minute window lost the newest events to compaction")
			}
		})
	}
}

func TestFloorDiv(t *testing.T) {
	for _, c := range []struct{ a, b, want int64 }{{7, 3, 2}, {6, 3, 2}, {-1, 3, -1}, {-3, 3, -1}, {-4, 3, -2}, {0, 3, 0}} {
		if got := floorDiv(c.a, c.b); got != c.want {
			t.Errorf("floorDiv(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
