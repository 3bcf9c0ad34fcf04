package bus_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/bus"
	"github.com/aisle-dev/aisle/engine"
)

// kindsApplier records the kinds of the changes applied to it.
type kindsApplier struct {
	mu    sync.Mutex
	kinds []string
}

func (k *kindsApplier) Apply(_ context.Context, c engine.Change) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.kinds = append(k.kinds, c.Kind)
	return nil
}

// A follower of one shop applies that shop's changes only, and passes over
// the shop registry's changes (package shops follows those), counting
// neither as failed.
func TestFollowerOfAShop(t *testing.T) {
	msgs := []bus.Message{
		{Shop: "acme", Kind: engine.KindItemsDelete, Payload: []byte(`["a1"]`)},
		{Shop: "bolt", Kind: engine.KindItemsDelete, Payload: []byte(`["b1"]`)},
		{Shop: "default", Kind: "shops.registry", Payload: []byte(`{"shop":"acme"}`)},
		{Shop: "acme", Kind: engine.KindItemsDelete, Payload: []byte(`["a2"]`)},
	}
	for _, c := range []struct {
		shop string
		want int // changes applied
	}{
		{"acme", 2},
		{"bolt", 1},
		{"default", 0},
		{"", 3}, // no shop: every change but the registry's
	} {
		t.Run("shop="+c.shop, func(t *testing.T) {
			b := &bus.Memory{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if err := b.Publish(ctx, msgs...); err != nil {
				t.Fatal(err)
			}
			app := &kindsApplier{}
			f := &bus.Follower{Bus: b, Engine: app, Shop: c.shop}
			caught := make(chan struct{})
			go f.Run(ctx, 1, func() { close(caught) })
			select {
			case <-caught:
			case <-time.After(5 * time.Second):
				t.Fatal("the follower did not catch up")
			}
			app.mu.Lock()
			got := len(app.kinds)
			app.mu.Unlock()
			if got != c.want {
				t.Errorf("%d changes applied, want %d (%v)", got, c.want, app.kinds)
			}
			if st := f.Stats(); st.Failed != 0 || st.Position != 4 {
				t.Errorf("stats %+v: want position 4 and nothing failed", st)
			}
		})
	}
}
