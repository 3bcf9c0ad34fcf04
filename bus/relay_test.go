package bus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/bus"
	"github.com/aisle-dev/aisle/bus/natsbus"
	"github.com/aisle-dev/aisle/internal/natstest"
)

// sliceOutbox is an in-memory transactional outbox, as a store keeps one:
// commit appends rows, and an id may be taken before an earlier
// transaction's row commits (reserve, then commitReserved).
type sliceOutbox struct {
	mu     sync.Mutex
	nextID int64
	rows   []bus.OutboxRow
}

func (o *sliceOutbox) reserve() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.nextID++
	return o.nextID
}

func (o *sliceOutbox) commitReserved(id int64, kind, payload string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rows = append(o.rows, bus.OutboxRow{ID: id, Shop: "default", Kind: kind, Payload: []byte(payload), At: time.Now()})
	slices.SortFunc(o.rows, func(a, b bus.OutboxRow) int { return int(a.ID - b.ID) })
}

func (o *sliceOutbox) commit(kind, payload string) int64 {
	id := o.reserve()
	o.commitReserved(id, kind, payload)
	return id
}

func (o *sliceOutbox) ReadOutbox(_ context.Context, after int64, limit int) ([]bus.OutboxRow, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []bus.OutboxRow
	for _, r := range o.rows {
		if r.ID > after && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (o *sliceOutbox) TrimOutbox(_ context.Context, upto int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rows = slices.DeleteFunc(o.rows, func(r bus.OutboxRow) bool { return r.ID <= upto })
	return nil
}

func (o *sliceOutbox) ids() []int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	var ids []int64
	for _, r := range o.rows {
		ids = append(ids, r.ID)
	}
	return ids
}

// feeds are the buses relay tests run on: in-process, and JetStream when
// a server is there.
func feeds(t *testing.T) map[string]func(t *testing.T) bus.Bus {
	return map[string]func(t *testing.T) bus.Bus{
		"memory":    func(*testing.T) bus.Bus { return bus.NewMemory() },
		"jetstream": func(t *testing.T) bus.Bus { return jetstreamFeed(t) },
	}
}

// jetstreamFeed is a feed on a JetStream stream of its own, deleted at
// the end (the test is skipped without a NATS server).
func jetstreamFeed(t testing.TB) bus.Bus {
	name := natstest.Name("TEST_FEED")
	b, err := natsbus.New(context.Background(), natstest.Conn(t), natsbus.Options{Stream: name, Subject: "test." + name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Delete(context.Background()) })
	return b
}

// feedIDs reads every message id the feed holds, in order.
func feedIDs(t *testing.T, b bus.Bus) []int64 {
	t.Helper()
	_, last, err := b.Bounds(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	if last == 0 {
		return nil
	}
	done := errors.New("done")
	err = b.Subscribe(t.Context(), 1, func(d bus.Delivery) error {
		ids = append(ids, d.ID)
		if d.Seq == last {
			return done
		}
		return nil
	})
	if !errors.Is(err, done) {
		t.Fatal(err)
	}
	return ids
}

func TestRelay(t *testing.T) {
	for name, open := range feeds(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			t.Run("publishes in id order and trims after the ack", func(t *testing.T) {
				b, ob := open(t), &sliceOutbox{}
				for i := range 5 {
					ob.commit("items.delete", fmt.Sprintf(`["i%d"]`, i))
				}
				r := &bus.Relay{Source: ob, Bus: b, Batch: 2}
				for {
					n, err := r.Once(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if n == 0 {
						break
					}
				}
				if got := feedIDs(t, b); !slices.Equal(got, []int64{1, 2, 3, 4, 5}) {
					t.Errorf("feed holds %v", got)
				}
				if left := ob.ids(); len(left) != 0 {
					t.Errorf("outbox still holds %v", left)
				}
			})
			t.Run("a crash before publishing or before trimming loses and doubles nothing", func(t *testing.T) {
				b, ob := open(t), &sliceOutbox{}
				for i := range 3 {
					ob.commit("items.delete", fmt.Sprintf(`["i%d"]`, i))
				}
				crash := errors.New("killed")
				// killed between commit and publish, then between publish and trim
				for _, step := range []string{bus.FaultPublish, bus.FaultTrim} {
					r := &bus.Relay{Source: ob, Bus: b, Fault: func(s string) error {
						if s == step {
							return crash
						}
						return nil
					}}
					if _, err := r.Once(ctx); !errors.Is(err, crash) {
						t.Fatalf("Once = %v, want the fault at %s", err, step)
					}
				}
				if left := ob.ids(); !slices.Equal(left, []int64{1, 2, 3}) {
					t.Fatalf("after the crash the outbox holds %v, want every row", left)
				}
				ob.commit("items.delete", `["i3"]`)
				restarted := &bus.Relay{Source: ob, Bus: b}
				if _, err := restarted.Once(ctx); err != nil {
					t.Fatal(err)
				}
				if got := feedIDs(t, b); !slices.Equal(got, []int64{1, 2, 3, 4}) {
					t.Errorf("feed holds %v, want each change once", got)
				}
				if left := ob.ids(); len(left) != 0 {
					t.Errorf("outbox still holds %v", left)
				}
			})
			t.Run("a row committed late below published ones is not trimmed away", func(t *testing.T) {
				b, ob := open(t), &sliceOutbox{}
				ob.commit("items.delete", `["a"]`)
				late := ob.reserve() // a transaction took id 2 and has not committed
				ob.commit("items.delete", `["c"]`)
				r := &bus.Relay{Source: ob, Bus: b, GapWait: time.Hour}
				if _, err := r.Once(ctx); err != nil {
					t.Fatal(err)
				}
				if left := ob.ids(); !slices.Equal(left, []int64{3}) {
					t.Fatalf("outbox holds %v after the first pass, want [3] (kept behind the gap)", left)
				}
				ob.commitReserved(late, "items.delete", `["b"]`)
				if _, err := r.Once(ctx); err != nil {
					t.Fatal(err)
				}
				if got := feedIDs(t, b); !slices.Equal(got, []int64{1, 3, 2}) {
					t.Errorf("feed holds %v, want [1 3 2]", got)
				}
				if left := ob.ids(); len(left) != 0 {
					t.Errorf("outbox still holds %v", left)
				}
			})
			t.Run("an old gap (a rolled-back transaction) does not hold trimming", func(t *testing.T) {
				b, ob := open(t), &sliceOutbox{}
				ob.commit("items.delete", `["a"]`)
				ob.reserve() // rolled back: never commits
				ob.commit("items.delete", `["c"]`)
				r := &bus.Relay{Source: ob, Bus: b, GapWait: time.Nanosecond}
				r.Once(ctx)
				time.Sleep(time.Millisecond)
				if _, err := r.Once(ctx); err != nil {
					t.Fatal(err)
				}
				if left := ob.ids(); len(left) != 0 {
					t.Errorf("outbox still holds %v", left)
				}
			})
		})
	}
}

// failingBus refuses to publish: the outbox must keep everything.
type failingBus struct{ bus.Bus }

func (failingBus) Publish(context.Context, ...bus.Message) error {
	return errors.New("no connection to the feed")
}

func TestRelayKeepsTheOutboxWhenTheBusFails(t *testing.T) {
	ob := &sliceOutbox{}
	ob.commit("items.delete", `["a"]`)
	r := &bus.Relay{Source: ob, Bus: failingBus{bus.NewMemory()}}
	if _, err := r.Once(t.Context()); err == nil {
		t.Fatal("Once succeeded though the bus refused")
	}
	if left := ob.ids(); !slices.Equal(left, []int64{1}) {
		t.Fatalf("outbox holds %v, want [1]", left)
	}
}
