package recommend

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aisle-dev/aisle/internal/snapshot"
	"github.com/aisle-dev/aisle/internal/varint"
	"github.com/aisle-dev/aisle/related"
)

// Snapshots of the item relations (decision 0047): what the relations
// learnt from the log (package related's AppendBinary), with the events
// they were built from, in <dir>/related.snap, written after each build
// and loaded at start, so similar items and bought together answer at
// once as before the stop instead of being rebuilt from the log. The
// usual schedule (relatedRefresh) rebuilds them as events arrive.

// relatedPart names the relations' snapshot file.
const relatedPart = "related"

// relatedStateVersion is the version of the payload around the index.
const relatedStateVersion = 1

// relSnap is the writer's side.
type relSnap struct {
	// mu serialises writes and removals; gen counts removals, and a build
	// whose log was read before one is not written
	mu      sync.Mutex
	gen     atomic.Uint64
	wg      sync.WaitGroup
	written atomic.Int64
	// restored is set when the relations in use came from a snapshot
	restored atomic.Bool
}

// relPending is a snapshot read at Load: checked against the log during
// the scan, installed once the models are loaded.
type relPending struct {
	cov     snapshot.Coverage
	check   *snapshot.Check
	events  int
	built   time.Time
	learnt  bool
	payload []byte
}

// saveRelated writes the relations of st in the background, unless a
// removal came after their log was read.
func (s *Service) saveRelated(st *relatedState) {
	if s.cfg.SnapshotDir == "" || st == nil || st.cov == nil {
		if st != nil {
			st.ix.DropTexts()
		}
		return
	}
	s.relSnap.wg.Go(func() {
		defer st.ix.DropTexts() // kept for this write only
		if err := s.writeRelated(st); err != nil {
			s.log.Error("writing the item relations' snapshot failed; a restart rebuilds them from the log", "error", err)
		}
	})
}

func (s *Service) writeRelated(st *relatedState) error {
	if st == nil || st.cov == nil {
		return nil
	}
	s.relSnap.mu.Lock()
	defer s.relSnap.mu.Unlock()
	if s.relSnap.gen.Load() != st.gen {
		return nil // built from a log that held what was removed since
	}
	if s.rel.cur.Load() != st {
		// a newer build replaced it: its own write comes (or came) after,
		// and an older state written last would be what a restart restores
		return nil
	}
	b := binary.AppendUvarint(nil, relatedStateVersion)
	b = binary.AppendUvarint(b, s.fingerprint())
	b = binary.AppendUvarint(b, st.consent)
	b = st.cov.Append(b)
	b = binary.AppendUvarint(b, uint64(st.events))
	b = binary.AppendVarint(b, st.built.UnixNano())
	b = append(b, map[bool]byte{false: 0, true: 1}[st.learnt])
	b = st.ix.AppendBinary(b)
	if err := snapshot.Write(s.cfg.SnapshotDir, relatedPart, st.cov.Max, b); err != nil {
		return fmt.Errorf("recommend: save item relations: %w", err)
	}
	s.relSnap.written.Add(1)
	s.log.Info("snapshot of the item relations written", "seq", st.cov.Max, "bytes", len(b), "learnt", st.learnt)
	return nil
}

// dropRelated removes the relations' snapshot (with the counts', after a
// forget, a consent withdrawal or a retention pass); builds whose log was
// read before are not written.
func (s *Service) dropRelated(why string) {
	if s.cfg.SnapshotDir == "" {
		return
	}
	s.relSnap.mu.Lock()
	defer s.relSnap.mu.Unlock()
	s.relSnap.gen.Add(1)
	if err := snapshot.Remove(s.cfg.SnapshotDir, relatedPart); err != nil {
		s.log.Error("removing the item relations' snapshot failed", "why", why, "error", err)
	}
}

// closeRelated waits for a write under way and writes the relations in
// use when no snapshot of them is on disk (at a clean shutdown).
func (s *Service) closeRelated() error {
	s.relSnap.wg.Wait()
	if s.cfg.SnapshotDir == "" {
		return nil
	}
	if _, err := os.Stat(snapshot.Path(s.cfg.SnapshotDir, relatedPart)); err == nil {
		return nil
	}
	return s.writeRelated(s.rel.cur.Load())
}

// readRelated reads the relations' snapshot at Load (nil, logged, when
// there is none to use).
func (s *Service) readRelated() *relPending {
	if s.cfg.SnapshotDir == "" {
		return nil
	}
	seq, p, err := snapshot.Read(s.cfg.SnapshotDir, relatedPart)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var rp *relPending
	if err == nil {
		rp, err = s.decodeRelated(seq, p)
	}
	if err != nil {
		s.log.Warn("the item relations' snapshot is ignored and removed: they are rebuilt from the log", "file", snapshot.Path(s.cfg.SnapshotDir, relatedPart), "error", err)
		s.dropRelated("it was ignored") // it may hold users forgotten or opted out since
		return nil
	}
	return rp
}

func (s *Service) decodeRelated(seq uint64, p []byte) (*relPending, error) {
	d := varint.NewReader(p)
	if v := d.Uvarint(); v != relatedStateVersion {
		return nil, fmt.Errorf("state version %d, this server reads %d", v, relatedStateVersion)
	}
	if d.Uvarint() != s.fingerprint() {
		return nil, errors.New("made under other settings (event weights)")
	}
	if d.Uvarint() != s.consentHash() {
		return nil, errors.New("made when other users had withdrawn consent to personalisation")
	}
	rp := &relPending{cov: snapshot.ReadCoverage(&d)}
	rp.events = int(d.Uvarint())
	rp.built = time.Unix(0, d.Varint())
	learnt := d.Byte()
	rp.learnt = learnt == 1
	switch {
	case !d.OK() || learnt > 1:
		return nil, errors.New("payload damaged")
	case rp.cov.Max != seq:
		return nil, fmt.Errorf("covers Seq %d, its header says %d", rp.cov.Max, seq)
	}
	rp.payload = d.Rest()
	rp.check = snapshot.NewCheck(&rp.cov)
	return rp, nil
}

// installRelated makes the snapshot's relations those in use, when the
// log still holds exactly the events they were built from (call after
// the scan and the models' load: the factor vectors are the serving
// model's).
func (s *Service) installRelated(rp *relPending) {
	if rp == nil {
		return
	}
	if !rp.check.Matches() {
		s.log.Warn("the item relations' snapshot does not match the event log: it is removed and they are rebuilt from the log", "snapshot_events", rp.cov.N, "log_events_covered", rp.check.Covered())
		s.dropRelated("it does not match the log")
		return
	}
	start := time.Now()
	ix, err := related.Restore(s.relatedItems(), rp.payload, s.factorVectors(), nil, s.relatedConfig())
	if err != nil {
		s.log.Warn("the item relations' snapshot is ignored and removed: they are rebuilt from the log", "error", err)
		s.dropRelated("it was ignored")
		return
	}
	cov := rp.cov
	st := &relatedState{ix: ix, catVer: s.catVer.Load(), events: rp.events, built: rp.built, learnt: rp.learnt,
		cov: &cov, gen: s.relSnap.gen.Load(), consent: s.consentHash()}
	s.rel.cur.Store(st)
	s.relSnap.restored.Store(true)
	s.log.Info("item relations loaded from their snapshot", "items", ix.Len(), "analysed", ix.Analysed(), "learnt", rp.learnt, "secs", time.Since(start).Seconds())
	if ix.HasTexts() {
		// items were analysed (changed, or a snapshot without their
		// texts): written again so the next start need not (decision 0075)
		s.saveRelated(st)
	}
}
