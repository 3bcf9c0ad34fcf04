package shops

import (
	"context"
	"slices"
	"sync"
)

// TrainingQueue lets the shops of one process train one at a time, in
// the order they asked (first come, first served). A shop retrains at
// most one run at a time (recommend.Retrainer), so a big shop that asks
// again waits behind every shop already waiting: none is starved of
// fresh models.
type TrainingQueue struct {
	mu      sync.Mutex
	running string
	waiting []waiter
}

type waiter struct {
	shop string
	go_  chan struct{}
}

// NewTrainingQueue returns an empty queue.
func NewTrainingQueue() *TrainingQueue { return &TrainingQueue{} }

// Turn returns the function a shop's retrainer waits on (see
// aisle.WithTrainingTurn).
func (q *TrainingQueue) Turn(shop string) func(ctx context.Context) (func(), error) {
	return func(ctx context.Context) (func(), error) {
		q.mu.Lock()
		if q.running == "" {
			q.running = shop
			q.mu.Unlock()
			return q.release, nil
		}
		w := waiter{shop, make(chan struct{})}
		q.waiting = append(q.waiting, w)
		q.mu.Unlock()
		select {
		case <-w.go_:
			return q.release, nil
		case <-ctx.Done():
			q.mu.Lock()
			i := slices.IndexFunc(q.waiting, func(x waiter) bool { return x.go_ == w.go_ })
			if i >= 0 {
				q.waiting = slices.Delete(q.waiting, i, i+1)
				q.mu.Unlock()
				return nil, ctx.Err()
			}
			q.mu.Unlock()
			q.release() // the turn came as ctx ended: pass it on
			return nil, ctx.Err()
		}
	}
}

func (q *TrainingQueue) release() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.waiting) == 0 {
		q.running = ""
		return
	}
	next := q.waiting[0]
	q.waiting = q.waiting[1:]
	q.running = next.shop
	close(next.go_)
}

// State reports the shop training now ("" for none) and the shops
// waiting, in order.
func (q *TrainingQueue) State() (running string, waiting []string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, w := range q.waiting {
		waiting = append(waiting, w.shop)
	}
	return q.running, waiting
}
