package pgstore

import (
	"context"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/aisle-dev/aisle/events"
)

// maxGroupEvents bounds the events one group transaction carries.
const maxGroupEvents = 20000

// appendReq is one AppendEvents call waiting for a group commit.
type appendReq struct {
	ctx  context.Context
	evs  []events.Event
	err  error
	done chan struct{}
}

// appender commits concurrent AppendEvents calls of one store together:
// batches that arrive while a transaction holds the shop's lock wait, and
// the next transaction carries all of them (each with its own seq range
// and outbox row), paying for one lock, one commit and one WAL flush
// instead of one each. A group the database refuses is retried batch by
// batch, so a bad batch fails alone and the others are stored.
//
// The first caller to find no transaction running commits the queue until
// it is empty; the others wait for their batch's outcome.
type appender struct {
	mu    sync.Mutex
	queue []*appendReq
	busy  bool
}

// appendGrouped stores evs through the group commit and returns its outcome.
func (s *Store) appendGrouped(ctx context.Context, evs []events.Event) error {
	req := &appendReq{ctx: ctx, evs: evs, done: make(chan struct{})}
	a := &s.appender
	a.mu.Lock()
	a.queue = append(a.queue, req)
	if a.busy {
		a.mu.Unlock()
		<-req.done // its outcome, even if ctx ends meanwhile: it may be committed
		return req.err
	}
	a.busy = true
	for len(a.queue) > 0 {
		n, size := 0, 0
		for n < len(a.queue) && (n == 0 || size+len(a.queue[n].evs) <= maxGroupEvents) {
			size += len(a.queue[n].evs)
			n++
		}
		group := a.queue[:n:n]
		a.queue = a.queue[n:]
		a.mu.Unlock()
		s.commitGroup(group)
		a.mu.Lock()
	}
	a.busy = false
	a.mu.Unlock()
	<-req.done
	return req.err
}

// commitGroup stores the batches of group, together when it can.
func (s *Store) commitGroup(group []*appendReq) {
	live := group[:0:0]
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.finish(err)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	size := 0
	for _, r := range live {
		size += len(r.evs)
	}
	// Not one caller's context: a caller going away must not fail the
	// others' batches.
	ctx := context.WithoutCancel(live[0].ctx)
	err := s.write(ctx, func(tx pgx.Tx, st *state) error {
		// Batches queued while this transaction waited for the shop's
		// lock (held by another replica, or the commit before) ride
		// along: under contention a transaction carries more batches
		// instead of each waiting for its own turn.
		s.appender.mu.Lock()
		for len(s.appender.queue) > 0 && size+len(s.appender.queue[0].evs) <= maxGroupEvents {
			r := s.appender.queue[0]
			s.appender.queue = s.appender.queue[1:]
			if err := r.ctx.Err(); err != nil {
				r.finish(err)
				continue
			}
			live = append(live, r)
			size += len(r.evs)
		}
		s.appender.mu.Unlock()
		for _, r := range live {
			if err := s.appendIn(ctx, tx, st, r.evs); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		for _, r := range live {
			r.finish(nil)
		}
		return
	}
	for _, r := range live {
		resetSeqs(r.evs)
	}
	if len(live) > 1 {
		// the group was refused: each batch alone, so a bad one fails by itself
		for _, r := range live {
			err := s.write(r.ctx, func(tx pgx.Tx, st *state) error { return s.appendIn(r.ctx, tx, st, r.evs) })
			if err != nil {
				resetSeqs(r.evs)
			}
			r.finish(err)
		}
		return
	}
	live[0].finish(err)
}

func (r *appendReq) finish(err error) {
	r.err = err
	close(r.done)
}

func resetSeqs(evs []events.Event) {
	for i := range evs {
		evs[i].Seq = 0
	}
}
