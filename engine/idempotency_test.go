package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// Several keyed batches in one request: an invalid batch and a bad key
// fail alone (as AddEventsOnce would refuse them), a batch sent again is
// answered from its key, the others are stored and told to the listeners
// once, with their sequence numbers on the caller's events.
func TestAddEventsOnceBatchPartsFailAlone(t *testing.T) {
	ctx := context.Background()
	e, r := newEngine(t, false)
	if err := e.AddItems(ctx, []catalog.Item{{ID: "a"}}); err != nil {
		t.Fatal(err)
	}
	view := func(u, item string) []events.Event {
		return []events.Event{{UserID: u, ItemID: item, Type: events.View}}
	}
	if err := e.AddEventsOnce(ctx, "k0", []byte("0"), view("u0", "a")); err != nil {
		t.Fatal(err)
	}
	batches := []KeyedBatch{
		{Key: "k0", Body: []byte("0"), Events: view("u0", "a")},                     // sent before
		{Key: "k1", Body: []byte("1"), Events: view("u1", "a")},                     // new
		{Key: "k2", Body: []byte("2"), Events: view("u2", "nope")},                  // unknown item
		{Key: strings.Repeat("k", 300), Body: []byte("3"), Events: view("u3", "a")}, // key too long
		{Key: "k0", Body: []byte("other"), Events: view("u0", "a")},                 // another body
		{Key: "k4", Body: []byte("4"), Events: view("u4", "a")},                     // new
	}
	errs := e.AddEventsOnceBatch(ctx, batches)
	var bad *catalog.BatchError
	for i, wantBad := range []bool{false, false, true, true, true, false} {
		if got := errors.As(errs[i], &bad); got != wantBad || (!wantBad && errs[i] != nil) {
			t.Fatalf("batch %d (key %q): %v, want refused %v", i, batches[i].Key, errs[i], wantBad)
		}
	}
	if batches[1].Events[0].Seq == 0 || batches[5].Events[0].Seq == 0 || batches[0].Events[0].Seq != 0 {
		t.Fatalf("seqs %d %d %d", batches[0].Events[0].Seq, batches[1].Events[0].Seq, batches[5].Events[0].Seq)
	}
	if r.appended != 3 {
		t.Fatalf("%d events told to the listeners, want 3 (k0 once, k1, k4)", r.appended)
	}
	c, err := e.Counts(ctx)
	if err != nil || c.Events != 3 {
		t.Fatalf("counts %+v, %v", c, err)
	}
}
