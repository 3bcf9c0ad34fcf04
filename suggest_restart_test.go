package aisle

import (
	"context"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/events"
)

// Suggestions live in memory: a start reads them back from the search
// events of the log, so a query several shoppers searched is suggested
// again after a restart, and one a single shopper searched is not.
func TestSuggestionsSurviveARestart(t *testing.T) {
	ctx := context.Background()
	a, _, _ := start(t, config.Default())
	if err := a.Engine().AddItems(ctx, []catalog.Item{{ID: "p1", Title: "zebra umbrella", Available: true}}); err != nil {
		t.Fatal(err)
	}
	three := 3.0
	t0 := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	var evs []events.Event
	for i, u := range []string{"u1", "u2", "u3"} {
		evs = append(evs, events.Event{UserID: u, Type: events.Search, Query: "zebra umbrella", Value: &three, Timestamp: t0.Add(time.Duration(i) * time.Second)})
	}
	evs = append(evs, events.Event{UserID: "u9", Type: events.Search, Query: "zebra crossing", Value: &three, Timestamp: t0})
	if err := a.Engine().AddEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	suggested := func(ax *Aisle) []string {
		var out []string
		for _, s := range ax.ix.Suggest("zebra", 5) {
			if s.Kind == "query" {
				out = append(out, s.Text)
			}
		}
		return out
	}
	before := suggested(a)
	if len(before) != 1 || before[0] != "zebra umbrella" {
		t.Fatalf("before the restart: %q, want [zebra umbrella]", before)
	}
	cfg := a.cfg
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if after := suggested(b); len(after) != 1 || after[0] != "zebra umbrella" {
		t.Fatalf("after the restart: %q, want [zebra umbrella]", after)
	}
}
