package recommend

import (
	"math"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// Popular sums events weighted by their position's weight: item a,
// clicked 3 times at position 1, outranks b, clicked twice at position 5,
// until the clicks are weighted by 1/θ with θ_k = 1/k (3 against 10). A
// weight that is not positive and finite, or an event without a request
// id, counts as 1.
func TestPopularWeighsEventsByPosition(t *testing.T) {
	const rid = "5f5e1000aaaaaaaaaaaaaaaa"
	inverse := func(e events.Event) float64 { return float64(e.Position) }
	cases := []struct {
		name   string
		weight func(events.Event) float64
		rid    string
		first  string
	}{
		{"no weight", nil, rid, "a"},
		{"inverse propensity", inverse, rid, "b"},
		{"no request id", inverse, "", "a"},
		{"NaN weight", func(events.Event) float64 { return math.NaN() }, rid, "a"},
		{"zero weight", func(events.Event) float64 { return 0 }, rid, "a"},
		{"negative weight", func(events.Event) float64 { return -3 }, rid, "a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := boltstore.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			svc := New(st, Config{}, nil)
			svc.ItemsUpserted([]catalog.Item{{ID: "a", Title: "a", Available: true}, {ID: "b", Title: "b", Available: true}})
			svc.SetPositionWeight(c.weight)
			now := time.Now().Add(-time.Hour)
			var evs []events.Event
			for k, it := range []string{"a", "a", "a", "b", "b"} {
				pos := 1
				if it == "b" {
					pos = 5
				}
				evs = append(evs, events.Event{UserID: "u", ItemID: it, Type: events.Click, RequestID: c.rid, Position: pos, Timestamp: now.Add(time.Duration(k) * time.Second)})
			}
			svc.EventsAppended(evs)
			got := svc.Popular(0, Request{N: 2}).Items
			if len(got) != 2 || got[0].ID != c.first {
				t.Fatalf("popular %+v, want %s first", got, c.first)
			}
		})
	}
}
