package natsbus_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aisle-dev/aisle/bus/bustest"
	"github.com/aisle-dev/aisle/bus/natsbus"
	"github.com/aisle-dev/aisle/internal/natstest"
)

// newBus makes a bus on a stream of its own, deleted when the test ends.
func newBus(t *testing.T) (*natsbus.Bus, string) {
	t.Helper()
	nc := natstest.Conn(t)
	name := natstest.Name("TEST_CHANGES")
	b, err := natsbus.New(t.Context(), nc, natsbus.Options{Stream: name, Subject: "test." + name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Delete(context.Background()) })
	return b, name
}

func TestJetStreamContract(t *testing.T) {
	bustest.Run(t, func(t *testing.T) bustest.Feed {
		b, name := newBus(t)
		return bustest.Feed{Bus: b, Trim: func(t *testing.T, before uint64) {
			js, err := jetstream.New(natstest.Conn(t))
			if err != nil {
				t.Fatal(err)
			}
			st, err := js.Stream(t.Context(), name)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Purge(t.Context(), jetstream.WithPurgeSequence(before)); err != nil {
				t.Fatal(err)
			}
		}}
	})
}
