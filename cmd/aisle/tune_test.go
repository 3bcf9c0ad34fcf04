package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/pipeline"
)

// `aisle train --tune` searches the models with declared ranges, leaves
// the others and the config's parameters alone, and says what it found.
func TestTuneSpecs(t *testing.T) {
	var items []catalog.Item
	for i := 0; i < 60; i++ {
		items = append(items, catalog.Item{ID: fmt.Sprintf("i%02d", i), Title: "thing", Available: true})
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []events.Event
	for u := 0; u < 200; u++ {
		for k := 0; k < 12; k++ {
			it := (u%6)*10 + (u*7+k*3)%10 // six groups of ten items
			evs = append(evs, events.Event{UserID: fmt.Sprintf("u%03d", u), ItemID: items[it].ID, Type: events.Purchase, Timestamp: t0.Add(time.Duration(u*100+k) * time.Minute)})
		}
	}
	opts := pipeline.Options{Preprocess: pipeline.DefaultPreprocess(), Background: pipeline.Background{TuneBudget: 30 * time.Second},
		Models: []pipeline.Spec{{Name: "popular"}, {Name: "itemknn", Params: model.Params{"shrink": 10}}}}
	data, err := opts.Preprocess.Build(context.Background(), items, func(fn func(events.Event) error) error {
		for _, e := range evs {
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	specs, err := tuneSpecs(context.Background(), &out, data, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 2 || specs[0].Name != "popular" || specs[0].Tuned || specs[1].Params["shrink"] != 10 {
		t.Fatalf("specs %+v", specs)
	}
	if !strings.Contains(out.String(), "itemknn: 5 trials") || strings.Contains(out.String(), "popular:") {
		t.Fatalf("output:\n%s", out.String())
	}
	if improved := !strings.Contains(out.String(), "current parameters stay"); improved != specs[1].Tuned {
		t.Fatalf("tuned %v, output:\n%s", specs[1].Tuned, out.String())
	}
}
