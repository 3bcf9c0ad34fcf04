package recommend

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/snapshot"
)

// snapshotPart names the service's snapshot file in Config.SnapshotDir.
const snapshotPart = "recommend"

// snapState is the service's side of snapshots (decision 0040): which
// events its counts cover, and the writer's state.
type snapState struct {
	// mu serialises writing and removing the file, so a removal after a
	// forget cannot be overtaken by a write of state read before it.
	mu      sync.Mutex
	since   atomic.Int64 // events counted since the last write
	writing atomic.Bool
	wg      sync.WaitGroup
	written atomic.Int64 // snapshots written, for tests and logs
	// covered and replayed are the events the last load took from the
	// snapshot and counted from the log
	covered, replayed atomic.Int64
}

// covState is the coverage of the service's counts, under its own lock.
type covState struct {
	mu sync.Mutex
	c  snapshot.Coverage
}

func (c *covState) add(seq uint64) {
	c.mu.Lock()
	c.c.Add(seq)
	c.mu.Unlock()
}

// SaveSnapshot writes the service's counts (popularity buckets, baskets and
// bought-together, profiles, the rows' state) with the events they cover
// to Config.SnapshotDir, replacing the previous snapshot. Counting new
// events waits while the state is encoded (not while it is written). A
// no-op without a directory, before the log was loaded, or while counts
// are relearnt after retention.
func (s *Service) SaveSnapshot() error {
	if s.cfg.SnapshotDir == "" || !s.loaded.Load() {
		return nil
	}
	s.snap.mu.Lock()
	defer s.snap.mu.Unlock()
	s.relearn.mu.Lock()
	s.relearn.bufMu.Lock()
	relearning := s.relearn.active
	s.relearn.bufMu.Unlock()
	if relearning {
		s.relearn.mu.Unlock()
		return nil
	}
	s.snap.since.Store(0)
	s.cov.mu.Lock()
	seq := s.cov.c.Max
	s.cov.mu.Unlock()
	payload := s.encodeState()
	s.relearn.mu.Unlock()
	if err := snapshot.Write(s.cfg.SnapshotDir, snapshotPart, seq, payload); err != nil {
		return fmt.Errorf("recommend: save snapshot: %w", err)
	}
	s.snap.written.Add(1)
	s.log.Info("snapshot of the recommender's counts written", "seq", seq, "bytes", len(payload))
	return nil
}

// snapshotDue starts a snapshot in the background once Config.SnapshotEvery
// events were counted since the last one.
func (s *Service) snapshotDue(n int) {
	if s.cfg.SnapshotDir == "" || !s.loaded.Load() {
		return
	}
	if s.snap.since.Add(int64(n)) < int64(s.cfg.SnapshotEvery) || s.cfg.SnapshotEvery <= 0 || !s.snap.writing.CompareAndSwap(false, true) {
		return
	}
	s.snap.wg.Go(func() {
		defer s.snap.writing.Store(false)
		if err := s.SaveSnapshot(); err != nil {
			s.log.Error("writing the snapshot failed; a restart replays more of the log", "error", err)
		}
	})
}

// CloseSnapshots waits for a snapshot being written and writes the last
// one (at a clean shutdown, after the last event was counted), unless the
// one on disk already holds every event counted.
func (s *Service) CloseSnapshots() error {
	s.Stop()
	if err := s.closeRelated(); err != nil {
		s.log.Error("the item relations' snapshot was not written at shutdown; the next start rebuilds them", "error", err)
	}
	if s.cfg.SnapshotDir != "" && s.snap.since.Load() == 0 {
		if _, err := os.Stat(snapshot.Path(s.cfg.SnapshotDir, snapshotPart)); err == nil {
			return nil
		}
	}
	return s.SaveSnapshot()
}

// dropSnapshot removes the snapshot (after a forget, a consent withdrawal
// or a retention pass: it holds what the store no longer does).
func (s *Service) dropSnapshot(why string) {
	if s.cfg.SnapshotDir == "" {
		return
	}
	s.dropRelated(why)
	s.snap.mu.Lock()
	defer s.snap.mu.Unlock()
	s.snap.since.Store(int64(s.cfg.SnapshotEvery)) // the next batch writes a new one
	if err := snapshot.Remove(s.cfg.SnapshotDir, snapshotPart); err != nil {
		s.log.Error("removing the snapshot failed; it is ignored at the next start only if it no longer matches the log", "why", why, "error", err)
	}
}

// readSnapshot returns the snapshot's state, or nil (logged) when there is
// none or it cannot be used.
func (s *Service) readSnapshot() *decodedState {
	if s.cfg.SnapshotDir == "" {
		return nil
	}
	start := time.Now()
	seq, payload, err := snapshot.Read(s.cfg.SnapshotDir, snapshotPart)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		var st *decodedState
		if st, err = s.decodeState(payload); err == nil && st.cov.Max != seq {
			err = fmt.Errorf("covers Seq %d, its header says %d", st.cov.Max, seq)
		}
		if err == nil {
			s.log.Info("snapshot of the recommender's counts read", "seq", seq, "bytes", len(payload), "secs", time.Since(start).Seconds())
			return st
		}
	}
	s.log.Warn("the recommender's snapshot is ignored and removed: the whole event log is replayed", "file", snapshot.Path(s.cfg.SnapshotDir, snapshotPart), "error", err)
	// it may hold users forgotten or opted out since it was written
	if err := snapshot.Remove(s.cfg.SnapshotDir, snapshotPart); err != nil {
		s.log.Error("removing the ignored snapshot failed", "error", err)
	}
	return nil
}

// install makes st the service's counts (before the log is read).
func (s *Service) install(st *decodedState) {
	s.ledger.swapWith(st.ledger)
	s.profiles.mu.Lock()
	s.profiles.users, s.profiles.seq, s.profiles.evicted = st.profiles.users, st.profiles.seq, st.profiles.evicted
	s.profiles.mu.Unlock()
	s.rows.swapEvents(st.rows)
}

// loadEvents reads the log into the counts: from a snapshot and the events
// it does not cover when one is usable, else every event. Every event goes
// to replay either way. A snapshot whose covered events are not exactly
// the log's (the log was restored from a backup, events were deleted while
// the server was down) is dropped and the counts are rebuilt from the log.
func (s *Service) loadEvents(ctx context.Context, replay []func(events.Event)) error {
	st := s.readSnapshot()
	if st != nil {
		s.install(st)
	}
	var check *snapshot.Check
	if st != nil {
		check = snapshot.NewCheck(&st.cov)
	}
	tail := 0
	err := s.st.ScanEvents(ctx, 0, func(e events.Event) error {
		s.cov.add(e.Seq)
		if !check.Seen(e.Seq) {
			s.recordCounts(e)
			tail++
		}
		for _, f := range replay {
			f(e)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.snap.covered.Store(int64(check.Covered()))
	s.snap.replayed.Store(int64(tail))
	s.snap.since.Store(int64(tail)) // 0: the snapshot on disk is the state
	if st == nil {
		return nil
	}
	if check.Matches() {
		s.log.Info("recommender counts loaded from the snapshot", "covered", check.Covered(), "replayed", tail)
		return nil
	}
	s.log.Warn("the recommender's snapshot does not match the event log (restored from a backup, or events deleted while stopped): the counts are rebuilt from the whole log",
		"snapshot_events", st.cov.N, "log_events_covered", check.Covered())
	if err := snapshot.Remove(s.cfg.SnapshotDir, snapshotPart); err != nil { // it may hold users deleted since
		s.log.Error("removing the snapshot that does not match the log failed", "error", err)
	}
	s.ledger.swapWith(s.newLedger())
	s.profiles.mu.Lock()
	s.profiles.users, s.profiles.seq, s.profiles.evicted = map[string]*profile{}, 0, 0
	s.profiles.mu.Unlock()
	s.rows.swapEvents(s.rows.freshEvents())
	s.cov.mu.Lock()
	s.cov.c = snapshot.Coverage{}
	s.cov.mu.Unlock()
	s.snap.covered.Store(0)
	return s.st.ScanEvents(ctx, 0, func(e events.Event) error {
		s.cov.add(e.Seq)
		s.recordCounts(e)
		s.snap.replayed.Add(1)
		s.snap.since.Add(1)
		return nil
	})
}
