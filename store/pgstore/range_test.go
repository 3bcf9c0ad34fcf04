package pgstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// ScanEventRange reads exactly the events of a sequence range, in order.
func TestScanEventRange(t *testing.T) {
	ctx := context.Background()
	st := open(t)
	if err := st.PutItems(ctx, []catalog.Item{{ID: "a"}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for b := range 3 {
		evs := make([]events.Event, 4)
		for i := range evs {
			evs[i] = events.Event{UserID: fmt.Sprintf("u%d", (b*4+i)%3), ItemID: "a", Type: events.View, Timestamp: now}
		}
		if err := st.AppendEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ first, last, want uint64 }{{5, 8, 4}, {1, 12, 12}, {12, 12, 1}, {0, 2, 2}, {13, 20, 0}, {9, 3, 0}} {
		var got []uint64
		err := st.ScanEventRange(ctx, c.first, c.last, func(e events.Event) error { got = append(got, e.Seq); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if uint64(len(got)) != c.want {
			t.Fatalf("range %d–%d: %v, want %d events", c.first, c.last, got, c.want)
		}
		for i, q := range got {
			if q != max(c.first, 1)+uint64(i) {
				t.Fatalf("range %d–%d: %v, want consecutive from %d", c.first, c.last, got, max(c.first, 1))
			}
		}
	}
}
