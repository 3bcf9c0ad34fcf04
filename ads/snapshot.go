package ads

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/snapshot"
	"github.com/aisle-dev/aisle/internal/varint"
)

// Ad billing keeps its ledger in the store; what a start learnt from the
// log was which events it had handled, by looking each click and purchase
// up in ad_events. Its snapshot (decision 0047, <dir>/ads.snap) is the
// coverage of the events handled, so a start looks up only the events
// after it (and checks that the covered ones are the log's).

// adsPart names ad billing's snapshot file.
const adsPart = "ads"

// adsStateVersion is the version of the payload's encoding.
const adsStateVersion = 1

type adSnap struct {
	keeper snapshot.Keeper
	// order is held (read) while a batch of events is handled and
	// (write) while the coverage is read for a snapshot
	order sync.RWMutex
	mu    sync.Mutex
	cov   snapshot.Coverage // events handled without error
	check *snapshot.Check   // the loaded snapshot's, during the start's replay
	tail  int
	// live collects the Seqs handled while RelearnAfterRetention reads
	// the log (nil otherwise)
	live *[]uint64
	// lastCovered is how many events the last start took from the
	// snapshot (0: none, or it did not match the log)
	lastCovered int
	loaded      bool // ReplayDone ran: the coverage holds the log
}

// SetSnapshots keeps snapshots in dir (every events, ≤ 0: at Close only);
// call it before LoadSnapshot.
func (s *Service) SetSnapshots(dir string, every int, log *slog.Logger) {
	s.snap.keeper = snapshot.Keeper{Dir: dir, Part: adsPart, Every: every, Log: log, Encode: s.encodeSnapshot}
}

func (s *Service) encodeSnapshot() (uint64, []byte, bool) {
	s.snap.order.Lock()
	defer s.snap.order.Unlock()
	s.snap.mu.Lock()
	defer s.snap.mu.Unlock()
	if !s.snap.loaded || s.snap.check != nil || s.snap.live != nil {
		return 0, nil, false
	}
	b := binary.AppendUvarint(nil, adsStateVersion)
	return s.snap.cov.Max, s.snap.cov.Append(b), true
}

// LoadSnapshot reads the snapshot before the start replays the log
// through Replay: the events it covers are skipped.
func (s *Service) LoadSnapshot() {
	seq, p, ok := s.snap.keeper.Read()
	if !ok {
		return
	}
	r := varint.NewReader(p)
	var err error
	v := r.Uvarint()
	cov := snapshot.ReadCoverage(&r)
	switch {
	case v != adsStateVersion:
		err = fmt.Errorf("state version %d, this server reads %d", v, adsStateVersion)
	case !r.OK() || r.Len() != 0:
		err = errors.New("payload damaged")
	case cov.Max != seq:
		err = fmt.Errorf("covers Seq %d, its header says %d", cov.Max, seq)
	}
	if err != nil {
		s.snap.keeper.Ignored(err)
		return
	}
	s.snap.mu.Lock()
	s.snap.cov, s.snap.check = cov, snapshot.NewCheck(&cov)
	s.snap.mu.Unlock()
}

// Replay handles an event read from the log at start: one the snapshot
// covers was handled before and is skipped; for any other, events
// handled before (by their seq, in the store) change nothing, so a click
// stored but not yet billed when the server stopped is billed now, and
// only once.
func (s *Service) Replay(e events.Event) {
	s.snap.mu.Lock()
	skip := s.snap.check.Seen(e.Seq)
	if !skip {
		s.snap.tail++
	}
	s.snap.mu.Unlock()
	if !skip && s.replay(e) == nil {
		s.covered(e.Seq)
	}
}

func (s *Service) covered(seq uint64) {
	s.snap.mu.Lock()
	s.snap.cov.Add(seq)
	if s.snap.live != nil {
		*s.snap.live = append(*s.snap.live, seq)
	}
	s.snap.mu.Unlock()
}

// ReplayDone ends the start's replay. When the events the snapshot
// covered are not exactly the log's (a backup restored under it, events
// deleted while stopped), every event is replayed again without it.
func (s *Service) ReplayDone(ctx context.Context, scan func(ctx context.Context, after uint64, fn func(events.Event) error) error) error {
	s.snap.mu.Lock()
	check, tail := s.snap.check, s.snap.tail
	s.snap.check, s.snap.tail, s.snap.loaded = nil, 0, true
	s.snap.mu.Unlock()
	s.snap.keeper.Loaded(tail)
	if check == nil {
		return nil
	}
	if check.Matches() {
		s.snap.mu.Lock()
		s.snap.lastCovered = int(check.Covered())
		s.snap.mu.Unlock()
		s.log.Info("ad billing: events handled before taken from the snapshot", "covered", check.Covered(), "replayed", tail)
		return nil
	}
	s.snap.keeper.Ignored(fmt.Errorf("it does not match the event log (%d of its events in the log)", check.Covered()))
	var cov snapshot.Coverage
	err := scan(ctx, 0, func(e events.Event) error {
		if s.replay(e) == nil {
			cov.Add(e.Seq)
		}
		return nil
	})
	s.snap.mu.Lock()
	s.snap.cov = cov
	s.snap.mu.Unlock()
	s.snap.keeper.Drop("it does not match the event log")
	return err
}

// CloseSnapshots writes the last snapshot (at a clean shutdown).
func (s *Service) CloseSnapshots() error { return s.snap.keeper.Close() }

// UserForgotten implements engine.Forgetter: the user's events leave the
// coverage and the snapshot goes (the next batch writes one without
// them). The ledger in the store keeps its own records.
func (s *Service) UserForgotten(_ string, removed []events.Event) map[string]int {
	s.snap.mu.Lock()
	for i := range removed {
		// only what was counted: a click whose billing failed was not
		// (it stays to be retried), and subtracting it would make the
		// coverage disagree with the log at the next start
		if s.snap.cov.Covers(removed[i].Seq) {
			s.snap.cov.Remove(removed[i].Seq)
		}
	}
	s.snap.mu.Unlock()
	s.snap.keeper.Drop("a user was forgotten")
	return nil
}

// RelearnAfterRetention implements engine.RetentionListener: the snapshot
// covers events retention deleted; it goes, and the coverage is read again
// from the log (the Seqs only: nothing is billed again).
func (s *Service) RelearnAfterRetention(ctx context.Context, scan func(ctx context.Context, after uint64, fn func(events.Event) error) error) error {
	gen := s.snap.keeper.Hold("retention deleted events it covers")
	s.snap.mu.Lock()
	old := s.snap.cov.Clone()
	s.snap.live = &[]uint64{}
	s.snap.mu.Unlock()
	var cov snapshot.Coverage
	var last uint64
	err := scan(ctx, 0, func(e events.Event) error {
		if old.Covers(e.Seq) {
			cov.Add(e.Seq)
		}
		last = max(last, e.Seq)
		return nil
	})
	s.snap.mu.Lock()
	live := *s.snap.live
	s.snap.live = nil
	if err == nil {
		for _, q := range live {
			if q > last {
				cov.Add(q)
			}
		}
		s.snap.cov = cov
	}
	s.snap.mu.Unlock()
	if err != nil {
		return fmt.Errorf("ad billing: read the log after retention: %w", err)
	}
	s.snap.keeper.Release(gen)
	return nil
}
