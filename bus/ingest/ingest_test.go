package ingest_test

import (
	"context"
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
	if err := eng.AddEventsOnce(ctx, "ingest-"+o.Stream+"-1", body, evs); err != nil || ack.Sequence != 1 {
		t.Fatalf("pre-store: %v (position %d)", err, ack.Sequence)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { c.Run(rctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Messages < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the redelivered message was not acknowledged")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
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
