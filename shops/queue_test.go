package shops

import (
	"context"
	"fmt"
	"runtime"
	"testing"
)

// Turns are given one at a time, first come first served; a waiter whose
// context ends leaves the queue, and one whose turn came as it ended
// passes the turn on.
func TestTrainingQueueOrder(t *testing.T) {
	q := NewTrainingQueue()
	ctx := context.Background()
	release, err := q.Turn("big")(ctx)
	if err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 3)
	started := func(shop string) {
		for {
			if _, w := q.State(); len(w) > 0 && w[len(w)-1] == shop {
				return
			}
			runtime.Gosched()
		}
	}
	gone, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { _, err := q.Turn("gone")(gone); errc <- err }()
	started("gone")
	for _, s := range []string{"a", "b", "big"} {
		go func() {
			rel, err := q.Turn(s)(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			order <- s
			rel()
		}()
		started(s)
	}
	cancel()
	if err := <-errc; err == nil {
		t.Error("a waiter whose context ended got a turn")
	}
	if r, w := q.State(); r != "big" || fmt.Sprint(w) != "[a b big]" {
		t.Errorf("state %q %v, want big running and [a b big] waiting", r, w)
	}
	release()
	got := []string{<-order, <-order, <-order}
	if fmt.Sprint(got) != "[a b big]" {
		t.Errorf("turns in order %v, want [a b big]: the big shop asking again waits behind the others", got)
	}
	if r, w := q.State(); r != "" || len(w) != 0 {
		t.Errorf("after all: %q %v", r, w)
	}
}
