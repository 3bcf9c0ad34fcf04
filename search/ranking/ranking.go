// Package ranking keeps the search ranker that shoppers teach: it turns
// what they did after searching (clicks, carts, purchases in the same
// session) into graded judgments, trains a learning-to-rank model on them
// (package search/ltr), checks it against keyword ranking and the serving
// version on held-out queries (or, with Config.Online, on live searches
// interleaved with it), stores every version next to the
// recommendation models, and makes the search index use the serving one.
//
// With Config.PositionWeight, an action that carries the position of the
// item in the answer it came from weighs the inverse of that position's
// examination: shoppers click the top results more whatever their
// relevance, so plain counts teach the serving version's order back and
// make the promotion check favour it. Reweighting does not fix the check
// on held-out judgments, which hold only what the serving version showed:
// with Config.Online a new version challenges the serving one on live
// searches instead, interleaved (online.go). The server sets both when
// the examination of search positions comes from shuffled answers
// (decisions 0069, 0070, 0073).
//
// Features never see their own labels: judgments come from the newer half
// of the search log and click-through and popularity features from the
// older half, as they will when the model serves searches that have not
// happened yet.
//
// The three search-ranking packages: search computes the features of a
// candidate (ltrfeatures.go) and re-ranks with any Ranker; search/ltr is
// the learning algorithm, which knows nothing of search; ranking (this
// package) is the lifecycle around them: data from the search log,
// training, the gate, versions and the serving model.
package ranking

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/pipeline"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/search/ltr"
	"github.com/aisle-dev/aisle/store"
)

// DefaultName is the name the ranker's versions are stored under.
const DefaultName = "search-ltr"

// Store is what the learner needs of storage: the event log and the
// model store.
type Store interface {
	store.Models
	ScanEvents(ctx context.Context, after uint64, fn func(events.Event) error) error
}

// Config tunes the learner; zero fields take the defaults.
type Config struct {
	// Name is the stored model name (default DefaultName).
	Name string
	// MinQueries is the fewest distinct queries with shopper actions in
	// the judged period needed to train (default 30).
	MinQueries int
	// ValidShare is the share of judged queries held out to validate
	// (default 0.25, at least one query).
	ValidShare float64
	// Tolerance lets a new version serve if its validation nDCG@10 is
	// within this fraction below the serving version's (default 0.01).
	Tolerance float64
	// MaxGain caps a query-item label (summed action weights: click 1,
	// add to cart 2, purchase 3) so one eager shopper does not dominate
	// (default 6).
	MaxGain float64
	// Window is how long after a search its session's actions count
	// (default: search.NewClicks's, 30 min).
	Window time.Duration
	// Params overrides the training settings; its Features are always
	// search.FeatureNames().
	Params *ltr.Params
	// MaxEvents bounds the search-log events (searches and the actions of
	// sessions) a training reads: the newest this many (default 1,000,000),
	// so memory stays bounded however long the log grows.
	MaxEvents int
	// Off keeps the learner from training or serving: its stored versions
	// stay listed (and are not mistaken for other kinds of models), but
	// searches never use them (search.learn_ranking false).
	Off bool
	// ExcludeUser, when set, leaves the searches and actions of the users
	// it names out of training (those who withheld consent).
	ExcludeUser func(userID string) bool
	// ExcludeEvent, when set, leaves the events it is true for out of
	// training (clicks on ads: see SetExcludeEvent).
	ExcludeEvent func(events.Event) bool
	// Popularity is the popularity feature's source when serving
	// (optional; nil: the feature is 0). Training does not call it: it
	// would see the period the labels come from (items shoppers acted on
	// after searching are popular because of those very actions, and a
	// model learns to rank by popularity). Training takes the same measure
	// from the events before the split instead: log(1 + weighted
	// interactions) / log(1 + the largest), weighted by PopularityWeight.
	Popularity func(itemID string) float64
	// PopularityWeight weighs an event for that training popularity
	// (default: pipeline.DefaultPreprocess's weights, a rating by its
	// value, as recommend.Service.Popularity does).
	PopularityWeight func(t events.Type, value *float64) float64
	// PositionWeight, when set, multiplies the weight of an action that
	// carries the position of the item in the search answer it came from
	// (search.Clicks.PositionWeight: the clipped inverse of that position's
	// examination, experiment.Manager.PositionWeight). Training reads the
	// log with it, so the click-through features, the judgments the ranker
	// learns from and those the promotion check compares the new and the
	// serving version on all measure relevance rather than where the
	// serving version placed an item. Nil: plain counts. It is asked at
	// every training, so a refitted examination applies to the whole log.
	PositionWeight func(position int) float64
	// Online, when set, is the online promotion check (online.go): a new
	// version that ranks the held-out queries better than keyword ranking
	// while another serves does not replace it on those judgments; it
	// challenges it on live traffic, interleaved, until the check decides.
	// Nil: the offline check decides (beat keyword ranking, lose at most
	// Tolerance to the serving version), as before.
	Online *OnlineCheck
	// Now is the clock versions are stamped with (default time.Now); a
	// challenge counts the answers shown from its version's stamp on.
	Now func() time.Time
}

// OnlineCheck configures the online promotion check.
type OnlineCheck struct {
	// Tally counts the interleaved answers of the challenge duel (DuelName)
	// shown since since: experiment.Manager.Duel.
	Tally func(ctx context.Context, duel string, since time.Time) (Tally, error)
	// Alpha is the error the sequential sign test allows (default 0.05).
	Alpha float64
	// MaxDecided is how many decided answers a challenge gets before the
	// sign of wins − losses decides it (SequentialSignTest; default 200).
	MaxDecided int
}

func (c *Config) defaults() {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.MinQueries <= 0 {
		c.MinQueries = 30
	}
	if c.ValidShare <= 0 || c.ValidShare >= 1 {
		c.ValidShare = 0.25
	}
	if c.Tolerance <= 0 {
		c.Tolerance = 0.01
	}
	if c.MaxEvents <= 0 {
		c.MaxEvents = 1_000_000
	}
	if c.MaxGain <= 0 {
		c.MaxGain = 6
	}
	if c.Window <= 0 {
		c.Window = search.NewClicks().Window
	}
	if c.PopularityWeight == nil {
		c.PopularityWeight = pipeline.DefaultPreprocess().EventWeight
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if o := c.Online; o != nil {
		oc := *o
		if !(oc.Alpha > 0 && oc.Alpha < 1) {
			oc.Alpha = 0.05
		}
		if oc.MaxDecided <= 0 {
			oc.MaxDecided = DefaultMaxDecided
		}
		c.Online = &oc
	}
}

// Learner trains, stores and serves the search ranker. Its methods are
// safe for concurrent use; one training runs at a time.
type Learner struct {
	ix  *search.Index
	st  Store
	cfg Config
	log *slog.Logger
	mu  sync.Mutex
	// serving is the version the index ranks with, 0 when none.
	serving atomic.Int64
	// challenger is the version on trial by interleaving, nil when none
	// (Config.Online).
	challenger atomic.Pointer[Challenger]
}

// Challenger is a version on trial against the serving one: a share of
// first search pages interleaves the two (api), and the online check
// decides from the answers' clicks (Config.Online).
type Challenger struct {
	// Version is the challenger's, Against the serving version's.
	Version, Against int
	// Duel names the challenge: the interleaved answers' impressions carry
	// it as their experiment (DuelName).
	Duel string
	// Since is when the challenge began (the version's creation).
	Since time.Time
	// Ranker ranks as the challenger does (search.Request.Ranker).
	Ranker search.Ranker
}

// Challenger returns the version on trial, nil when none.
func (l *Learner) Challenger() *Challenger { return l.challenger.Load() }

// New returns a learner for ix over st.
// SetExcludeEvent sets Config.ExcludeEvent (call before training starts).
func (l *Learner) SetExcludeEvent(f func(events.Event) bool) { l.cfg.ExcludeEvent = f }

func New(ix *search.Index, st Store, cfg Config, log *slog.Logger) *Learner {
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Learner{ix: ix, st: st, cfg: cfg, log: log}
}

// Name is the model name its versions are stored under.
func (l *Learner) Name() string { return l.cfg.Name }

// ErrNotEnoughData reports that the search log holds too little feedback
// to train; the index keeps its current ranking.
var ErrNotEnoughData = errors.New("not enough search feedback to train the search ranker")

// Load makes the stored serving version (if any) rank searches.
func (l *Learner) Load(ctx context.Context) error {
	if l.cfg.Off {
		return nil
	}
	metas, err := l.st.ListModels(ctx, l.cfg.Name)
	if err != nil {
		return fmt.Errorf("list %s versions: %w", l.cfg.Name, err)
	}
	for i := len(metas) - 1; i >= 0; i-- {
		if metas[i].Status == store.StatusServing {
			if err := l.activate(ctx, metas[i]); err != nil {
				return err
			}
			l.log.Info("search ranker serving", "model", l.cfg.Name, "version", metas[i].Version)
			return l.loadChallenger(ctx, metas, metas[i].Version)
		}
	}
	return nil
}

// challengesKey is the metric a challenger's stored metadata names the
// serving version it challenges by: a restart resumes the challenge (its
// answers and clicks are in the impression log).
const challengesKey = "challenges version"

// loadChallenger resumes the challenge of the newest candidate stored to
// challenge the serving version (Config.Online), if any.
func (l *Learner) loadChallenger(ctx context.Context, metas []store.ModelMeta, serving int) error {
	l.challenger.Store(nil)
	if l.cfg.Online == nil {
		return nil
	}
	for i := len(metas) - 1; i >= 0; i-- {
		mm := metas[i]
		if mm.Version <= serving {
			break
		}
		if mm.Status != store.StatusCandidate || mm.Metrics[challengesKey] != float64(serving) {
			continue
		}
		m, err := l.readModel(ctx, mm)
		if err != nil { // the serving version serves; the challenge ends
			l.log.Warn("the search ranker's challenger cannot load; its challenge is dropped", "version", mm.Version, "error", err)
			return l.reject(ctx, mm.Version, "cannot load: "+err.Error())
		}
		l.challenger.Store(&Challenger{Version: mm.Version, Against: serving, Duel: DuelName(l.cfg.Name, mm.Version), Since: mm.CreatedAt, Ranker: clickScoped{m}})
		l.log.Info("search ranker challenge resumed", "model", l.cfg.Name, "version", mm.Version, "serving", serving)
		return nil
	}
	return nil
}

func (l *Learner) readModel(ctx context.Context, meta store.ModelMeta) (*ltr.Model, error) {
	var m *ltr.Model
	err := l.st.ReadModel(ctx, meta.Name, meta.Version, func(_ store.ModelMeta, r io.Reader) error {
		var err error
		m, err = ltr.Load(r)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load %s@%d: %w", meta.Name, meta.Version, err)
	}
	if err := m.Check(search.FeatureNames()); err != nil {
		return nil, fmt.Errorf("%s@%d: %w", meta.Name, meta.Version, err)
	}
	return m, nil
}

func (l *Learner) activate(ctx context.Context, meta store.ModelMeta) error {
	var m *ltr.Model
	err := l.st.ReadModel(ctx, meta.Name, meta.Version, func(_ store.ModelMeta, r io.Reader) error {
		var err error
		m, err = ltr.Load(r)
		return err
	})
	if err != nil {
		return fmt.Errorf("load %s@%d: %w", meta.Name, meta.Version, err)
	}
	if err := l.ix.SetRanker(clickScoped{m}); err != nil {
		return fmt.Errorf("%s@%d: %w", meta.Name, meta.Version, err)
	}
	l.serving.Store(int64(meta.Version))
	return nil
}

// ServingVersion is the version the index ranks with now, 0 when none
// (nothing trained yet, or the stored serving version failed to load).
func (l *Learner) ServingVersion() int { return int(l.serving.Load()) }

// Rollback makes the version that served before the current one serve
// again.
func (l *Learner) Rollback(ctx context.Context) (store.ModelMeta, error) {
	if l.cfg.Off {
		return store.ModelMeta{}, fmt.Errorf("%s: learned search ranking is off (search.learn_ranking): %w", l.cfg.Name, store.ErrNoRollback)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.challenger.Store(nil) // a challenge of the version rolled back ends (Train marks it)
	return store.RollbackVersion(ctx, l.st, l.cfg.Name, func(m store.ModelMeta) error { return l.activate(ctx, m) })
}

// RunOnce trains a new version from the search log and promotes it when
// it ranks the held-out queries better than keyword ranking and not worse
// than the serving version, and reports it as a training result. Too
// little feedback is not an error: the result says so and nothing is
// stored.
func (l *Learner) RunOnce(ctx context.Context) (pipeline.Result, error) {
	if l.cfg.Off {
		return pipeline.Result{}, nil
	}
	start := time.Now()
	rep, err := l.Train(ctx)
	res := pipeline.Result{Model: l.cfg.Name, TrainSeconds: time.Since(start).Seconds()}
	switch {
	case errors.Is(err, ErrNotEnoughData):
		l.log.Info("search ranker not trained", "reason", err)
		res.Reason = err.Error()
		return res, nil
	case err != nil:
		res.Error = err.Error()
		return res, err
	}
	if rep.Version == 0 { // a challenge still undecided: nothing trained
		res.Reason = rep.Note
		return res, nil
	}
	res.Trained, res.Version = true, rep.Version
	res.Metrics = map[string]float64{"NDCG@10": rep.NDCG, "keyword NDCG@10": rep.Keyword}
	res.Reason = fmt.Sprintf("validation nDCG@10 %.4f vs keyword ranking %.4f on %d held-out queries", rep.NDCG, rep.Keyword, rep.Valid)
	if !rep.Serving {
		res.Reason += "; not serving: " + rep.Note
	}
	return res, nil
}

// Report describes one training run.
type Report struct {
	Version int  // stored version, 0 when nothing was stored
	Serving bool // the new version now serves
	// Queries and Valid count the judged queries trained and validated on.
	Queries, Valid int
	// NDCG, Keyword and Previous are the validation nDCG@10 of the new
	// model, of keyword ranking and of the serving version (-1: none).
	NDCG, Keyword, Previous float64
	Note                    string
	// Settled is the challenge the online check looked at before this
	// training (nil: none); Challenging is true when the new version
	// now challenges the serving one (Config.Online).
	Settled     *Settled
	Challenging bool
}

// Settled is what the online check said of a challenge.
type Settled struct {
	Version, Against int
	Tally            Tally
	Verdict          Verdict
	LogLR            float64 // log Λ of SequentialSignTest
}

// Train runs one training and promotion; see RunOnce.
func (l *Learner) Train(ctx context.Context) (Report, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	start := time.Now()
	rep := Report{Previous: -1}
	if ch := l.challenger.Load(); ch != nil {
		done, err := l.settle(ctx, ch, &rep)
		if err != nil || !done {
			return rep, err // still interleaving: no new version meanwhile
		}
	}
	if vs := l.ix.VectorStats(); (vs.Pending+vs.Retrying)*100 > max(1, vs.WithVector+vs.Pending+vs.Retrying) {
		// semantic features would be 0 for the items still waiting, and the
		// model would learn that from them; a straggler or two (under 1 %)
		// does not hold training up
		return rep, fmt.Errorf("%w yet: %d items are still waiting for their vectors", ErrNotEnoughData, vs.Pending+vs.Retrying)
	}
	train, valid, actions, err := l.judgedQueries(ctx)
	if err != nil {
		return rep, err
	}
	if len(train)+len(valid) < l.cfg.MinQueries {
		return rep, fmt.Errorf("%w: %d queries with clicks, carts or purchases in the newer half of the search log have a judged result among their candidates, need %d", ErrNotEnoughData, len(train)+len(valid), l.cfg.MinQueries)
	}
	rep.Queries, rep.Valid = len(train), len(valid)
	p := ltr.DefaultParams(search.FeatureNames())
	p.BaseFeature = search.LTRBaseFeature // learn corrections to keyword ranking
	if l.cfg.Params != nil {
		p = *l.cfg.Params
		p.Features = search.FeatureNames()
	}
	// the model size is chosen by cross-validation inside the training
	// queries, so the held-out ones judge the final model untouched
	m, err := ltr.TrainCV(ctx, train, p, 5)
	if err != nil {
		return rep, fmt.Errorf("train the search ranker: %w", err)
	}
	rep.NDCG = ltr.MeanNDCG(m.Score, valid, 10)
	rep.Keyword = ltr.MeanNDCG(keywordScore(), valid, 10)
	if cur := l.ix.Ranker(); cur != nil {
		rep.Previous = ltr.MeanNDCG(cur.Score, valid, 10)
	}
	// with the online check, a version that beats keyword ranking while
	// another serves challenges it on live traffic rather than on the
	// held-out judgments, which favour the version that collected them
	against := l.ServingVersion()
	challenge := l.cfg.Online != nil && rep.Previous >= 0 && against > 0 && rep.NDCG > rep.Keyword
	var blob bytes.Buffer
	if err := m.Save(&blob); err != nil {
		return rep, fmt.Errorf("encode the search ranker: %w", err)
	}
	meta := store.ModelMeta{
		Name:      l.cfg.Name,
		Params:    map[string]float64{"trees": float64(p.Trees), "learning_rate": p.LearningRate, "max_leaves": float64(p.MaxLeaves), "min_queries": float64(l.cfg.MinQueries)},
		Metrics:   map[string]float64{"NDCG@10": rep.NDCG, "keyword NDCG@10": rep.Keyword, "train queries": float64(len(train)), "validation queries": float64(len(valid))},
		Items:     l.ix.Len(),
		Events:    actions,
		CreatedAt: l.cfg.Now().UTC(),
		TrainSecs: time.Since(start).Seconds(),
		Status:    store.StatusCandidate,
		Size:      int64(blob.Len()),
	}
	if rep.Previous >= 0 {
		meta.Metrics["serving NDCG@10"] = rep.Previous
	}
	if challenge {
		meta.Metrics[challengesKey] = float64(against)
	}
	if rep.Version, err = l.st.SaveModel(ctx, meta, blob.Bytes()); err != nil {
		return rep, fmt.Errorf("store the search ranker: %w", err)
	}
	if challenge {
		l.challenger.Store(&Challenger{Version: rep.Version, Against: against, Duel: DuelName(l.cfg.Name, rep.Version), Since: meta.CreatedAt, Ranker: clickScoped{m}})
		rep.Challenging = true
		rep.Note = fmt.Sprintf("challenges version %d by interleaving (validation nDCG@10 %.4f vs the serving version's %.4f on judgments it collected)", against, rep.NDCG, rep.Previous)
		l.log.Info("search ranker trained; challenges the serving version", "version", rep.Version, "serving", against, "ndcg", rep.NDCG,
			"keyword_ndcg", rep.Keyword, "serving_ndcg", rep.Previous, "queries", rep.Queries, "validation", rep.Valid)
		return rep, nil
	}
	rep.Serving, err = store.PromoteVersion(ctx, l.st, l.cfg.Name, rep.Version,
		func(store.ModelMeta, *store.ModelMeta) (bool, string) {
			if rep.NDCG <= rep.Keyword {
				rep.Note = fmt.Sprintf("validation nDCG@10 %.4f is not better than keyword ranking's %.4f", rep.NDCG, rep.Keyword)
				return false, rep.Note
			}
			if rep.Previous >= 0 && rep.NDCG < rep.Previous*(1-l.cfg.Tolerance) {
				rep.Note = fmt.Sprintf("validation nDCG@10 %.4f is worse than the serving version's %.4f", rep.NDCG, rep.Previous)
				return false, rep.Note
			}
			return true, ""
		},
		func(meta store.ModelMeta) error {
			if meta.Version != rep.Version { // the previous version, back after a failed status write
				return l.activate(ctx, meta)
			}
			if err := l.ix.SetRanker(clickScoped{m}); err != nil {
				return err
			}
			l.serving.Store(int64(meta.Version))
			return nil
		})
	if err != nil {
		return rep, err
	}
	l.log.Info("search ranker trained", "version", rep.Version, "serving", rep.Serving, "ndcg", rep.NDCG,
		"keyword_ndcg", rep.Keyword, "queries", rep.Queries, "validation", rep.Valid, "note", rep.Note)
	return rep, nil
}

// judgedQueries reads the search log and returns the queries shoppers
// acted on in its newer half, with their candidates' features (from the
// older half) and labels, split into those the ranker trains on and those
// the promotion check validates the new and the serving version on; and
// the count of actions read. Labels and click-through features weigh an
// action by Config.PositionWeight when it is set.
func (l *Learner) judgedQueries(ctx context.Context) (train, valid []ltr.Query, actions int, err error) {
	split, err := l.splitLog(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	sig := search.Signals{Clicks: split.feat}
	if l.cfg.Popularity != nil {
		sig.Popularity = split.popularity
	}
	train, valid, err = l.queries(ctx, split.label.Judgments(), sig)
	return train, valid, split.actions, err
}

// logSplit is the search log split in time: click-through and popularity
// features from before the cut, judgments from after it.
type logSplit struct {
	feat, label *search.Clicks
	// popularity is Config.Popularity's measure over the events before
	// the cut.
	popularity func(itemID string) float64
	actions    int // actions after searches read
}

// splitLog reads the search log and the actions that followed searches,
// and splits it at the median search time: click-through features learn
// from the older half, judgments from the newer half. A second pass over
// the log counts every event before the cut for the popularity feature.
func (l *Learner) splitLog(ctx context.Context) (logSplit, error) {
	var sp logSplit
	var evs []events.Event
	newest := func() { // keep the newest MaxEvents, in time order
		sort.SliceStable(evs, func(a, b int) bool { return evs[a].Timestamp.Before(evs[b].Timestamp) })
		if len(evs) > l.cfg.MaxEvents {
			evs = slices.Delete(evs, 0, len(evs)-l.cfg.MaxEvents)
		}
	}
	err := l.st.ScanEvents(ctx, 0, func(e events.Event) error {
		if e.SessionID == "" || (l.cfg.ExcludeUser != nil && l.cfg.ExcludeUser(e.UserID)) || (e.RequestID != "" && l.cfg.ExcludeEvent != nil && l.cfg.ExcludeEvent(e)) {
			return nil
		}
		switch e.Type {
		case events.Search:
			if strings.TrimSpace(e.Query) == "" {
				return nil
			}
		case events.Click, events.AddToCart, events.Purchase:
		default:
			return nil
		}
		e.Value, e.UserID = nil, "" // not needed: keep the memory small
		evs = append(evs, e)
		if len(evs) >= 2*l.cfg.MaxEvents {
			newest()
		}
		return nil
	})
	if err != nil {
		return sp, fmt.Errorf("read the search log: %w", err)
	}
	newest()
	var searchTimes []int64
	for _, e := range evs {
		if e.Type == events.Search {
			searchTimes = append(searchTimes, e.Timestamp.UnixNano())
		} else {
			sp.actions++
		}
	}
	if len(searchTimes) < 2*l.cfg.MinQueries {
		return sp, fmt.Errorf("%w: %d searches with a session in the log, need at least %d", ErrNotEnoughData, len(searchTimes), 2*l.cfg.MinQueries)
	}
	slices.Sort(searchTimes)
	cut := time.Unix(0, searchTimes[len(searchTimes)/2])
	sp.feat, sp.label = search.NewClicks(), search.NewClicks()
	sp.feat.Window, sp.label.Window = l.cfg.Window, l.cfg.Window
	sp.feat.PositionWeight, sp.label.PositionWeight = l.cfg.PositionWeight, l.cfg.PositionWeight
	for _, e := range evs {
		if e.Timestamp.Before(cut) {
			sp.feat.Record(e)
		} else {
			sp.label.Record(e)
		}
	}
	if l.cfg.Popularity != nil {
		if sp.popularity, err = l.popularityBefore(ctx, cut); err != nil {
			return sp, err
		}
	}
	return sp, nil
}

// popularityBefore is log(1 + weighted interactions before cut) / log(1 +
// the largest such sum), per item.
func (l *Learner) popularityBefore(ctx context.Context, cut time.Time) (func(string) float64, error) {
	sums := map[string]float64{}
	err := l.st.ScanEvents(ctx, 0, func(e events.Event) error {
		if e.ItemID == "" || !e.Timestamp.Before(cut) {
			return nil
		}
		if w := l.cfg.PopularityWeight(e.Type, e.Value); w > 0 {
			sums[e.ItemID] += w
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the event log for popularity: %w", err)
	}
	top := 0.0
	for _, v := range sums {
		top = max(top, v)
	}
	pop := make(map[string]float64, len(sums))
	if top > 0 {
		for id, v := range sums {
			pop[id] = math.Log1p(v) / math.Log1p(top)
		}
	}
	return func(id string) float64 { return pop[id] }, nil
}

// queries turns judgments into training queries: each query's candidates
// (as the index retrieves them now) with their features, labelled with
// the capped action weights. Queries none of whose judged items are among
// the candidates teach nothing and are dropped. A hash of the query text
// picks the validation share, so a query stays on its side across runs.
func (l *Learner) queries(ctx context.Context, judged []search.Judgment, sig search.Signals) (train, valid []ltr.Query, err error) {
	for _, j := range judged {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		cands, err := l.ix.CandidatesWith(ctx, search.Request{Query: j.Query, NoHighlights: true}, sig)
		if err != nil {
			return nil, nil, fmt.Errorf("candidates of %q: %w", j.Query, err)
		}
		q := ltr.Query{ID: j.Query}
		pos := 0
		for _, c := range cands {
			g := math.Min(j.Gains[c.ID], l.cfg.MaxGain)
			if g > 0 {
				pos++
			}
			q.Features = append(q.Features, c.Features)
			q.Labels = append(q.Labels, g)
		}
		if pos == 0 {
			continue
		}
		if inValidation(j.Query, l.cfg.ValidShare) {
			valid = append(valid, q)
		} else {
			train = append(train, q)
		}
	}
	if len(valid) == 0 && len(train) > 1 { // tiny logs: keep one query aside
		valid, train = train[len(train)-1:], train[:len(train)-1]
	}
	return train, valid, nil
}

func inValidation(q string, share float64) bool {
	h := fnv.New64a()
	h.Write([]byte(q))
	return float64(h.Sum64()%10000)/10000 < share
}

// keywordScore ranks candidates as keyword search does: by the reciprocal
// of their keyword rank (semantic-only candidates, at 0, keep their order).
func keywordScore() func([]float32) float64 {
	k := slices.Index(search.FeatureNames(), "keyword_rrank")
	return func(f []float32) float64 { return float64(f[k]) }
}

// clickScoped marks a ranker learned from clicks: the index uses it only
// for queries with click history (see search.ClickScoped).
type clickScoped struct{ *ltr.Model }

func (clickScoped) ClickScoped() bool { return true }

// settle asks the online check about challenge ch and acts on its verdict:
// promote the challenger, reject it, or (false) keep interleaving. A
// challenge whose serving version no longer serves (rolled back, or
// another promoted on another path) is rejected unasked.
func (l *Learner) settle(ctx context.Context, ch *Challenger, rep *Report) (bool, error) {
	o := l.cfg.Online
	if o == nil || l.ServingVersion() != ch.Against {
		l.challenger.Store(nil)
		return true, l.reject(ctx, ch.Version, fmt.Sprintf("version %d it challenged no longer serves", ch.Against))
	}
	t, err := o.Tally(ctx, ch.Duel, ch.Since)
	if err != nil {
		return false, fmt.Errorf("count the interleaved answers of %s: %w", ch.Duel, err)
	}
	v, llr := SequentialSignTest(t, o.Alpha, o.MaxDecided)
	rep.Settled = &Settled{Version: ch.Version, Against: ch.Against, Tally: t, Verdict: v, LogLR: llr}
	desc := fmt.Sprintf("interleaved with version %d: %d answers favour it, %d the serving version, %d tie (log Λ %.2f, decides at %.2f)",
		ch.Against, t.Wins, t.Losses, t.Ties, llr, math.Log(1/o.Alpha))
	switch v {
	case Undecided:
		rep.Note = fmt.Sprintf("version %d still %s", ch.Version, desc)
		return false, nil
	case Reject:
		l.challenger.Store(nil)
		l.log.Info("search ranker challenge rejected", "version", ch.Version, "serving", ch.Against, "wins", t.Wins, "losses", t.Losses, "ties", t.Ties)
		return true, l.reject(ctx, ch.Version, "not preferred: "+desc)
	}
	_, err = store.PromoteVersion(ctx, l.st, l.cfg.Name, ch.Version,
		func(store.ModelMeta, *store.ModelMeta) (bool, string) { return true, "" },
		func(meta store.ModelMeta) error {
			if meta.Version != ch.Version { // the previous version, back after a failed status write
				return l.activate(ctx, meta)
			}
			if err := l.ix.SetRanker(ch.Ranker); err != nil {
				return err
			}
			l.serving.Store(int64(meta.Version))
			return nil
		})
	l.challenger.Store(nil)
	if err != nil {
		return true, fmt.Errorf("promote %s@%d after its challenge: %w", l.cfg.Name, ch.Version, err)
	}
	l.log.Info("search ranker challenge won: promoted", "version", ch.Version, "serving", ch.Against, "wins", t.Wins, "losses", t.Losses, "ties", t.Ties)
	return true, nil
}

// reject marks a stored version rejected with note.
func (l *Learner) reject(ctx context.Context, version int, note string) error {
	metas, err := l.st.ListModels(ctx, l.cfg.Name)
	if err != nil {
		return fmt.Errorf("list %s versions: %w", l.cfg.Name, err)
	}
	for _, mm := range metas {
		if mm.Version == version && mm.Status == store.StatusCandidate {
			mm.Status, mm.Note = store.StatusRejected, note
			return l.st.UpdateModelMeta(ctx, mm)
		}
	}
	return nil
}
