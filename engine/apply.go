package engine

import (
	"context"
	"fmt"
	"sync"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
)

// Kinds of Change: the names the change feed and the PostgreSQL outbox use.
const (
	KindItemsUpsert  = "items.upsert"
	KindItemsDelete  = "items.delete"
	KindUsersUpsert  = "users.upsert"
	KindUsersDelete  = "users.delete"
	KindEventsAppend = "events.append"
	KindEventsExpire = "events.expire"
	KindModelMeta    = "model.meta"
)

// Change is one change committed to the shared store by another replica
// (or by this one), as the change feed delivers it. Only the fields of its
// Kind are set.
type Change struct {
	Kind   string
	Items  []catalog.Item   // items.upsert
	IDs    []string         // items.delete; users.delete (several users)
	Users  []catalog.User   // users.upsert
	UserID string           // users.delete (one user)
	Seqs   []uint64         // events.expire: the events retention deleted
	Events []events.Event   // events.append (each with its store Seq); users.delete: the removed events, when known
	Model  *store.ModelMeta // model.meta
}

// ModelListener is a listener told that a stored model version changed
// elsewhere (a new serving version, a rollback): it reloads what serves.
type ModelListener interface {
	ModelChanged(ctx context.Context, meta store.ModelMeta) error
}

// Apply tells the listeners about a change that is already in the store —
// written by another replica and delivered by the change feed — without
// writing the store again. Applying a change twice is harmless: items and
// users are upserted or deleted by id, and events whose Seq this engine
// already told its listeners about (through a local write, an earlier
// delivery, or the load at start, see SetAppliedFloor) are skipped.
func (e *Engine) Apply(ctx context.Context, c Change) error {
	switch c.Kind {
	case KindItemsUpsert:
		if len(c.Items) > 0 {
			e.each(func(l Listener) { l.ItemsUpserted(c.Items) })
		}
	case KindItemsDelete:
		if len(c.IDs) > 0 {
			e.each(func(l Listener) { l.ItemsDeleted(c.IDs) })
		}
	case KindUsersUpsert:
		if len(c.Users) > 0 {
			e.usersUpserted(c.Users)
		}
	case KindUsersDelete:
		ids := c.IDs
		if c.UserID != "" {
			ids = append([]string{c.UserID}, ids...)
		}
		if len(ids) == 0 {
			return fmt.Errorf("engine: apply %s: no user id", c.Kind)
		}
		for _, id := range ids {
			e.each(func(l Listener) {
				l.UserDeleted(id)
				if fl, ok := l.(Forgetter); ok {
					fl.UserForgotten(id, c.Events)
				}
			})
		}
		// what cannot subtract the user exactly relearns from the log,
		// which no longer holds them
		e.scheduleRebuild()
		// the shared store holds the deleted bytes until it compacts,
		// which the replica running the privacy jobs does
		e.requestCompaction()
	case KindEventsExpire:
		// retention ran on another replica: relearn what counts events
		// from the log, which no longer holds the expired ones
		if len(c.Seqs) > 0 {
			e.relearnAfterRetention(ctx)
			e.requestCompaction()
		}
	case KindEventsAppend:
		fresh := e.applied.fresh(c.Events)
		if len(fresh) > 0 {
			e.each(func(l Listener) { l.EventsAppended(fresh) })
		}
	case KindModelMeta:
		if c.Model == nil {
			return fmt.Errorf("engine: apply %s: no model metadata", c.Kind)
		}
		var firstErr error
		e.each(func(l Listener) {
			if ml, ok := l.(ModelListener); ok {
				if err := ml.ModelChanged(ctx, *c.Model); err != nil && firstErr == nil {
					firstErr = fmt.Errorf("reload model %s@%d: %w", c.Model.Name, c.Model.Version, err)
				}
			}
		})
		return firstErr
	default:
		return fmt.Errorf("engine: apply: unknown change kind %q (this replica may be older than the one that wrote it: upgrade it)", c.Kind)
	}
	return nil
}

// SetAppliedFloor says that the listeners learnt every event with Seq up
// to seq from the store (at start): a delivery of such an event is
// skipped.
func (e *Engine) SetAppliedFloor(seq uint64) { e.applied.setFloor(seq) }

// AppliedRange reports whether every event with a Seq from first to
// last was told to the listeners already (the change feed's copy of this
// replica's own batch): a follower need not read them.
func (e *Engine) AppliedRange(first, last uint64) bool {
	w := &e.applied
	w.mu.Lock()
	defer w.mu.Unlock()
	for s := first; s <= last; s++ {
		if !w.has(s) {
			return false
		}
	}
	return true
}

// eventsAppended tells the listeners about stored events and remembers
// their Seq, so that the change feed's copy of them is not counted again.
func (e *Engine) eventsAppended(evs []events.Event) {
	e.applied.mark(evs)
	e.each(func(l Listener) { l.EventsAppended(evs) })
}

// appliedWindow is how many recent event Seqs an engine remembers. A
// delivery lagging more events than this behind the newest applied one
// counts as applied (the feed delivers in about a second; 256k events is
// minutes of ingest at the rates this machine reaches).
const appliedWindow = 1 << 18

// seqWindow remembers the Seqs of events told to the listeners: every
// Seq ≤ floor, and the last appliedWindow ones above it. Seqs are not
// contiguous (a rolled-back transaction leaves a gap) and, with several
// writers, not delivered in order, so a single high-water mark would
// drop an event committed late with a lower Seq.
type seqWindow struct {
	mu    sync.Mutex
	floor uint64
	set   map[uint64]struct{}
	ring  []uint64 // insertion order, for eviction
	next  int
}

func (w *seqWindow) setFloor(seq uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if seq > w.floor {
		w.floor = seq
	}
}

// has reports whether seq was applied; w.mu is held.
func (w *seqWindow) has(seq uint64) bool {
	if seq <= w.floor {
		return true
	}
	_, ok := w.set[seq]
	return ok
}

// add remembers seq, evicting the oldest remembered one when full; w.mu is held.
func (w *seqWindow) add(seq uint64) {
	if w.set == nil {
		w.set = make(map[uint64]struct{})
	}
	if len(w.ring) < appliedWindow {
		w.ring = append(w.ring, seq)
	} else {
		old := w.ring[w.next]
		delete(w.set, old)
		if old > w.floor {
			w.floor = old
		}
		w.ring[w.next] = seq
		w.next = (w.next + 1) % appliedWindow
	}
	w.set[seq] = struct{}{}
}

// mark remembers the Seqs of stored events (zero Seqs are not tracked).
func (w *seqWindow) mark(evs []events.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range evs {
		if s := evs[i].Seq; s != 0 && !w.has(s) {
			w.add(s)
		}
	}
}

// fresh returns the events not applied yet and marks them applied. An
// event without a Seq cannot be recognised and is always fresh.
func (w *seqWindow) fresh(evs []events.Event) []events.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := evs[:0:0]
	for i := range evs {
		s := evs[i].Seq
		if s != 0 {
			if w.has(s) {
				continue
			}
			w.add(s)
		}
		out = append(out, evs[i])
	}
	return out
}

// Reload tells the listeners the whole catalogue again and relearns the
// event-derived state from the log (what RetentionListeners and
// Rebuilders keep), for a replica that missed changes the feed no longer
// holds. Items deleted meanwhile stay in the listeners until a restart.
func (e *Engine) Reload(ctx context.Context) error {
	var batch []catalog.Item
	flush := func() {
		if len(batch) > 0 {
			items := batch
			e.each(func(l Listener) { l.ItemsUpserted(items) })
			batch = nil
		}
	}
	err := e.st.ScanItems(ctx, func(it catalog.Item) error {
		batch = append(batch, it)
		if len(batch) == 10000 {
			flush()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reload the catalogue: %w", err)
	}
	flush()
	e.relearnAfterRetention(ctx)
	return ctx.Err()
}
