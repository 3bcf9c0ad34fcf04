package recommend

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/topk"
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
	// model is always queried with the user's whole history (see
	// pipeline.Weighting for how recent items adjust it).
	HistoryLen int
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

	models atomic.Pointer[modelSet]

	rel    relatedCache // similar items and bought together
	catVer atomic.Int64 // bumped on catalogue changes

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

	// sponsoredFn reports events answering an ad (see SetSponsored).
	sponsoredFn atomic.Pointer[func(events.Event) bool]
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
	s := &Service{cfg: cfg, log: log, text: text, st: st, items: newItems(), ledger: newLedger(), profiles: newProfiles()}
	s.models.Store(&modelSet{byName: map[string]*servingModel{}})
	return s
}

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
	s.items.upsert(its)
	s.catVer.Add(1)
	s.rowsItemsAdded(its)
	if err := s.loadConsent(ctx); err != nil {
		return err
	}
	if err := s.loadForgotten(ctx); err != nil {
		return err
	}
	err := s.st.ScanEvents(ctx, 0, func(e events.Event) error {
		s.record(e)
		for _, f := range replay {
			f(e)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load events: %w", err)
	}
	s.loaded.Store(true)
	return s.LoadModels(ctx)
}

// record counts a live or replayed event in the service's own state.
func (s *Service) record(e events.Event) {
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
	l.add(e, i, w, !s.Personalized(e.UserID))
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
}

// UserDeleted implements engine.Listener.
func (s *Service) UserDeleted(id string) {
	// the whole forgetting is UserForgotten (forget.go), called with the
	// removed events right after this
	s.profiles.forget(id)
	s.rowsForget(id)
}

// Item is one recommended item.
type Item struct {
	ID     string  `json:"id"`
	Score  float64 `json:"score"`
	Reason string  `json:"reason"`
	// Sponsored marks an ad placed by the ad server; Pinned an item a
	// merchandising rule pinned to its position.
	Sponsored bool `json:"sponsored,omitempty"`
	Pinned    bool `json:"pinned,omitempty"`
}

// Request is a recommendation request.
type Request struct {
	N         int
	Filter    Filter
	Diversity float64 // 0..1; 0 = pure relevance
}

// Answer is a list of items and what produced it.
type Answer struct {
	Items []Item `json:"items"`
	Model string `json:"model,omitempty"` // "name@version" of the ranking model, when one ranked
}

// history is what a request knows of a user (or a session), mapped to
// service item indices.
type history struct {
	// items and weights are the recent interest (oldest first), weighted
	// by type and recency, for category affinity and fallbacks.
	items   []int32
	weights []float32
	// whole is the user's whole history (oldest first) with the summed
	// event weight of each item in wholeRaw; the model is queried with it,
	// weighed as the model's validation chose. nil for sessions, whose
	// model query is items/weights.
	whole    []int32
	wholeRaw []float32
	exclude  map[int32]bool
}

// maxModelHistory bounds the items a model query carries: the newest ones.
const maxModelHistory = 2000

// userHistory reads the user's history from memory: never a scan of the
// event log, whatever its length.
func (s *Service) userHistory(_ context.Context, user string) (*history, error) {
	return s.historyOf(s.profiles.of(user)), nil
}

// historyOf builds a history from a user's profile entries (oldest first).
func (s *Service) historyOf(entries []profileEntry) *history {
	h := &history{exclude: map[int32]bool{}}
	var newest int64
	for _, e := range entries {
		newest = max(newest, e.last)
		if e.excluded {
			h.exclude[e.item] = true
		}
	}
	from := max(0, len(entries)-maxModelHistory)
	for _, e := range entries[from:] {
		if e.weight > 0 {
			h.whole = append(h.whole, e.item)
			h.wholeRaw = append(h.wholeRaw, e.weight)
		}
	}
	from = max(0, len(entries)-s.cfg.HistoryLen)
	for k := from; k < len(entries); k++ {
		e := entries[k]
		w := float64(e.weight)
		if w <= 0 {
			continue
		}
		if s.cfg.RecencyHalfLife > 0 {
			w *= math.Exp2(-float64(len(entries)-1-k) / s.cfg.RecencyHalfLife) // newer items follow this one
		}
		if s.cfg.TimeHalfLife > 0 {
			w *= math.Exp2(-float64(newest-e.last) / s.cfg.TimeHalfLife.Seconds())
		}
		if w < 1e-6 {
			continue
		}
		h.items = append(h.items, e.item)
		h.weights = append(h.weights, float32(w))
	}
	return h
}

// Recommend answers "what should this user see next".
func (s *Service) Recommend(ctx context.Context, user string, req Request) (*Answer, error) {
	if !s.Personalized(user) {
		return s.recommendFor("", &history{exclude: map[int32]bool{}}, req), nil
	}
	h, err := s.userHistory(ctx, user)
	if err != nil {
		return nil, err
	}
	if len(h.items) == 0 && len(h.exclude) == 0 && !s.knownToPrimary(user) {
		// nothing of theirs is known but perhaps who they are: users who
		// share their attributes seed the first answer
		if ans, ok, err := s.ColdStart(ctx, user, req); err != nil {
			return nil, err
		} else if ok && len(ans.Items) > 0 {
			return ans, nil
		}
	}
	return s.recommendFor(user, h, req), nil
}

// knownToPrimary reports whether the primary model has a vector for user.
func (s *Service) knownToPrimary(user string) bool {
	sm := s.models.Load().primary
	if sm == nil {
		return false
	}
	_, ok := sm.users[user]
	return ok
}

// Session answers for an anonymous session from the items it touched
// (oldest first).
func (s *Service) Session(ctx context.Context, itemIDs []string, req Request) (*Answer, error) {
	h := &history{exclude: map[int32]bool{}}
	for _, id := range itemIDs {
		if i, ok := s.items.lookup(id); ok {
			h.items = append(h.items, i)
			h.weights = append(h.weights, 1)
			h.exclude[i] = true
		}
	}
	return s.recommendFor("", h, req), nil
}

func (s *Service) recommendFor(user string, h *history, req Request) *Answer {
	info := s.items.snapshot()
	f := req.Filter.compile(info, s.items.lookup)
	allow := func(i int32) bool { return !h.exclude[i] && f.allows(i) }
	pool := max(req.N*5, 50)
	var cands []Item
	taken := map[string]bool{}
	ans := &Answer{}
	ms := s.models.Load()
	if sm := ms.primary; sm != nil {
		uidx, known := s.userIndex(sm, user)
		hasHistory := len(h.items) > 0 || len(h.whole) > 0
		if sm.index != nil && (known || hasHistory) {
			reason := "model:" + sm.label()
			top := sm.top(uidx, h, pool, allow)
			s.rerankAffinity(top, info, h)
			for _, c := range top {
				cands = append(cands, Item{ID: info[c.item].id, Score: float64(c.score), Reason: reason})
				taken[info[c.item].id] = true
			}
			if len(top) > 0 {
				ans.Model = sm.label()
			}
		} else if known || hasHistory {
			scores := sm.score(uidx, h, len(info))
			if scores != nil {
				s.blendAffinity(scores, info, h)
				reason := "model:" + sm.label()
				if !known {
					reason += " (from recent events)"
				}
				for _, c := range topN(scores, pool, allow, true) {
					cands = append(cands, Item{ID: info[c.item].id, Score: float64(c.score), Reason: reason})
					taken[info[c.item].id] = true
				}
				ans.Model = sm.label()
			}
		}
	}
	if len(cands) < pool {
		cands = s.fallbacks(cands, taken, info, h, allow, pool)
	}
	ans.Items = s.diversify(cands, req, info)
	return ans
}

// fallbacks fills cands up to n: trending, popular in the user's
// categories, popular.
func (s *Service) fallbacks(cands []Item, taken map[string]bool, info []itemInfo, h *history, allow func(int32) bool, n int) []Item {
	add := func(list []scored, reason string) {
		for _, c := range list {
			if len(cands) >= n {
				return
			}
			id := info[c.item].id
			if taken[id] {
				continue
			}
			taken[id] = true
			cands = append(cands, Item{ID: id, Score: float64(c.score), Reason: reason})
		}
	}
	scores := make([]float32, len(info))
	s.ledger.trending(s.cfg.TrendingShort, s.cfg.TrendingLong, scores)
	add(topN(scores, n, allow, true), "trending")
	if len(cands) >= n {
		return cands
	}
	clear(scores)
	s.ledger.popular(0, scores)
	for _, cat := range topCategories(info, h.items, 2) {
		inCat := func(i int32) bool { return allow(i) && hasPrefix(info[i].categories, cat) }
		add(topN(scores, n, inCat, true), "popular in "+cat)
	}
	add(topN(scores, n, allow, true), "popular")
	// A catalogue nobody touched yet: newest items first.
	if len(cands) < n {
		rest := make([]float32, len(info))
		for i := range rest {
			rest[i] = float32(i)
		}
		add(topN(rest, n, allow, false), "new in catalogue")
	}
	return cands
}

// blendAffinity mixes the user's recent category interest into model
// scores: final = (1-β)·min-max-normalised score + β·(weighted share of the
// history in the item's category).
func (s *Service) blendAffinity(scores []float32, info []itemInfo, h *history) {
	s.blendWith(scores, info, info, h)
}

// blendWith blends into scores (one per entry of cand) the category shares
// of h, whose items index hist.
func (s *Service) blendWith(scores []float32, cand, hist []itemInfo, h *history) {
	beta := float32(s.cfg.AffinityBoost)
	if beta <= 0 || len(h.items) == 0 {
		return
	}
	// Category shares of the recent history, weighted like the history
	// itself (type and recency), indexed by category id.
	share := make([]float32, s.items.numCats())
	var total float32
	for k, i := range h.items {
		total += h.weights[k]
		if c := hist[i].cat; c >= 0 && int(c) < len(share) {
			share[c] += h.weights[k]
		}
	}
	if total <= 0 {
		return
	}
	for c := range share {
		share[c] /= total
	}
	// Normalise scores to [0, 1] by min-max over finite values.
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range scores {
		if !math.IsInf(float64(v), 0) && !math.IsNaN(float64(v)) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	span := hi - lo
	if span <= 0 {
		span = 1
	}
	for i, v := range scores {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), -1) {
			continue
		}
		a := float32(0)
		if i < len(cand) {
			if c := cand[i].cat; c >= 0 && int(c) < len(share) {
				a = share[c]
			}
		}
		scores[i] = (1-beta)*(v-lo)/span + beta*a
	}
}

// rerankAffinity applies the category blend of blendAffinity to a
// candidate list retrieved from an index, and re-sorts it.
func (s *Service) rerankAffinity(top []scored, info []itemInfo, h *history) {
	if len(top) == 0 || s.cfg.AffinityBoost <= 0 || len(h.items) == 0 {
		return
	}
	scores := make([]float32, len(top))
	for k, c := range top {
		scores[k] = c.score
	}
	sub := make([]itemInfo, len(top))
	for k, c := range top {
		sub[k] = info[c.item]
	}
	// Map the history into the candidate space only for category shares.
	hh := &history{items: h.items, weights: h.weights}
	s.blendWith(scores, sub, info, hh)
	for k := range top {
		top[k].score = scores[k]
	}
	slices.SortFunc(top, func(a, b scored) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(a.item, b.item)
	})
}

// topN returns the n best allowed items by score, best first, ties by the
// lower index (topk.Select). With positive, only scores > 0 count.
func topN(scores []float32, n int, allow func(int32) bool, positive bool) []scored {
	hits := topk.Select(scores, n, allow, positive)
	out := make([]scored, len(hits))
	for k, h := range hits {
		out[k] = scored{h.Index, h.Score}
	}
	return out
}

// ErrUnknownItem is returned for an item id not in the catalogue.
var ErrUnknownItem = errors.New("unknown item")

// Similar answers "what is similar to this product": item relations
// (package related) blending behaviour, category, brand, attributes, text
// and the serving similar-items model, then popular items of the same leaf
// category. Each item's reason names the signal that placed it.
func (s *Service) Similar(ctx context.Context, itemID string, req Request) (*Answer, error) {
	src, ok := s.items.lookup(itemID)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownItem, itemID)
	}
	info := s.items.snapshot()
	f := req.Filter.compile(info, s.items.lookup)
	allow := func(i int32) bool { return i != src && f.allows(i) }
	pool := max(req.N*5, 50)
	var cands []Item
	taken := map[string]bool{itemID: true}
	ans := &Answer{}
	ix, err := s.relatedIndex(ctx, itemID)
	if err != nil {
		return nil, err
	}
	hint, label := s.modelScores(src, info)
	for _, r := range ix.SimilarWith(itemID, pool, s.allowID(allow), hint) {
		taken[r.ID] = true
		cands = append(cands, Item{ID: r.ID, Score: r.Score, Reason: r.Reason})
	}
	if label != "" && len(cands) > 0 {
		ans.Model = label
	}
	if len(cands) < pool {
		scores := make([]float32, len(info))
		s.ledger.popular(0, scores)
		if cat := info[src].leafCategory(); cat != "" {
			for _, c := range topN(scores, pool, func(i int32) bool { return allow(i) && hasPrefix(info[i].categories, cat) }, true) {
				if id := info[c.item].id; len(cands) < pool && !taken[id] {
					taken[id] = true
					cands = append(cands, Item{ID: id, Score: float64(c.score), Reason: "popular in " + cat})
				}
			}
		}
	}
	ans.Items = s.diversify(cands, req, info)
	return ans, nil
}

// allowID turns an item-index filter into an item-id filter.
func (s *Service) allowID(allow func(int32) bool) func(string) bool {
	return func(id string) bool {
		i, ok := s.items.lookup(id)
		return ok && allow(i)
	}
}

// Popular lists the most interacted-with items over a window back from the
// newest event (0 = all time).
func (s *Service) Popular(window time.Duration, req Request) *Answer {
	info := s.items.snapshot()
	f := req.Filter.compile(info, s.items.lookup)
	scores := make([]float32, len(info))
	s.ledger.popular(window, scores)
	reason := "popular"
	if window > 0 {
		reason = "popular in the last " + humanWindow(window)
	}
	return &Answer{Items: s.diversify(toItems(topN(scores, max(req.N*5, req.N), f.allows, true), info, reason), req, info)}
}

// Trending lists items whose recent activity grows fastest.
func (s *Service) Trending(req Request) *Answer {
	info := s.items.snapshot()
	f := req.Filter.compile(info, s.items.lookup)
	scores := make([]float32, len(info))
	s.ledger.trending(s.cfg.TrendingShort, s.cfg.TrendingLong, scores)
	items := toItems(topN(scores, max(req.N*5, req.N), f.allows, true), info, "trending")
	if len(items) < req.N { // nothing grows: fall back to recent popularity
		clear(scores)
		s.ledger.popular(s.cfg.TrendingLong, scores)
		taken := map[string]bool{}
		for _, it := range items {
			taken[it.ID] = true
		}
		for _, it := range toItems(topN(scores, req.N*2, f.allows, true), info, "popular recently") {
			if !taken[it.ID] {
				items = append(items, it)
			}
		}
	}
	return &Answer{Items: s.diversify(items, req, info)}
}

// BoughtTogether lists the items that complete item in a basket: bought
// in the same baskets (session or order id, else one shopper's purchases
// close in time) more often than their popularity explains, bought by the
// same shoppers, or popular in the categories its buyers also buy —
// never a substitute of the item itself.
func (s *Service) BoughtTogether(ctx context.Context, itemID string, req Request) (*Answer, error) {
	src, ok := s.items.lookup(itemID)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownItem, itemID)
	}
	info := s.items.snapshot()
	f := req.Filter.compile(info, s.items.lookup)
	ix, err := s.relatedIndex(ctx, itemID)
	if err != nil {
		return nil, err
	}
	var out []Item
	for _, r := range ix.Complements(itemID, max(req.N*5, 50), s.allowID(func(i int32) bool { return i != src && f.allows(i) })) {
		out = append(out, Item{ID: r.ID, Score: r.Score, Reason: r.Reason})
	}
	return &Answer{Items: s.diversify(out, req, info)}, nil
}

func toItems(list []scored, info []itemInfo, reason string) []Item {
	out := make([]Item, len(list))
	for k, c := range list {
		out[k] = Item{ID: info[c.item].id, Score: float64(c.score), Reason: reason}
	}
	return out
}

func humanWindow(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		if d == 24*time.Hour {
			return "day"
		}
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

// Affinity returns the user's interest in an item, in [0, 1]: the weighted
// share of their recent history in the item's category, plus half the
// share of its brand, or the cosine of the user's and the item's vectors
// in a serving factor model when that is larger, capped at 1. Search uses
// it to personalise ranking
// within bounds; a user without history gets nil.
func (s *Service) Affinity(ctx context.Context, user string) (func(itemID string) float64, error) {
	if user == "" || !s.Personalized(user) {
		return nil, nil
	}
	h, err := s.userHistory(ctx, user)
	if err != nil || len(h.items) == 0 {
		return nil, err
	}
	info := s.items.snapshot()
	cats, brands := map[string]float64{}, map[string]float64{}
	var total float64
	for k, i := range h.items {
		w := float64(h.weights[k])
		total += w
		if c := info[i].leafCategory(); c != "" {
			cats[c] += w
		}
		if b := strings.ToLower(info[i].brand); b != "" {
			brands[b] += w
		}
	}
	if total <= 0 {
		return nil, nil
	}
	emb := s.embeddingAffinity(user, h)
	return func(itemID string) float64 {
		i, ok := s.items.lookup(itemID)
		if !ok || int(i) >= len(info) {
			return 0
		}
		a := cats[info[i].leafCategory()]/total + 0.5*brands[strings.ToLower(info[i].brand)]/total
		if emb != nil {
			a = max(a, emb(i))
		}
		return min(a, 1)
	}, nil
}

// embeddingAffinity returns the cosine (negative → 0) of the user's vector
// and an item's vector in the primary model (or another serving factor
// model), the user's vector folded in from h when the model does not know
// them; nil without such a model.
func (s *Service) embeddingAffinity(user string, h *history) func(item int32) float64 {
	set := s.models.Load()
	sm := set.primary
	if _, ok := sm.embedder(); !ok {
		sm = nil
		names := make([]string, 0, len(set.byName))
		for n := range set.byName {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			if _, ok := set.byName[n].embedder(); ok {
				sm = set.byName[n]
				break
			}
		}
	}
	if sm == nil {
		return nil
	}
	ue, _ := sm.embedder()
	uid := int32(-1)
	if u, ok := s.userIndex(sm, user); ok {
		uid = u
	}
	q, ok := sm.query(uid, h)
	if !ok {
		return nil
	}
	dim, vecs := ue.ItemVectors()
	u := make([]float32, dim)
	if dim == 0 || !ue.UserVector(q, u) {
		return nil
	}
	var un float64
	for _, x := range u {
		un += float64(x) * float64(x)
	}
	if un == 0 {
		return nil
	}
	un = math.Sqrt(un)
	return func(i int32) float64 {
		if int(i) >= len(sm.toModel) || sm.toModel[i] < 0 {
			return 0
		}
		v := vecs[int(sm.toModel[i])*dim : int(sm.toModel[i]+1)*dim]
		var dot, vn float64
		for k, x := range v {
			dot += float64(x) * float64(u[k])
			vn += float64(x) * float64(x)
		}
		if vn == 0 {
			return 0
		}
		return max(0, dot/(un*math.Sqrt(vn)))
	}
}

// popularitySnapshot is the all-time popularity of every item, rebuilt at
// most once per popularityTTL.
type popularitySnapshot struct {
	at     time.Time
	scores map[string]float64
}

const popularityTTL = time.Minute

// Popularity returns an item's all-time popularity in [0, 1]:
// log(1 + its weighted interactions) / log(1 + the most popular item's).
// Learned search ranking uses it as a feature. It reads a snapshot rebuilt
// at most once a minute, so it is cheap enough to call per search result.
// Only the first call waits for a snapshot: later ones read the previous
// one while a stale snapshot is rebuilt in the background, so searches do
// not queue behind a rebuild (a pass over every event).
func (s *Service) Popularity(itemID string) float64 {
	if !s.loaded.Load() {
		return 0 // a snapshot of a half-read log would stand for a minute
	}
	snap := s.popularity.Load()
	switch {
	case snap == nil:
		snap = s.rebuildPopularity()
	case time.Since(snap.at) > popularityTTL && s.popularityMu.TryLock():
		go func() {
			defer s.popularityMu.Unlock()
			s.refreshPopularity()
		}()
	}
	return snap.scores[itemID]
}

// rebuildPopularity makes the first snapshot (or returns the one another
// caller just made).
func (s *Service) rebuildPopularity() *popularitySnapshot {
	s.popularityMu.Lock()
	defer s.popularityMu.Unlock()
	if snap := s.popularity.Load(); snap != nil {
		return snap
	}
	return s.refreshPopularity()
}

// refreshPopularity rebuilds the snapshot; the caller holds popularityMu.
func (s *Service) refreshPopularity() *popularitySnapshot {
	snap := &popularitySnapshot{at: time.Now(), scores: s.popularityScores(math.MaxInt64)}
	s.popularity.Store(snap)
	return snap
}

// popularityScores is log(1 + weighted interactions) / log(1 + the top
// item's), over the events before the Unix second before.
func (s *Service) popularityScores(before int64) map[string]float64 {
	info := s.items.snapshot()
	scores := make([]float32, len(info))
	s.ledger.popularBetween(math.MinInt64, before, scores)
	top := float32(0)
	for _, v := range scores {
		top = max(top, v)
	}
	out := make(map[string]float64)
	if top > 0 {
		den := math.Log1p(float64(top))
		for i, v := range scores {
			if v > 0 {
				out[info[i].id] = math.Log1p(float64(v)) / den
			}
		}
	}
	return out
}
