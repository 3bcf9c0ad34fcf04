package related_test

import (
	"context"
	"fmt"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/related"
)

func Example() {
	items := []catalog.Item{
		{ID: "ti30", Title: "TI-30X scientific calculator", Brand: "Texas Instruments", Categories: []string{"Office/Calculators/Scientific"}},
		{ID: "ti34", Title: "TI-34 scientific calculator", Brand: "Texas Instruments", Categories: []string{"Office/Calculators/Scientific"}},
		{ID: "aaa", Title: "AAA batteries, 4 pack", Brand: "Duracell", Categories: []string{"Office/Batteries"}},
		{ID: "pad", Title: "Graph paper pad", Brand: "Ampad", Categories: []string{"Office/Paper"}},
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []events.Event
	for _, u := range []string{"ann", "bob", "cat"} {
		evs = append(evs,
			events.Event{UserID: u, ItemID: "ti30", Type: events.Purchase, SessionID: u + "-1", Timestamp: t0},
			events.Event{UserID: u, ItemID: "aaa", Type: events.Purchase, SessionID: u + "-1", Timestamp: t0})
	}
	evs = append(evs,
		events.Event{UserID: "dan", ItemID: "ti34", Type: events.Purchase, SessionID: "dan-1", Timestamp: t0},
		events.Event{UserID: "dan", ItemID: "pad", Type: events.Purchase, SessionID: "dan-1", Timestamp: t0})
	ix, _, err := related.Learn(context.Background(), items, evs, nil, nil, related.Config{}, nil)
	if err != nil {
		panic(err)
	}
	for _, r := range ix.Similar("ti30", 1, nil) {
		fmt.Println("similar:", r.ID, "-", r.Reason)
	}
	for _, r := range ix.Complements("ti30", 1, nil) {
		fmt.Println("bought together:", r.ID, "-", r.Reason)
	}
	// Output:
	// similar: ti34 - similar text
	// bought together: aaa - bought together, chosen by the same shoppers
}
