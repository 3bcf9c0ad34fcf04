package recommend

import (
	"context"
	"fmt"
	"sync"

	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/snapshot"
)

// relearnState lets the service relearn its counts and profiles from the
// log while it serves: events appended meanwhile are kept aside and
// replayed, users forgotten meanwhile are forgotten again.
type relearnState struct {
	mu sync.RWMutex // EventsAppended holds it shared; the swap exclusive

	bufMu  sync.Mutex
	active bool
	live   []events.Event
	forgot []forgottenUser
}

// forgottenUser is a user forgotten during a relearning, with the events
// the store removed.
type forgottenUser struct {
	id      string
	removed []events.Event
}

func (r *relearnState) capture(evs []events.Event) {
	r.bufMu.Lock()
	if r.active {
		r.live = append(r.live, evs...)
	}
	r.bufMu.Unlock()
}

func (r *relearnState) forgotten(id string, removed []events.Event) {
	r.bufMu.Lock()
	if r.active {
		r.forgot = append(r.forgot, forgottenUser{id, removed})
	}
	r.bufMu.Unlock()
}

var _ engine.RetentionListener = (*Service)(nil)

// RelearnAfterRetention implements engine.RetentionListener: popularity,
// trending, bought-together counts, every user's profile and the rows'
// state (purchases and repurchase intervals behind buy it again, weights
// behind attribute popularity) are rebuilt from the log, which no longer
// holds the expired events, and swapped in.
func (s *Service) RelearnAfterRetention(ctx context.Context, scan func(ctx context.Context, after uint64, fn func(events.Event) error) error) error {
	s.relearn.bufMu.Lock()
	if s.relearn.active {
		s.relearn.bufMu.Unlock()
		return fmt.Errorf("relearning is already under way")
	}
	s.relearn.active, s.relearn.live, s.relearn.forgot = true, nil, nil
	s.relearn.bufMu.Unlock()
	fl, fp, fr := s.newLedger(), newProfiles(s.cfg.MaxHistory), s.rows.freshEvents()
	record := func(e events.Event) {
		s.recordTo(fl, fp, e)
		if e.ItemID != "" {
			if i, ok := s.items.lookup(e.ItemID); ok {
				s.rowsObserveTo(fr, e, i)
			}
		}
	}
	var last uint64
	var fc snapshot.Coverage
	err := scan(ctx, 0, func(e events.Event) error {
		last = max(last, e.Seq)
		fc.Add(e.Seq)
		record(e)
		return nil
	})
	// the snapshot holds the expired events: it goes (after the lock
	// below is released, since a writer takes the snapshot's lock first),
	// and a new one is written with the next batch
	defer s.dropSnapshot("retention")
	s.relearn.mu.Lock()
	defer s.relearn.mu.Unlock()
	s.relearn.bufMu.Lock()
	live, forgot := s.relearn.live, s.relearn.forgot
	s.relearn.active, s.relearn.live, s.relearn.forgot = false, nil, nil
	s.relearn.bufMu.Unlock()
	if err != nil {
		return fmt.Errorf("relearn counts after retention: %w", err)
	}
	for _, e := range live {
		if e.Seq > last {
			fc.Add(e.Seq)
			record(e)
		}
	}
	for _, u := range forgot {
		// the scan saw the user's events only if it numbered the user (a
		// store's scan reads one consistent state)
		fl.mu.RLock()
		_, seen := fl.uids[u.id]
		fl.mu.RUnlock()
		if seen {
			fl.forget(u.id, s.ledgerEntries(u.removed))
		}
		fp.forget(u.id)
		delete(fr.users, u.id)
	}
	s.ledger.swapWith(fl)
	s.profiles.swapWith(fp)
	s.rows.swapEvents(fr)
	s.cov.mu.Lock()
	s.cov.c = fc
	s.cov.mu.Unlock()
	return nil
}

// swapWith takes fresh's counts (fresh is not used afterwards).
func (l *ledger) swapWith(fresh *ledger) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items, l.tiers, l.total, l.newest, l.baskets, l.co, l.buyCount, l.uids, l.lastUID =
		fresh.items, fresh.tiers, fresh.total, fresh.newest, fresh.baskets, fresh.co, fresh.buyCount, fresh.uids, fresh.lastUID
}

// swapWith takes fresh's profiles (fresh is not used afterwards).
func (ps *profiles) swapWith(fresh *profiles) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.users, ps.seq = fresh.users, max(ps.seq, fresh.seq)
}
