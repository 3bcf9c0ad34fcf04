package recommend

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
)

// Forgetting a user rebuilds the item relations in the background behind
// a fence (issue 12: the synchronous rebuild made DELETE take seconds on
// the Office demo): a bought-together request right after the forget
// waits for the rebuild and never answers from the user's baskets, and
// the forget report lists the rebuild as pending while it runs.
func TestForgetRelationsBehindFence(t *testing.T) {
	ctx := context.Background()
	st, _ := fixture(t)
	// "bridge" alone buys the kettle x1 with the pen x2, in 6 baskets.
	if err := st.PutItems(ctx, []catalog.Item{{ID: "x1", Title: "kettle", Categories: []string{"Home/Kitchen"}, Available: true},
		{ID: "x2", Title: "fountain pen", Categories: []string{"Office/Pens"}, Available: true}}); err != nil {
		t.Fatal(err)
	}
	var evs []events.Event
	for k := range 6 {
		at := t0.Add(time.Duration(2000+k) * time.Hour)
		for _, it := range []string{"x1", "x2", fmt.Sprintf("i%02d", 4*k)} {
			evs = append(evs, events.Event{UserID: "bridge", ItemID: it, Type: events.Purchase, Timestamp: at, SessionID: fmt.Sprintf("b%d", k)})
		}
	}
	if err := st.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	svc := New(st, Config{}, nil)
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	eng.Subscribe(svc)
	if err := svc.WarmRelated(ctx); err != nil {
		t.Fatal(err)
	}
	ids := func() []string {
		res, err := svc.BoughtTogether(ctx, "x1", Request{N: 10})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, it := range res.Items {
			out = append(out, it.ID)
		}
		return out
	}
	if got := ids(); !slices.Contains(got, "x2") {
		t.Fatalf("before the forget, bought together with x1: %v; the test needs x2 there", got)
	}
	// Hold the rebuild (it takes the relations' build lock) to look at
	// the state while it runs.
	svc.rel.mu.Lock()
	rep, err := eng.ForgetUser(ctx, "bridge")
	if err != nil {
		svc.rel.mu.Unlock()
		t.Fatal(err)
	}
	if rep.InMemory["item_relations_rebuilt"] != 1 {
		svc.rel.mu.Unlock()
		t.Fatalf("forget report: %+v", rep.InMemory)
	}
	pending := svc.ForgetPending("bridge", time.Now())
	// A request meanwhile waits: with a context that has ended it gets
	// the context's error, never the old relations.
	done, cancel := context.WithCancel(ctx)
	cancel()
	res, err := svc.BoughtTogether(done, "x1", Request{N: 10})
	svc.rel.mu.Unlock()
	if err == nil {
		t.Fatalf("during the rebuild a request answered from the old relations: %+v", res.Items)
	}
	if !slices.ContainsFunc(pending, func(p engine.Pending) bool { return p.What == "item relations" }) {
		t.Errorf("the forget report's pending list lacks the relations rebuild: %+v", pending)
	}
	if got := ids(); slices.Contains(got, "x2") {
		t.Fatalf("after the forget, bought together with x1 still has x2 (from the forgotten baskets): %v", got)
	}
	if svc.relatedFenced() {
		t.Fatal("the fence is still up after a request waited for it")
	}
	if p := svc.ForgetPending("bridge", time.Now()); slices.ContainsFunc(p, func(p engine.Pending) bool { return p.What == "item relations" }) {
		t.Errorf("the relations rebuild is still pending after it finished: %+v", p)
	}
}
