// Package lease makes background work (training, the search ranker,
// retention) run on one replica at a time. A Lease is held by one owner;
// the holder renews it well within its TTL, and when the holder dies the
// lease expires and another replica takes it. The embedded default is
// Local (always held: one process); a cluster uses KV, a JetStream
// key-value lease.
package lease

import (
	"context"
	"log/slog"
	"time"
)

// Lease is a claim on a piece of background work.
type Lease interface {
	// Acquire takes the lease, or renews it when already held; it reports
	// whether this owner holds it now. Call it regularly (see Run).
	Acquire(ctx context.Context) (bool, error)
	// Held reports whether this owner holds the lease now (a renewal
	// that has not succeeded within the TTL means not held).
	Held() bool
	// Release gives the lease up at once, so another owner need not wait
	// for it to expire.
	Release(ctx context.Context) error
}

// Local is the lease of a single process: always held.
type Local struct{}

// Acquire implements Lease.
func (Local) Acquire(context.Context) (bool, error) { return true, nil }

// Held implements Lease.
func (Local) Held() bool { return true }

// Release implements Lease.
func (Local) Release(context.Context) error { return nil }

// Run runs work while l is held: it tries to acquire or renew l every
// `every`, starts work (with a context cancelled when the lease is lost
// or ctx ends) when it becomes held, and cancels it and waits for it when
// the lease is lost. On return (ctx ended) the lease is released. work
// may return early; it is started again at the next renewal while held.
func Run(ctx context.Context, l Lease, every time.Duration, log *slog.Logger, work func(ctx context.Context)) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if every <= 0 {
		every = 5 * time.Second
	}
	type worker struct {
		cancel context.CancelFunc
		done   chan struct{}
	}
	var w *worker
	stop := func() {
		if w != nil {
			w.cancel()
			<-w.done
			w = nil
		}
	}
	defer func() {
		stop()
		rctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		if err := l.Release(rctx); err != nil {
			log.Warn("releasing the lease failed; another replica takes it when it expires", "err", err)
		}
	}()
	for {
		held, err := l.Acquire(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			log.Warn("lease renewal failed", "err", err)
		}
		if w != nil {
			select {
			case <-w.done: // the work returned on its own
				w.cancel()
				w = nil
			default:
			}
		}
		switch {
		case held && w == nil:
			log.Info("lease acquired: this replica runs the background work")
			wctx, cancel := context.WithCancel(ctx)
			w = &worker{cancel: cancel, done: make(chan struct{})}
			go func(w *worker) {
				defer close(w.done)
				work(wctx)
			}(w)
		case !held && w != nil:
			log.Warn("lease lost: stopping the background work (another replica holds it)")
			stop()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
