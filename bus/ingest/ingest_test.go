package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aisle-dev/aisle/bus/ingest"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/natstest"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// A message stored but not acknowledged before a crash is redelivered;
// its stream position is the batch's idempotency key, so it is not
// stored again.
func TestRedeliveryAfterACrashStoresOnce(t *testing.T) {
	nc := natstest.Conn(t)
	ctx := t.Context()
	eng, st := shopWithAPen(t)
	name := natstest.Name("REDELIVER")
	o := ingest.Options{Stream: "INGEST_" + name, Subject: "test.ingest." + name, DeadSubject: "test.dead." + name}
	c, err := ingest.New(ctx, nc, eng, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	defer js.DeleteStream(context.Background(), o.Stream)
	body := []byte(`[{"user_id":"u1","item_id":"pen","type":"view"},{"user_id":"u2","item_id":"pen","type":"view"}]`)
	ack, err := js.Publish(ctx, o.Subject, body)
	if err != nil {
		t.Fatal(err)
	}
	// the crashed consumer had stored it (under the key of its position)
	evs, bad := ingest.Parse(body)
	if bad != nil {
		t.Fatal(bad)
	}
	if err := eng.AddEventsOnce(ctx, ingest.MessageKey(o.Stream, 1), body, evs); err != nil || ack.Sequence != 1 {
		t.Fatalf("pre-store: %v (position %d)", err, ack.Sequence)
	}
	runUntilAcked(t, c, 1, 10*time.Second)
	if n, _ := st.CountEvents(ctx); n != 2 {
		t.Fatalf("%d events stored, want 2: the redelivery stored the batch again", n)
	}
	var got []events.Event
	if got, err = st.UserEvents(ctx, "u2", 10); err != nil || len(got) != 1 {
		t.Fatalf("u2 events %v, %v", got, err)
	}
}

// shopWithAPen is an engine over an embedded store holding one item, pen.
func shopWithAPen(t *testing.T) (*engine.Engine, *boltstore.Store) {
	t.Helper()
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng, err := engine.New(engine.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.AddItems(t.Context(), []catalog.Item{{ID: "pen", Title: "pen", Available: true}}); err != nil {
		t.Fatal(err)
	}
	return eng, st
}

// crashingSink stores every message it is given, but after the first n
// it "dies" before the consumer can acknowledge: it stops the consumer
// and reports a failure, so the messages it stored last are stored and
// not acknowledged, as when the process is killed mid-batch.
type crashingSink struct {
	*engine.Engine
	n    atomic.Int64
	stop context.CancelFunc
}

func (s *crashingSink) AddEventsOnceBatch(ctx context.Context, batches []engine.KeyedBatch) []error {
	errs := s.Engine.AddEventsOnceBatch(ctx, batches)
	for i, err := range errs {
		if err != nil {
			continue
		}
		if s.n.Add(-1) < 0 {
			s.stop()
			errs[i] = errors.New("killed before the acknowledgement")
		}
	}
	return errs
}

// Each message is stored once whatever messages it is read with: a
// consumer killed mid-batch (some messages stored and acknowledged, some
// stored only, some not stored), then every message delivered again from
// the start (the durable consumer made afresh) in batches of another
// size, stores each message's events exactly once.
func TestRedeliveryRegroupedStoresEachMessageOnce(t *testing.T) {
	nc := natstest.Conn(t)
	ctx := t.Context()
	eng, st := shopWithAPen(t)
	name := natstest.Name("REGROUP")
	o := ingest.Options{Stream: "INGEST_" + name, Subject: "test.ingest." + name, DeadSubject: "test.dead." + name,
		Batch: 4, InFlight: 2}
	js, _ := jetstream.New(nc)
	defer js.DeleteStream(context.Background(), o.Stream)
	const msgs = 40
	if _, err := ingest.New(ctx, nc, eng, o, nil); err != nil { // the stream
		t.Fatal(err)
	}
	for i := range msgs {
		body := fmt.Sprintf(`[{"user_id":"u%d","item_id":"pen","type":"view"},{"user_id":"u%d","item_id":"pen","type":"click"}]`, i, i)
		if _, err := js.Publish(ctx, o.Subject, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}

	// the first consumer is killed after 13 messages were stored
	rctx, kill := context.WithCancel(ctx)
	sink := &crashingSink{Engine: eng, stop: kill}
	sink.n.Store(13)
	c, err := ingest.New(ctx, nc, sink, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Run(rctx)
	stored, err := st.CountEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acked := c.Stats().Messages
	if stored < 2*14 || stored >= 2*msgs || acked > 13 {
		t.Fatalf("the kill left %d events stored and %d messages acknowledged: want more than 13 messages stored, some not, at most 13 acknowledged", stored, acked)
	}
	t.Logf("killed with %d events stored, %d messages acknowledged", stored, acked)

	// every message again, in batches of 3
	if err := js.DeleteConsumer(ctx, o.Stream, "aisle-ingest"); err != nil {
		t.Fatal(err)
	}
	o.Batch, o.InFlight = 3, 4
	c, err = ingest.New(ctx, nc, eng, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	runUntilAcked(t, c, msgs, 20*time.Second)
	if n, _ := st.CountEvents(ctx); n != 2*msgs {
		t.Fatalf("%d events stored, want %d: a redelivered message was stored again", n, 2*msgs)
	}
	for _, u := range []string{"u0", "u13", "u39"} {
		if got, err := st.UserEvents(ctx, u, 10); err != nil || len(got) != 2 {
			t.Fatalf("%s events %v, %v", u, got, err)
		}
	}
}

// runUntilAcked runs c until it has acknowledged n messages, then stops
// it; within bounds a hang only (it fails t after that long).
func runUntilAcked(t *testing.T, c *ingest.Consumer, n int64, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(within)
	for c.Stats().Messages < n {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v after %v, want %d messages acknowledged", c.Stats(), within, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
