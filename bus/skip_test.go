package bus_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/bus"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
)

// rangeApplier has applied the events up to seq 10; it records what it is
// asked to apply.
type rangeApplier struct {
	mu      sync.Mutex
	applied []engine.Change
}

func (a *rangeApplier) Apply(_ context.Context, c engine.Change) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.applied = append(a.applied, c)
	return nil
}

func (a *rangeApplier) AppliedRange(first, last uint64) bool { return last <= 10 }

// rangeStore serves events 11–12 by range and counts its reads; reading
// any other way fails.
type rangeStore struct{ reads []string }

func (s *rangeStore) GetItem(context.Context, string) (catalog.Item, error) {
	return catalog.Item{}, errors.New("unexpected")
}
func (s *rangeStore) GetUser(context.Context, string) (catalog.User, error) {
	return catalog.User{}, errors.New("unexpected")
}
func (s *rangeStore) ScanEvents(context.Context, uint64, func(events.Event) error) error {
	return errors.New("ScanEvents read a page past the range")
}
func (s *rangeStore) ScanEventRange(_ context.Context, first, last uint64, fn func(events.Event) error) error {
	s.reads = append(s.reads, "range")
	for q := first; q <= last; q++ {
		if err := fn(events.Event{Seq: q, UserID: "u", Type: events.View}); err != nil {
			return err
		}
	}
	return nil
}

// A follower skips an "events.append" whose whole range its engine
// applied already (its own batch) without reading the store, and reads
// any other range alone (ScanEventRange), not a page past it.
func TestFollowerSkipsRangesItAppliedAndReadsOnlyTheRange(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := &bus.Memory{Keep: 100}
	err := b.Publish(ctx,
		bus.Message{ID: 1, Kind: engine.KindEventsAppend, Payload: []byte(`{"first_seq":1,"last_seq":10,"count":10}`)},
		bus.Message{ID: 2, Kind: engine.KindEventsAppend, Payload: []byte(`{"first_seq":11,"last_seq":12,"count":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	app, st := &rangeApplier{}, &rangeStore{}
	f := &bus.Follower{Bus: b, Engine: app, Store: st}
	caught := make(chan struct{})
	go f.Run(ctx, 1, func() { close(caught) })
	select {
	case <-caught:
	case <-time.After(5 * time.Second):
		t.Fatal("the follower did not catch up")
	}
	app.mu.Lock()
	defer app.mu.Unlock()
	if len(app.applied) != 1 || len(app.applied[0].Events) != 2 || app.applied[0].Events[0].Seq != 11 {
		t.Fatalf("applied %+v, want only the range 11–12", app.applied)
	}
	if len(st.reads) != 1 {
		t.Fatalf("store reads %v, want one range read", st.reads)
	}
	if s := f.Stats(); s.Applied != 2 || s.Failed != 0 {
		t.Fatalf("stats %+v: the skipped change counts as applied", s)
	}
}
