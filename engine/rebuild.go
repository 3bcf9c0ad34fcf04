package engine

import (
	"context"
	"time"

	"github.com/aisle-dev/aisle/events"
)

// Rebuilder is a listener whose state cannot subtract a forgotten user
// exactly (the search click model keeps per-query weights, not who gave
// them): after a forget it is relearnt from the event log, which no
// longer holds the user, in the background.
type Rebuilder interface {
	Rebuild(ctx context.Context, scan func(ctx context.Context, after uint64, fn func(events.Event) error) error) error
}

// RetentionListener is a listener holding state derived from events that
// retention deletes (counts, profiles): after a retention pass that
// deleted events it is relearnt from the log.
type RetentionListener interface {
	RelearnAfterRetention(ctx context.Context, scan func(ctx context.Context, after uint64, fn func(events.Event) error) error) error
}

// relearnAfterRetention relearns every RetentionListener and Rebuilder
// from the log, one after the other.
func (e *Engine) relearnAfterRetention(ctx context.Context) {
	e.each(func(l Listener) {
		var err error
		switch r := l.(type) {
		case RetentionListener:
			err = r.RelearnAfterRetention(ctx, e.st.ScanEvents)
		case Rebuilder:
			err = r.Rebuild(ctx, e.st.ScanEvents)
		}
		if err != nil && ctx.Err() == nil {
			e.log.Error("relearning after retention failed; expired events still count in memory until the next pass or a restart", "err", err)
		}
	})
}

// Scrubber is a listener that keeps stored copies naming users (model
// artefacts): before each compaction it removes the forgotten ones, so
// their ids leave the disk with the compaction.
type Scrubber interface {
	ScrubForgotten(ctx context.Context) (int, error)
}

// scrubForgotten runs every Scrubber.
func (e *Engine) scrubForgotten(ctx context.Context) {
	e.each(func(l Listener) {
		if s, ok := l.(Scrubber); ok {
			n, err := s.ScrubForgotten(ctx)
			if err != nil {
				e.log.Error("removing forgotten users from stored models failed; their ids stay in those files until the next compaction", "err", err)
			} else if n > 0 {
				e.log.Info("forgotten users removed from stored model versions", "versions", n)
			}
		}
	})
}

// rebuildState coalesces rebuilds: one runs at a time, and forgets during
// it cause exactly one more.
type rebuildState struct {
	running, again bool
	doneAt         time.Time // when the last rebuild that started after a forget finished
	startedAt      time.Time
}

// scheduleRebuild starts (or queues) a rebuild of every Rebuilder.
func (e *Engine) scheduleRebuild() {
	ps := e.privacy()
	ps.mu.Lock()
	if ps.rebuild.running {
		ps.rebuild.again = true
		ps.mu.Unlock()
		return
	}
	ps.rebuild.running = true
	ps.mu.Unlock()
	go func() {
		for {
			ps.mu.Lock()
			ps.rebuild.startedAt = e.now()
			ps.mu.Unlock()
			e.each(func(l Listener) {
				if r, ok := l.(Rebuilder); ok {
					if err := r.Rebuild(context.Background(), e.st.ScanEvents); err != nil {
						e.log.Error("relearning after a forget failed; it is tried again at the next forget", "err", err)
					}
				}
			})
			ps.mu.Lock()
			ps.rebuild.doneAt = ps.rebuild.startedAt
			if !ps.rebuild.again {
				ps.rebuild.running = false
				ps.mu.Unlock()
				return
			}
			ps.rebuild.again = false
			ps.mu.Unlock()
		}
	}()
}

// rebuildPending reports whether the rebuild that covers a forget at
// deletedAt has not finished.
func (e *Engine) rebuildPending(deletedAt time.Time) bool {
	hasRebuilder := false
	e.each(func(l Listener) {
		if _, ok := l.(Rebuilder); ok {
			hasRebuilder = true
		}
	})
	if !hasRebuilder {
		return false
	}
	ps := e.privacy()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.rebuild.running && ps.rebuild.doneAt.Before(deletedAt)
}
