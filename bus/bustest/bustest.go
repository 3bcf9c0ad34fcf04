// Package bustest is the contract every bus.Bus implementation passes:
// ordered delivery from a position, de-duplication by message id,
// following new messages, and ErrTrimmed for a position the feed no
// longer holds.
package bustest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/bus"
)

// Feed is a bus under test; Trim removes the messages before position
// seq (as age limits do).
type Feed struct {
	Bus  bus.Bus
	Trim func(t *testing.T, before uint64)
}

func msg(id int64) bus.Message {
	return bus.Message{ID: id, Shop: "default", Kind: "items.delete", Payload: []byte(fmt.Sprintf(`["i%d"]`, id)), At: time.Now().UTC()}
}

// collect subscribes from `from` until n deliveries arrived or 10 s passed.
func collect(t *testing.T, b bus.Bus, from uint64, n int) ([]bus.Delivery, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []bus.Delivery
	done := errors.New("done")
	err := b.Subscribe(ctx, from, func(d bus.Delivery) error {
		got = append(got, d)
		if len(got) == n {
			return done
		}
		return nil
	})
	if errors.Is(err, done) {
		err = nil
	} else if err == nil {
		err = fmt.Errorf("got %d of %d deliveries before the timeout", len(got), n)
	}
	return got, err
}

// Run runs the contract on a fresh, empty feed made by open.
func Run(t *testing.T, open func(t *testing.T) Feed) {
	ctx := context.Background()
	t.Run("publish then subscribe in order, de-duplicated", func(t *testing.T) {
		f := open(t)
		first, last, err := f.Bus.Bounds(ctx)
		if err != nil || first != last+1 || last != 0 {
			t.Fatalf("empty feed bounds = %d, %d, %v; want 1, 0", first, last, err)
		}
		if err := f.Bus.Publish(ctx, msg(1), msg(2), msg(3)); err != nil {
			t.Fatal(err)
		}
		// a relay that crashed before trimming publishes again
		if err := f.Bus.Publish(ctx, msg(2), msg(3), msg(4)); err != nil {
			t.Fatal(err)
		}
		if _, last, _ = f.Bus.Bounds(ctx); last != 4 {
			t.Fatalf("last position %d after 4 distinct messages, want 4", last)
		}
		got, err := collect(t, f.Bus, 1, 4)
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range got {
			if d.Seq != uint64(i+1) || d.ID != int64(i+1) || d.Kind != "items.delete" || d.Shop != "default" || string(d.Payload) != fmt.Sprintf(`["i%d"]`, i+1) {
				t.Errorf("delivery %d = %+v", i, d)
			}
		}
		got, err = collect(t, f.Bus, 3, 2)
		if err != nil || got[0].ID != 3 || got[1].ID != 4 {
			t.Fatalf("from position 3: %+v, %v", got, err)
		}
	})
	t.Run("a subscriber gets what is published later", func(t *testing.T) {
		f := open(t)
		res := make(chan []bus.Delivery, 1)
		errc := make(chan error, 1)
		go func() {
			got, err := collect(t, f.Bus, 1, 3)
			res <- got
			errc <- err
		}()
		for i := int64(1); i <= 3; i++ {
			time.Sleep(20 * time.Millisecond)
			if err := f.Bus.Publish(ctx, msg(i*10)); err != nil {
				t.Fatal(err)
			}
		}
		got := <-res
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if got[0].ID != 10 || got[2].ID != 30 || got[2].Seq != 3 {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("a trimmed position is refused", func(t *testing.T) {
		f := open(t)
		for i := int64(1); i <= 5; i++ {
			if err := f.Bus.Publish(ctx, msg(i)); err != nil {
				t.Fatal(err)
			}
		}
		f.Trim(t, 4)
		first, last, err := f.Bus.Bounds(ctx)
		if err != nil || first != 4 || last != 5 {
			t.Fatalf("bounds after trimming = %d, %d, %v; want 4, 5", first, last, err)
		}
		if _, err := collect(t, f.Bus, 2, 1); !errors.Is(err, bus.ErrTrimmed) {
			t.Fatalf("subscribe from a trimmed position: %v, want ErrTrimmed", err)
		}
		got, err := collect(t, f.Bus, 4, 2)
		if err != nil || got[0].ID != 4 {
			t.Fatalf("from the first held position: %+v, %v", got, err)
		}
		// a subscriber that is caught up is not trimmed
		go func() {
			time.Sleep(50 * time.Millisecond)
			f.Bus.Publish(ctx, msg(6))
		}()
		got, err = collect(t, f.Bus, 6, 1)
		if err != nil || got[0].ID != 6 {
			t.Fatalf("from the next position: %+v, %v", got, err)
		}
	})
}
