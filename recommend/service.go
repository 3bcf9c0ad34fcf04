package recommend

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aisle-dev/aisle/ann"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/pipeline"
	"github.com/aisle-dev/aisle/search/analysis"
	"github.com/aisle-dev/aisle/store"
)

// Config tunes the service.
type Config struct {
	// Weight maps an event to its weight as model history (the same weights
	// as training); nil uses pipeline.DefaultPreprocess.
	Weight func(t events.Type, value *float64) float64
	// ExcludeTypes are the event types whose items are never recommended
	// again to the same user, however long ago they happened (default:
	// purchase and rating — a rated item was consumed).
	ExcludeTypes []events.Type
	// HistoryLen is how many of the user's most recent items form the
	// recent interest that category affinity blends in (default 50). The
	// model is always queried with the user's whole history, up to
	// MaxHistory items (see pipeline.Weighting for how recent items
	// adjust it).
	HistoryLen int
	// MaxHistory bounds the items remembered per user (default 1000;
	// negative: unbounded), so memory does not grow with the event log:
	// at the bound the eighth of the items the user touched least recently
	// is forgotten (items of an excluded type, purchases, only when all
	// are), the model is queried with the newest ones, and the rows'
	// interest weights keep the strongest MaxHistory items.
	MaxHistory int
	// RecencyHalfLife halves the affinity weight of a recent item for every
	// this many newer items, so what the user just did steers the category
	// blend more than what they did months ago; default 5, negative
	// disables.
	RecencyHalfLife float64
	// TimeHalfLife halves the affinity weight of a recent item for every
	// this much time it happened before the user's newest event. Default 7
	// days; negative disables.
	TimeHalfLife time.Duration
	// Primary names the model that ranks personal recommendations; "" picks
	// the serving model with the best validation NDCG@10.
	Primary string
	// AffinityBoost blends the user's recent category interest into model
	// scores (0 = off, 1 = categories only); default 0.15.
	AffinityBoost float64
	// TrendingShort and TrendingLong are the half-lives that define trending.
	TrendingShort, TrendingLong time.Duration
	// ANNThreshold is the catalogue size from which factor models answer
	// through an approximate nearest-neighbour index (IVF) instead of
	// scoring every item; default 100,000, negative disables.
	ANNThreshold int
	// Vectors is how the index stores item vectors: "int8" (default; its
	// short list re-ranked with the model's float32 vectors), "int8dim" or
	// "float32" or "pq" (see ann.ParseQuant).
	Vectors string
	// ModelVectors overrides Vectors for the models it names.
	ModelVectors map[string]string
	// IndexDir, when set, is where built indexes are saved, one file per
	// model tagged with its version and a checksum of its vectors, so that
	// a restart or a replica loads the index instead of building it.
	IndexDir string
	// SnapshotDir, when set, is where the service's counts are saved with
	// the event Seq they cover (decision 0040), so a start reads them and
	// counts only the events after.
	SnapshotDir string
	// SnapshotEvery writes a snapshot every this many events counted
	// (default 100,000; negative: only at a clean shutdown).
	SnapshotEvery int
	// PromoteTolerance accepts a retrained version whose validation
	// NDCG@10 is at most this fraction below the serving one (the hold-out
	// users change as data grows); default 0.
	PromoteTolerance float64
}

func (c *Config) defaults() {
	if c.Weight == nil {
		c.Weight = pipeline.DefaultPreprocess().EventWeight
	}
	if c.ExcludeTypes == nil {
		c.ExcludeTypes = []events.Type{events.Purchase, events.Rating}
	}
	if c.HistoryLen <= 0 {
		c.HistoryLen = 50
	}
	if c.MaxHistory == 0 {
		c.MaxHistory = 1000
	}
	if c.AffinityBoost == 0 {
		c.AffinityBoost = 0.25
	}
	if c.RecencyHalfLife == 0 {
		c.RecencyHalfLife = 5
	}
	if c.TimeHalfLife == 0 {
		c.TimeHalfLife = 7 * 24 * time.Hour
	}
	if c.ANNThreshold == 0 {
		c.ANNThreshold = 100_000
	}
	if c.Vectors == "" {
		c.Vectors = ann.Int8.String()
	}
	if c.SnapshotEvery == 0 {
		c.SnapshotEvery = 100_000
	}
	if c.TrendingShort <= 0 {
		c.TrendingShort = 24 * time.Hour
	}
	if c.TrendingLong <= 0 {
		c.TrendingLong = 14 * 24 * time.Hour
	}
}

// Service answers recommendation requests. It is safe for concurrent use.
type Service struct {
	cfg      Config
	log      *slog.Logger
	text     *analysis.Analyzer // the search analysis, for the words of titles
	st       store.Store
	items    *items
	ledger   *ledger
	profiles *profiles
	// posWeight corrects the popularity ledger for position bias (position.go)
	posWeight atomic.Pointer[func(events.Event) float64]

	models atomic.Pointer[modelSet]

	indexBuilt, indexLoaded atomic.Int64 // ANN indexes built and loaded from IndexDir

	rel     relatedCache // similar items and bought together
	relSnap relSnap      // snapshots of the relations (relsnap.go)
	catVer  atomic.Int64 // bumped on catalogue changes

	newEvents   atomic.Int64 // since the last retraining
	lastEventAt atomic.Int64 // wall clock (Unix ns) of the last appended batch

	learnersMu sync.Mutex
	learners   []Learner

	// lifecycleMu serialises promotions and rollbacks of stored versions,
	// which read, then rewrite, the statuses of a model's versions
	lifecycleMu sync.Mutex

	priv    privacy      // forgotten users and consent (forget.go, consent.go)
	relearn relearnState // relearning counts after retention (retention.go)

	loaded       atomic.Bool // the event log has been read
	popularityMu sync.Mutex
	popularity   atomic.Pointer[popularitySnapshot]

	rows rowState // buy it again, new arrivals, cold start (rows.go)

	cov  covState  // which events the counts hold (snapstate.go)
	snap snapState // snapshots of the counts (snapshot.go)

	// sponsoredFn reports events answering an ad (see SetSponsored).
	sponsoredFn atomic.Pointer[func(events.Event) bool]
	// images gives visual neighbours for similar items (images.go)
	images atomic.Pointer[ImageNeighbours]
}

// SetSponsored sets how to tell events that answer an ad impression (a
// click on a sponsored product): popularity, trending and the training
// data leave them out, so ads do not teach the models (call before Load).
func (s *Service) SetSponsored(f func(events.Event) bool) { s.sponsoredFn.Store(&f) }

// sponsored reports whether e answers an ad impression.
func (s *Service) sponsored(e events.Event) bool {
	f := s.sponsoredFn.Load()
	return f != nil && *f != nil && e.RequestID != "" && (*f)(e)
}

// Learner is another kind of model trained from the shop's data, such as
// the search ranker. The retrainer runs it after the recommendation
// models; its versions sit in the same model store (listed by Models), and
// Rollback of its name goes to it.
type Learner interface {
	// Name is the model name its versions are stored under.
	Name() string
	// RunOnce trains a new version and promotes it if it is not worse.
	// Too little data is a result saying so (Trained false), not an error.
	RunOnce(ctx context.Context) (pipeline.Result, error)
	// Rollback makes the previously serving version serve again.
	Rollback(ctx context.Context) (store.ModelMeta, error)
	// ServingVersion is the version in use now, 0 when none is.
	ServingVersion() int
}

// AddLearner registers a learner (before Load).
func (s *Service) AddLearner(l Learner) {
	s.learnersMu.Lock()
	defer s.learnersMu.Unlock()
	s.learners = append(s.learners, l)
}

func (s *Service) learner(name string) Learner {
	s.learnersMu.Lock()
	defer s.learnersMu.Unlock()
	for _, l := range s.learners {
		if l.Name() == name {
			return l
		}
	}
	return nil
}

func (s *Service) allLearners() []Learner {
	s.learnersMu.Lock()
	defer s.learnersMu.Unlock()
	return append([]Learner(nil), s.learners...)
}

// New returns a Service over st. Call Load before serving.
func New(st store.Store, cfg Config, log *slog.Logger) *Service {
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	text, err := analysis.NewRegistry(analysis.Options{}).Analyzer(analysis.AnalyzerEnglish)
	if err != nil {
		panic(err) // a built-in analyzer: a failure is a programming error
	}
	s := &Service{cfg: cfg, log: log, text: text, st: st, items: newItems(), profiles: newProfiles(cfg.MaxHistory)}
	s.ledger = s.newLedger()
	s.models.Store(&modelSet{byName: map[string]*servingModel{}})
	s.rel.bgCtx, s.rel.stopBg = context.WithCancel(context.Background())
	return s
}

// Stop cancels the service's background work on the item relations
// (learning, rebuilds) and waits for it and for snapshot writes under way
// to end. Requests answered after Stop build what they need in the
// foreground; CloseSnapshots stops the service first.
func (s *Service) Stop() {
	s.rel.bgMu.Lock()
	s.rel.stopped = true
	s.rel.bgMu.Unlock()
	s.rel.stopBg()
	s.rel.bg.Wait()
	s.snap.wg.Wait()
	s.relSnap.wg.Wait()
}

// newLedger is an empty ledger with the configured trending half-lives.
func (s *Service) newLedger() *ledger { return newLedger(s.cfg.TrendingShort, s.cfg.TrendingLong) }

// words are the analysed terms of a text (stemmed, stop words dropped,
// Chinese, Japanese and Korean segmented), as search indexes them.
func (s *Service) words(text string) []string { return s.text.Terms(text) }

// Load reads the catalogue, the event log (for popularity, trending and
// bought-together) and the serving model versions. Each event read is also
// handed to every replay function, so that other listeners that learn from
// the whole log (the search click model) need no scan of their own.
func (s *Service) Load(ctx context.Context, replay ...func(events.Event)) error {
	var its []catalog.Item
	if err := s.st.ScanItems(ctx, func(it catalog.Item) error { its = append(its, it); return nil }); err != nil {
		return fmt.Errorf("load catalogue: %w", err)
	}
	return s.LoadWith(ctx, its, replay...)
}

// LoadWith is Load with the catalogue already read: its holds every item
// of the store, as ScanItems gives them. A start that reads the
// catalogue once for the recommender and the search index calls it
// (wire.ReadCatalogue); its is not kept.
func (s *Service) LoadWith(ctx context.Context, its []catalog.Item, replay ...func(events.Event)) error {
	s.items.upsert(its)
	s.catVer.Add(1)
	s.rowsItemsAdded(its)
	if err := s.loadConsent(ctx); err != nil {
		return err
	}
	if err := s.loadForgotten(ctx); err != nil {
		return err
	}
	rp := s.readRelated()
	if rp != nil {
		replay = append(replay, func(e events.Event) { rp.check.Seen(e.Seq) })
	}
	if err := s.loadEvents(ctx, replay); err != nil {
		return fmt.Errorf("load events: %w", err)
	}
	s.loaded.Store(true)
	if err := s.LoadModels(ctx); err != nil {
		return err
	}
	s.installRelated(rp) // the factor vectors are the serving model's
	return nil
}

// record counts a live event in the service's own state.
func (s *Service) record(e events.Event) {
	s.cov.add(e.Seq)
	s.recordCounts(e)
}

// recordCounts counts an event in the ledger, profiles and rows.
func (s *Service) recordCounts(e events.Event) {
	s.recordTo(s.ledger, s.profiles, e)
	if e.ItemID != "" {
		if i, ok := s.items.lookup(e.ItemID); ok {
			s.rowsObserve(e, i)
		}
	}
}

// recordTo records e in l and ps (the service's own, or fresh ones being
// relearnt, see retention.go).
func (s *Service) recordTo(l *ledger, ps *profiles, e events.Event) {
	if e.ItemID == "" || s.sponsored(e) {
		return
	}
	i, ok := s.items.lookup(e.ItemID)
	if !ok {
		return
	}
	w := s.cfg.Weight(e.Type, e.Value)
	l.add(e, i, w*s.positionWeight(e), !s.Personalized(e.UserID))
	if e.UserID != "" {
		ps.add(e.UserID, i, w, e.Timestamp.Unix(), slices.Contains(s.cfg.ExcludeTypes, e.Type))
	}
}

// ItemsUpserted implements engine.Listener.
func (s *Service) ItemsUpserted(its []catalog.Item) {
	s.items.upsert(its)
	s.catVer.Add(1)
	s.rowsItemsAdded(its)
}

// ItemsDeleted implements engine.Listener.
func (s *Service) ItemsDeleted(ids []string) {
	s.items.remove(ids)
	s.catVer.Add(1)
}

// EventsAppended implements engine.Listener.
func (s *Service) EventsAppended(evs []events.Event) {
	s.relearn.mu.RLock() // a relearning swaps the counts only between batches
	defer s.relearn.mu.RUnlock()
	s.relearn.capture(evs)
	for _, e := range evs {
		s.record(e)
	}
	s.newEvents.Add(int64(len(evs)))
	s.lastEventAt.Store(time.Now().UnixNano())
	s.snapshotDue(len(evs))
}

// UserDeleted implements engine.Listener.
func (s *Service) UserDeleted(id string) {
	// the whole forgetting is UserForgotten (forget.go), called with the
	// removed events right after this
	s.profiles.forget(id)
	s.rowsForget(id)
}
