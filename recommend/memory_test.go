package recommend

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
)

// The home-page rows' state (per-user purchases and weights, per-item
// dates and title words) was not in the memory gauges, so /metrics did
// not see it (session 8): Memory.Rows counts it and grows with it.
func TestMemoryCountsTheRows(t *testing.T) {
	st, its := fixture(t)
	svc := New(st, Config{}, nil)
	if err := svc.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := svc.MemoryBytes().Rows
	// every item's title words are held: at least their bytes
	var words int64
	for _, it := range its {
		for _, w := range svc.words(it.Title) {
			words += int64(len(w))
		}
	}
	if before < words {
		t.Fatalf("rows: %d bytes, less than the %d bytes of the items' title words", before, words)
	}
	for u := 0; u < 50; u++ {
		for k := 0; k < 4; k++ {
			i, _ := svc.items.lookup(its[(u+k*11)%len(its)].ID)
			svc.rowsObserve(events.Event{UserID: fmt.Sprintf("new-shopper-%d", u), ItemID: its[i].ID, Type: events.Purchase,
				Timestamp: t0.Add(time.Duration(k) * time.Hour)}, i)
		}
	}
	// 50 new shoppers, each with a map of purchases and a map of weights
	if after := svc.MemoryBytes().Rows; after < before+50*(16+4*int64(8)) {
		t.Fatalf("rows: %d bytes after 50 new shoppers with 4 purchases each, %d before", after, before)
	}
}
