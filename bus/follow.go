package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aisle-dev/aisle/engine"
)

// Applier applies a change to a replica's in-memory parts
// (*engine.Engine).
type Applier interface {
	Apply(ctx context.Context, c engine.Change) error
}

// Follower keeps one replica in step with the feed.
type Follower struct {
	Bus    Bus
	Engine Applier
	// Store is the shared store, read for changes carried by reference
	// (the PostgreSQL outbox's): nil only with a feed of whole changes.
	Store Reader
	// Reload rebuilds the replica's in-memory parts from the store; it is
	// called when the feed no longer holds the position the replica
	// needs (it was down, or fell behind, longer than the feed keeps).
	Reload func(ctx context.Context) error
	Log    *slog.Logger
	// Shop, when set, is the shop this follower applies: the changes of
	// other shops on the same feed are passed over (each shop of a
	// process follows the feed for itself).
	Shop string

	pos      atomic.Uint64 // last position applied
	applied  atomic.Int64  // messages applied
	failed   atomic.Int64  // messages that could not be applied
	reloads  atomic.Int64
	doneOnce sync.Once
}

// KindShopsPrefix starts the kinds of changes of the shop registry
// ("shops.registry"), which the feed carries for package shops, not for
// an engine.
const KindShopsPrefix = "shops."

// Stats are a follower's counters.
type Stats struct {
	Position uint64 `json:"position"`
	Applied  int64  `json:"applied"`
	Failed   int64  `json:"failed"`
	Reloads  int64  `json:"reloads"`
}

// Stats returns the follower's counters.
func (f *Follower) Stats() Stats {
	return Stats{Position: f.pos.Load(), Applied: f.applied.Load(), Failed: f.failed.Load(), Reloads: f.reloads.Load()}
}

func (f *Follower) log() *slog.Logger {
	if f.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Log
}

// Run applies the feed from position from on until ctx ends. caughtUp
// (may be nil) is called once, when every message the feed held when Run
// began has been applied: the replica may then report ready. A message
// that cannot be decoded or applied is logged and skipped, so one bad
// change never stops the feed.
func (f *Follower) Run(ctx context.Context, from uint64, caughtUp func()) error {
	done := func() {
		if caughtUp != nil {
			f.doneOnce.Do(caughtUp)
		}
	}
	var target uint64
	for {
		_, last, err := f.Bus.Bounds(ctx)
		if err == nil {
			target = last
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		f.log().Warn("the change feed does not answer; retrying", "err", err)
		if !sleep(ctx, time.Second) {
			return nil
		}
	}
	if from == 0 {
		from = 1
	}
	if f.pos.Load() < from-1 {
		f.pos.Store(from - 1)
	}
	if target < from {
		done()
	}
	pause := 100 * time.Millisecond
	for {
		err := f.Bus.Subscribe(ctx, from, func(d Delivery) error {
			f.apply(ctx, d)
			f.pos.Store(d.Seq)
			if d.Seq >= target {
				done()
			}
			return nil
		})
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case errors.Is(err, ErrTrimmed):
			f.log().Warn("the change feed no longer holds this replica's position; reloading from the store", "position", from)
			_, last, berr := f.Bus.Bounds(ctx)
			if berr != nil {
				err = berr
				break
			}
			if f.Reload == nil {
				return fmt.Errorf("bus: position %d was trimmed from the feed and no reload is set", from)
			}
			if rerr := f.Reload(ctx); rerr != nil {
				err = fmt.Errorf("reload from the store: %w", rerr)
				break
			}
			f.reloads.Add(1)
			f.pos.Store(last)
			if target <= last {
				done()
			}
			err = nil
		case err != nil:
		default:
		}
		if err != nil {
			f.log().Warn("following the change feed failed; retrying", "err", err)
			if !sleep(ctx, pause) {
				return nil
			}
			pause = min(pause*2, 5*time.Second)
		} else {
			pause = 100 * time.Millisecond
		}
		from = f.pos.Load() + 1
	}
}

func (f *Follower) apply(ctx context.Context, d Delivery) {
	if (f.Shop != "" && d.Shop != "" && d.Shop != f.Shop) || strings.HasPrefix(d.Kind, KindShopsPrefix) {
		// another shop's change, or a change of the shop registry (which
		// package shops follows itself): nothing for this engine
		return
	}
	if ar, ok := f.Engine.(AppliedRanger); ok {
		// this replica's own batch (or one delivered before): nothing
		// to read or tell
		if first, last, ok := appendedRange(d.Message); ok && ar.AppliedRange(first, last) {
			f.applied.Add(1)
			return
		}
	}
	c, err := Decode(ctx, d.Message, f.Store)
	if err == nil {
		err = f.Engine.Apply(ctx, c)
	}
	if err != nil {
		f.failed.Add(1)
		f.log().Error("a change from the feed was not applied; it is skipped (the store has it: a restart loads it)", "seq", d.Seq, "id", d.ID, "kind", d.Kind, "err", err)
		return
	}
	f.applied.Add(1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
