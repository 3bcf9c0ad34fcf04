package recommend

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/snapshot"
	"github.com/aisle-dev/aisle/related"
)

// relatedCache holds the item relations (package related) behind Similar
// and BoughtTogether. The first request (or WarmRelated) builds them from
// the catalogue and the event log with default weights; the blend is then
// learned in the background and swapped in. A catalogue change is carried
// over in the background (content only), at once for a request about an
// item the relations do not know yet, so new items are answered and
// reached through their text and category; enough new events rebuild
// everything in the background.
type relatedCache struct {
	mu        sync.Mutex // serialises synchronous (re)builds
	cur       atomic.Pointer[relatedState]
	running   atomic.Bool  // a background rebuild is under way
	lastStart atomic.Int64 // Unix nanoseconds of the last background start

	// After a forget the relations are rebuilt in the background, behind
	// a fence: until the rebuild without the user is in place, requests
	// wait for it instead of answering from relations that hold the
	// user's events (see rebuildRelatedWithout).
	fenceMu sync.Mutex
	fence   chan struct{} // closed when the rebuild is in place; nil: no fence
	again   bool          // a forget came during the rebuild: one more

	// bg holds the relations' background work (learning, catalogue
	// carry-over, rebuilds after a forget); stopBg cancels bgCtx, which
	// that work runs under, at shutdown (see Service.Stop).
	bg      sync.WaitGroup
	bgCtx   context.Context
	stopBg  context.CancelFunc
	bgMu    sync.Mutex // orders goBg's Add before Stop's Wait
	stopped bool       // Stop was called: no new background work
}

// goBg runs f in the background unless the service is stopping (then it
// reports false and f does not run): a WaitGroup must not gain work while
// Stop waits on it.
func (s *Service) goBg(f func()) bool {
	s.rel.bgMu.Lock()
	defer s.rel.bgMu.Unlock()
	if s.rel.stopped {
		return false
	}
	s.rel.bg.Go(f)
	return true
}

type relatedState struct {
	ix     *related.Index
	catVer int64
	events int // ledger events at build time
	built  time.Time
	learnt bool
	// cov is the events the relations were built from; gen and consent
	// the snapshot removals and the consent set when that log was read
	// (relsnap.go)
	cov     *snapshot.Coverage
	gen     uint64
	consent uint64
}

// relatedRefresh is how many new events (as a share of those at the last
// build) make the relations stale, and relatedMinAge how old they must be
// before a background rebuild starts.
const (
	relatedRefresh = 0.1
	relatedMinAge  = time.Minute
)

// relatedIndex returns the current relations for a request about anchor,
// building or updating them first when needed. After a catalogue change
// the index is updated in the background while requests keep the previous
// one — unless it does not know the anchor (a new item), which waits for
// the update (tens of milliseconds for thousands of items).
func (s *Service) relatedIndex(ctx context.Context, anchor string) (*related.Index, error) {
	if err := s.waitRelatedFence(ctx); err != nil {
		return nil, err
	}
	st := s.rel.cur.Load()
	ver := s.catVer.Load()
	var first *related.Log // the log read by a first build, for its learning
	switch {
	case st == nil || (st.catVer != ver && !st.ix.Has(anchor)):
		s.rel.mu.Lock()
		var err error
		st, first, err = s.updateRelated(ctx)
		s.rel.mu.Unlock()
		if err != nil {
			return nil, err
		}
	case st.catVer != ver && s.rel.mu.TryLock():
		if !s.goBg(func() {
			defer s.rel.mu.Unlock()
			if _, _, err := s.updateRelated(s.rel.bgCtx); err != nil && s.rel.bgCtx.Err() == nil {
				s.log.Warn("item relations: update after a catalogue change failed", "err", err)
			}
		}) {
			s.rel.mu.Unlock() // stopping: the relations in use answer
		}
	}
	n := s.ledgerEvents()
	stale := !st.learnt ||
		(time.Since(st.built) >= relatedMinAge && float64(n-st.events) > relatedRefresh*float64(max(st.events, 100)))
	last := s.rel.lastStart.Load()
	if stale && (last == 0 || time.Since(time.Unix(0, last)) >= relatedMinAge) && s.rel.running.CompareAndSwap(false, true) {
		s.rel.lastStart.Store(time.Now().UnixNano())
		if !s.goBg(func() { s.learnRelated(st, first) }) {
			s.rel.running.Store(false)
		}
	}
	return st.ix, nil
}

// updateRelated builds the relations when there are none, or carries the
// current ones over to the live catalogue; the caller holds rel.mu. It
// returns the log read by a first build.
func (s *Service) updateRelated(ctx context.Context) (*relatedState, *related.Log, error) {
	st := s.rel.cur.Load()
	ver := s.catVer.Load()
	switch {
	case st == nil:
		return s.buildRelated(ctx)
	case st.catVer != ver:
		ix := st.ix.WithItems(s.relatedItems())
		ix.DropTexts() // this carry-over is not written
		st = &relatedState{ix: ix, catVer: ver, events: st.events, built: st.built, learnt: st.learnt,
			cov: st.cov, gen: st.gen, consent: st.consent}
		s.rel.cur.Store(st)
	}
	return st, nil, nil
}

// WarmRelated builds the item relations now (call it after Load), so the
// first similar-items request does not wait for them.
func (s *Service) WarmRelated(ctx context.Context) error {
	_, err := s.relatedIndex(ctx, "")
	return err
}

// LearnRelated builds the item relations with the blend learned on the
// event log and waits for it, where a request or WarmRelated learns in the
// background and swaps the result in later: for evaluations, which must
// measure one state of the relations from the first question on. A
// background learning under way is waited for first.
func (s *Service) LearnRelated(ctx context.Context) (related.LearnReport, error) {
	for !s.rel.running.CompareAndSwap(false, true) {
		select {
		case <-ctx.Done():
			return related.LearnReport{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	defer s.rel.running.Store(false)
	s.rel.lastStart.Store(time.Now().UnixNano())
	ver := s.catVer.Load()
	n := s.ledgerEvents()
	log, read, err := s.relatedLog(ctx)
	if err != nil {
		return related.LearnReport{}, err
	}
	ix, rep, err := related.LearnLog(ctx, s.relatedItems(), log, s.factorVectors(), nil, s.relatedConfig(), nil)
	if err != nil {
		return rep, fmt.Errorf("learn item relations: %w", err)
	}
	s.rel.mu.Lock()
	defer s.rel.mu.Unlock()
	if s.catVer.Load() != ver {
		ix = ix.WithItems(s.relatedItems())
		ver = s.catVer.Load()
	}
	st := read.state(ix, ver, n, true)
	s.rel.cur.Store(st)
	s.saveRelated(st)
	return rep, nil
}

// buildRelated builds the relations with default weights from the store's
// events; the caller holds rel.mu.
func (s *Service) buildRelated(ctx context.Context) (*relatedState, *related.Log, error) {
	ver := s.catVer.Load()
	items := s.relatedItems()
	log, read, err := s.relatedLog(ctx)
	if err != nil {
		return nil, nil, err
	}
	ix, err := related.BuildLog(ctx, items, log, s.factorVectors(), nil, s.relatedConfig())
	if err != nil {
		return nil, nil, fmt.Errorf("build item relations: %w", err)
	}
	st := read.state(ix, ver, s.ledgerEvents(), false)
	s.rel.cur.Store(st)
	s.saveRelated(st)
	s.log.Info("built item relations", "items", ix.Len(), "events", log.Len(), "kept", log.Kept(), "took", ix.BuildTime())
	return st, log, nil
}

// learnRelated rebuilds the relations from the whole event log (log, or
// read again when nil) with the blend learned on a hold-out of it, in the
// background, and swaps them in; a catalogue change meanwhile is carried
// over.
func (s *Service) learnRelated(prev *relatedState, log *related.Log) {
	defer s.rel.running.Store(false)
	ctx := s.rel.bgCtx
	ver := s.catVer.Load()
	items := s.relatedItems()
	n := s.ledgerEvents()
	read := relatedRead{cov: prev.cov, gen: prev.gen, consent: prev.consent}
	if log == nil {
		var err error
		if log, read, err = s.relatedLog(ctx); err != nil {
			s.log.Warn("item relations: cannot read the event log; keeping the current ones", "err", err)
			return
		}
	} else {
		n = prev.events
	}
	start := time.Now()
	ix, rep, err := related.LearnLog(ctx, items, log, s.factorVectors(), nil, s.relatedConfig(), nil)
	if err != nil {
		if ctx.Err() != nil {
			return // stopped (shutdown)
		}
		s.log.Warn("item relations: learning failed; keeping the current ones", "err", err)
		return
	}
	if s.catVer.Load() != ver {
		ix = ix.WithItems(s.relatedItems())
		ver = s.catVer.Load()
	}
	s.rel.mu.Lock()
	defer s.rel.mu.Unlock()
	if cur := s.rel.cur.Load(); cur != nil && cur != prev && (cur.built.After(start) || cur.events > n) {
		// a newer build won, or one (LearnRelated, a rebuild) that read
		// more of the log than this learning did, from a stale state
		return
	}
	st := read.state(ix, ver, n, true)
	s.rel.cur.Store(st)
	s.saveRelated(st)
	sim, comp := ix.Weights()
	s.log.Info("learned item relations", "anchors", rep.Anchors, "learned", rep.Learned,
		"similar", sim.String(), "complement", comp.String(), "took", time.Since(start))
}

func (s *Service) relatedConfig() related.Config {
	w := s.cfg.Weight
	// the analysed texts are kept for the snapshot (decision 0075)
	return related.Config{Weight: func(t events.Type, v *float64) float64 { return w(t, v) }, KeepTexts: s.cfg.SnapshotDir != ""}
}

// relatedItems is the live catalogue as catalog items.
func (s *Service) relatedItems() []catalog.Item {
	info := s.items.snapshot()
	out := make([]catalog.Item, 0, len(info))
	for i := range info {
		it := &info[i]
		if it.deleted {
			continue
		}
		out = append(out, catalog.Item{ID: it.id, Title: it.title, Description: it.description, Brand: it.brand,
			Categories: it.categories, Attributes: it.attributes, Available: it.available})
	}
	return out
}

// relatedLog streams the event log into the compact form the relations
// are built from (package related's Log: 24 bytes per event that counts,
// ids interned), so a rebuild after a start or a forget never holds the
// events themselves — they were 175–345 bytes each and, with the copies
// the build made, most of a restarted server's peak memory (issue 12).
// Opted-out shoppers' events relate nothing.
//
// It also returns what a snapshot of relations built from the log records
// (relsnap.go): the events read, and the snapshot removals and consent set
// before reading.
func (s *Service) relatedLog(ctx context.Context) (*related.Log, relatedRead, error) {
	read := relatedRead{cov: &snapshot.Coverage{}, gen: s.relSnap.gen.Load(), consent: s.consentHash()}
	log := related.NewLog(s.relatedConfig())
	if n, err := s.st.CountEvents(ctx); err == nil {
		log.Grow(n) // one allocation sized by the count, no doubling
	}
	err := s.st.ScanEvents(ctx, 0, func(e events.Event) error {
		read.cov.Add(e.Seq)
		if e.ItemID != "" && s.Personalized(e.UserID) {
			log.Add(&e)
		}
		return nil
	})
	if err != nil {
		return nil, read, fmt.Errorf("read events for item relations: %w", err)
	}
	return log, read, nil
}

// relatedRead is what relatedLog read besides the log.
type relatedRead struct {
	cov     *snapshot.Coverage
	gen     uint64
	consent uint64
}

// state is the relations ix built at catalogue version ver from the log
// read, with n ledger events.
func (r relatedRead) state(ix *related.Index, ver int64, n int, learnt bool) *relatedState {
	return &relatedState{ix: ix, catVer: ver, events: n, built: time.Now(), learnt: learnt, cov: r.cov, gen: r.gen, consent: r.consent}
}

func (s *Service) ledgerEvents() int {
	return s.ledger.count()
}

// factorVectors are the item vectors of a serving factor model (the
// primary one when it has vectors), by item id; nil without one.
func (s *Service) factorVectors() related.Vectors {
	set := s.models.Load()
	sm := set.primary
	if sm == nil || sm.unitVecs == nil {
		sm = nil
		for _, m := range set.byName {
			if m.unitVecs != nil && (sm == nil || m.meta.Name < sm.meta.Name) {
				sm = m
			}
		}
	}
	if sm == nil {
		return nil
	}
	info := s.items.snapshot()
	out := related.Vectors{}
	for mi, si := range sm.fromModel {
		if si >= 0 && int(si) < len(info) {
			out[info[si].id] = sm.unitVecs[mi*sm.dim : (mi+1)*sm.dim]
		}
	}
	return out
}

// modelScores are the serving similar-items model's scores for src, by item
// id, scaled so the best is 1 (its top 100), and the model's label; nil
// without such a model.
func (s *Service) modelScores(src int32, info []itemInfo) (map[string]float64, string) {
	sm := s.similarModel()
	if sm == nil {
		return nil, ""
	}
	scores, _ := sm.similar(src, len(info))
	if scores == nil {
		return nil, ""
	}
	top := topN(scores, 100, func(i int32) bool { return i != src && !info[i].deleted }, true)
	if len(top) == 0 {
		return nil, sm.label()
	}
	best := float64(top[0].score)
	out := make(map[string]float64, len(top))
	for _, c := range top {
		if v := float64(c.score) / best; v > 0 && !math.IsNaN(v) {
			out[info[c.item].id] = v
		}
	}
	return out, sm.label()
}
