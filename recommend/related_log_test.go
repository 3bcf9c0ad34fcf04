package recommend

import (
	"context"
	"reflect"
	"testing"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/related"
)

// The item relations are built from the store streamed into a related.Log
// (issue 12: a rebuild must not hold the whole event log) and answer as
// those built from the events read into a slice did; opted-out shoppers'
// events are left out of the log.
func TestRelatedLogStreamsTheStore(t *testing.T) {
	st, items := fixture(t)
	ctx := context.Background()
	svc := New(st, Config{}, nil)
	svc.priv.mu.Lock()
	svc.priv.optedOut = map[string]bool{"u000": true, "u001": true}
	svc.priv.mu.Unlock()
	var evs []events.Event
	if err := st.ScanEvents(ctx, 0, func(e events.Event) error {
		if e.UserID != "u000" && e.UserID != "u001" {
			evs = append(evs, e)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	log, _, err := svc.relatedLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if log.Len() != len(evs) || log.Kept() != len(evs) {
		t.Fatalf("the log read %d events and kept %d, want %d and %d (opted-out shoppers' left out)", log.Len(), log.Kept(), len(evs), len(evs))
	}
	cfg := svc.relatedConfig()
	got, err := related.BuildLog(ctx, items, log, nil, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want, err := related.Build(ctx, items, evs, nil, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if g, w := got.Complements(it.ID, 10, nil), want.Complements(it.ID, 10, nil); !reflect.DeepEqual(g, w) {
			t.Fatalf("complements of %s: %v, want %v", it.ID, g, w)
		}
		if g, w := got.Similar(it.ID, 10, nil), want.Similar(it.ID, 10, nil); !reflect.DeepEqual(g, w) {
			t.Fatalf("similar to %s: %v, want %v", it.ID, g, w)
		}
	}
	if len(got.Complements(items[0].ID, 10, nil)) == 0 {
		t.Fatal("no complements: the fixture does not exercise behaviour")
	}
}
