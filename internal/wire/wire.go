// Package wire builds Aisle's parts from a config.Config: the store and the
// engine, the recommendation service and its retrainer, the search index
// with its embedder, click model and learned ranker. It is shared by the
// composition root (package aisle, which also starts and stops them) and
// by the commands that need the same parts without a server (aisle train).
// Each function only builds; none starts a goroutine that outlives it.
package wire

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/embed"
	"github.com/aisle-dev/aisle/embed/embedders"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/experiment"
	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/pipeline"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/search/analysis"
	"github.com/aisle-dev/aisle/search/ranking"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/boltstore"
	"github.com/aisle-dev/aisle/store/pgstore"
)

// Store is what a store opened by OpenStore offers: every store interface
// and item vectors.
type Store interface {
	store.Store
	store.Vectors
	store.Merch // rules, campaigns, the ad spend ledger
}

// OpenStore opens the store the config names: PostgreSQL when cfg.Store is
// a postgres:// URL (applying its schema migrations), else the embedded
// store in the data directory cfg.Data.
// pool, when given, is a PostgreSQL pool shared by the shops of a process
// (pgstore.OpenPool): the shop's store is opened on it instead of a pool
// of its own.
func OpenStore(ctx context.Context, cfg config.Config, pool ...*pgxpool.Pool) (Store, error) {
	if cfg.Store == "" {
		return boltstore.Open(cfg.Data)
	}
	if !pgstore.IsURL(cfg.Store) {
		return nil, fmt.Errorf("config store %q: want a postgres:// URL (or leave it empty to keep data in the data directory %s)", cfg.Store, cfg.Data)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// each shop of a deployment keeps its rows apart in the shared database
	if len(pool) > 0 && pool[0] != nil {
		return pgstore.OpenShared(ctx, pool[0], pgstore.Options{Shop: cfg.Shop})
	}
	return pgstore.Open(ctx, cfg.Store, pgstore.Options{Shop: cfg.Shop})
}

// OpenEngine opens the store the config names (see OpenStore) and builds
// an engine on it (on pool, when given: see OpenStore). The caller closes
// the store.
func OpenEngine(cfg config.Config, log *slog.Logger, pool ...*pgxpool.Pool) (*engine.Engine, Store, error) {
	st, err := OpenStore(context.Background(), cfg, pool...)
	if err != nil {
		return nil, nil, err
	}
	if bs, ok := st.(*boltstore.Store); ok && log != nil {
		if c := bs.StartCheck(); c.Took > 0 {
			// every page after a crash, the meta pages after a clean close (decision 0085)
			log.Info("store: data file checked", "every_page", c.Full, "took", c.Took.Round(time.Millisecond))
		}
	}
	types, err := events.NewTypes(cfg.Events.CustomTypes...)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	if rs := cfg.Events.RatingScale; len(rs) > 0 {
		if len(rs) != 2 {
			st.Close()
			return nil, nil, fmt.Errorf("config events.rating_scale %v: want [lo, hi], such as [1, 5]", rs)
		}
		if err := types.SetRatingScale(rs[0], rs[1]); err != nil {
			st.Close()
			return nil, nil, fmt.Errorf("config events.rating_scale: %w", err)
		}
	}
	eng, err := engine.New(engine.Options{Store: st, Types: types, Logger: log, AcceptUnknownItems: cfg.Events.AcceptUnknownItems})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return eng, st, nil
}

// TrainOptions turns the config into pipeline options.
func TrainOptions(cfg config.Config) (pipeline.Options, error) {
	p := pipeline.DefaultPreprocess()
	for t, w := range cfg.Events.Weights {
		p.Weights[events.Type(t)] = w
	}
	tc := cfg.Training
	if tc.DedupWindow != nil {
		p.DedupWindow = *tc.DedupWindow
	}
	if tc.MaxEventsPerMinute != nil {
		p.MaxEventsPerMinute = *tc.MaxEventsPerMinute
	}
	if tc.MaxSessionViews != nil {
		p.MaxSessionViews = *tc.MaxSessionViews
	}
	p.HalfLife, p.MinUserItems, p.MinItemUsers = tc.HalfLife, tc.MinUserItems, tc.MinItemUsers
	opts := pipeline.Options{Preprocess: p, ValidationUsers: tc.ValidationUsers, SkipRefit: tc.SkipRefit}
	var err error
	if opts.Models, err = modelSpecs("training.models", tc.Models); err != nil {
		return opts, err
	}
	bg := pipeline.Background{Budget: tc.BackgroundBudget, Threads: tc.BackgroundThreads, TuneEvery: tc.TuneEvery, TuneBudget: tc.TuneBudget}
	if bg.Models, err = modelSpecs("training.background_models", tc.BackgroundModels); err != nil {
		return opts, err
	}
	opts.Background = bg
	return opts, nil
}

// modelSpecs turns the config's model list (at key) into training specs.
func modelSpecs(key string, models []config.Model) ([]pipeline.Spec, error) {
	var specs []pipeline.Spec
	for _, m := range models {
		spec := pipeline.Spec{Name: m.Name, Params: model.Params(m.Params)}
		if len(m.Requirements) > 0 {
			req := pipeline.DefaultRequirements(m.Name)
			for k, v := range m.Requirements {
				switch k {
				case "min_users":
					req.MinUsers = int(v)
				case "min_items":
					req.MinItems = int(v)
				case "min_interactions":
					req.MinInteractions = int(v)
				case "min_density":
					req.MinDensity = v
				case "max_items":
					req.MaxItems = int(v)
				case "min_avg_row":
					req.MinAvgRow = v
				case "needs_ratings":
					req.NeedsRatings = int(v)
				case "min_seq_users":
					req.MinSeqUsers = int(v)
				case "min_order_signal":
					req.MinOrderSignal = v
				default:
					return nil, fmt.Errorf("config: %s[%s].requirements: unknown key %q", key, m.Name, k)
				}
			}
			spec.Requirements = &req
		}
		specs = append(specs, spec)
	}
	return specs, nil
}

// NewRecommender builds the recommendation service and its retrainer from
// the config.
func NewRecommender(cfg config.Config, eng *engine.Engine, log *slog.Logger) (*recommend.Service, *recommend.Retrainer, error) {
	opts, err := TrainOptions(cfg)
	if err != nil {
		return nil, nil, err
	}
	opts.Logger = log
	rc := cfg.Recommend
	weights := opts.Preprocess
	var exclude []events.Type
	for _, t := range rc.ExcludeTypes {
		if !eng.Types().Has(events.Type(t)) {
			return nil, nil, fmt.Errorf("config: recommend.exclude_types: unknown event type %q", t)
		}
		exclude = append(exclude, events.Type(t))
	}
	svc := recommend.New(eng.Store(), recommend.Config{
		Weight:           weights.EventWeight,
		ExcludeTypes:     exclude,
		HistoryLen:       rc.HistoryLen,
		MaxHistory:       rc.MaxHistory,
		Primary:          rc.Primary,
		AffinityBoost:    rc.AffinityBoost,
		RecencyHalfLife:  rc.RecencyHalfLife,
		TimeHalfLife:     rc.TimeHalfLife,
		PromoteTolerance: rc.PromoteTolerance,
		ANNThreshold:     rc.ANNThreshold,
		Vectors:          rc.Vectors,
		ModelVectors:     rc.ModelVectors,
		IndexDir:         indexDir(cfg),
		SnapshotDir:      SnapshotDir(cfg),
		SnapshotEvery:    rc.SnapshotEvery,
	}, log)
	rt := svc.NewRetrainer(rc.RetrainEvery, rc.RetrainAfterEvents, opts)
	rt.Quiet = rc.RetrainQuiet
	return svc, rt, nil
}

// indexDir is where the recommender saves its nearest-neighbour indexes:
// beside the data ("" without a data directory: indexes are built at every
// load).
func indexDir(cfg config.Config) string {
	if cfg.Data == "" {
		return ""
	}
	return filepath.Join(cfg.Data, "ann")
}

// SnapshotDir is where the recommender's snapshots of its counts are kept
// (decision 0040): beside the data ("" without a data directory: every
// start replays the whole log).
func SnapshotDir(cfg config.Config) string {
	if cfg.Data == "" {
		return ""
	}
	return filepath.Join(cfg.Data, "snapshots")
}

// NewSearchIndex builds the product search index from the config: keyword
// search always; semantic and hybrid modes when an embedder is configured.
// The mode it returns is the default of requests: ltr when the ranker is
// learned (the index falls back to the configured mode until a learned
// version serves). Item vectors are computed in the background and kept
// in vectors, so a restart embeds only new and changed items.
func NewSearchIndex(ctx context.Context, cfg config.Config, log *slog.Logger, vectors store.Vectors) (*search.Index, search.Mode, error) {
	sc := cfg.Search
	opts := search.Options{Logger: log, Vectors: vectors, EmbedWorkers: sc.EmbedWorkers, EmbedBatch: sc.EmbedBatch,
		Float32Vectors: sc.Vectors == "float32", IndexDir: indexDir(cfg)}
	if sc.JapaneseHan {
		opts.Registry = analysis.NewRegistry(analysis.Options{JapaneseHan: true})
	}
	if sc.Embedder != "" && sc.Embedder != "none" {
		emb, err := embedders.New(embedders.Config{Kind: sc.Embedder, URL: sc.EmbedderURL, Model: sc.EmbedderModel, Dim: sc.EmbedderDim, APIKey: sc.EmbedderKey, Logger: log})
		if err != nil {
			return nil, "", fmt.Errorf("config search.embedder: %w", err)
		}
		// A remote model tells its dimension on its first answer; the
		// stored vectors are keyed by it, so ask now rather than re-embed.
		if p, ok := emb.(interface {
			Probe(context.Context) (int, error)
		}); ok && emb.Dim() == 0 {
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if _, err := p.Probe(pctx); err != nil {
				log.Warn("embedder not reachable; items stay keyword-only until it answers (set search.embedder_dim to reuse stored vectors)", "err", err)
			}
			cancel()
		}
		opts.Embedder = emb
		opts.QueryEmbedder = embed.NewCache(emb, 10000)
	}
	mode := search.ModeKeyword
	if sc.Mode != "" {
		m, err := search.ParseMode(sc.Mode)
		if err != nil {
			return nil, "", fmt.Errorf("config search.mode: %w", err)
		}
		if (m == search.ModeSemantic || m == search.ModeHybrid) && opts.Embedder == nil {
			return nil, "", fmt.Errorf("config search.mode %s needs search.embedder (use-lite, openai, hash)", m)
		}
		if m == search.ModeLTR && sc.LearnRanking != nil && !*sc.LearnRanking {
			// no ranker would ever be trained or loaded: every search would
			// quietly run in keyword mode
			return nil, "", fmt.Errorf("config search.mode ltr needs search.learn_ranking: true")
		}
		mode = m
	}
	scfg, err := SearchConfig(sc)
	if err != nil {
		return nil, "", err
	}
	if mode != search.ModeLTR {
		scfg.DefaultMode = mode
	}
	if sc.LearnRanking == nil || *sc.LearnRanking {
		mode = search.ModeLTR
	}
	ix, err := search.NewIndex(scfg, opts)
	return ix, mode, err
}

// SearchConfig applies the config file's search settings to the engine's
// defaults.
func SearchConfig(sc config.Search) (search.Config, error) {
	c := search.DefaultConfig()
	if len(sc.Synonyms) > 0 {
		c.Synonyms = sc.Synonyms
	}
	for name, w := range sc.FieldWeights {
		f, ok := search.FieldByName(name)
		if !ok {
			return c, fmt.Errorf("config search.field_weights: unknown field %q (want title, brand, categories, attributes or description)", name)
		}
		c.FieldWeights[f] = w
	}
	if sc.Fusion.Method != "" {
		c.Fusion.Method = sc.Fusion.Method
	}
	if sc.Fusion.Norm != "" {
		c.Fusion.Norm = sc.Fusion.Norm
	}
	if sc.Fusion.Alpha != nil {
		c.Fusion.Alpha = *sc.Fusion.Alpha
	}
	if sc.Fusion.Gate != nil {
		c.Fusion.Gate = *sc.Fusion.Gate
	}
	if sc.Fusion.RRFK < 0 || sc.Fusion.Depth < 0 {
		return c, fmt.Errorf("config search.fusion: rrf_k (%g) and depth (%d) must be ≥ 0 (0 keeps the default)", sc.Fusion.RRFK, sc.Fusion.Depth)
	}
	if sc.Fusion.RRFK > 0 {
		c.Fusion.RRFK = sc.Fusion.RRFK
	}
	if sc.Fusion.Depth > 0 {
		c.Fusion.Depth = sc.Fusion.Depth
	}
	if sc.BoostWeight != nil {
		c.BoostWeight = *sc.BoostWeight
	}
	if (sc.SuggestMinShoppers != nil && *sc.SuggestMinShoppers < 0) || sc.SuggestMaxQueries < 0 {
		return c, fmt.Errorf("config search: suggest_min_shoppers and suggest_max_queries must be ≥ 0")
	}
	if sc.SuggestMinShoppers != nil {
		c.SuggestMinShoppers = *sc.SuggestMinShoppers
	}
	if sc.SuggestMaxQueries > 0 {
		c.SuggestMaxQueries = sc.SuggestMaxQueries
	}
	if len(sc.SuggestBlock) > 0 {
		c.SuggestBlock = sc.SuggestBlock
	}
	c.SuggestTrustClientIDs = sc.SuggestTrustClientIDs
	if len(sc.PriceRanges) > 0 {
		c.PriceRanges = nil
		for _, r := range sc.PriceRanges {
			c.PriceRanges = append(c.PriceRanges, search.PriceRange{Min: r[0], Max: r[1]})
		}
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("config search: %w", err)
	}
	return c, nil
}

// NewSearchRanker gives the index its ranking signals (popularity from
// svc, click-through from clicks) and returns the learner of its search
// ranker (inert when search.learn_ranking is off: its stored versions are
// still recognised as the ranker's). exp, the server's experiments and
// impression log (nil for aisle train), gives the learner its online
// promotion check (experiments.search_interleave_share: decision 0073) and
// the examination of search positions its clicks are weighed by.
func NewSearchRanker(cfg config.Config, ix *search.Index, eng *engine.Engine, svc *recommend.Service, clicks *search.Clicks, exp *experiment.Manager, log *slog.Logger) *ranking.Learner {
	ix.SetSignals(search.Signals{Popularity: svc.Popularity, Clicks: clicks})
	off := cfg.Search.LearnRanking != nil && !*cfg.Search.LearnRanking
	rc := ranking.Config{MinQueries: cfg.Search.RankingMinQueries, Popularity: svc.Popularity, Off: off,
		ExcludeUser: func(u string) bool { return !svc.Personalized(u) }} // consent (issue 12)
	if exp != nil && cfg.Experiments.SearchInterleaveShare > 0 {
		// a new version challenges the serving one on a share of live
		// searches, interleaved (api.Server.SetSearchChallenge); their
		// clicks, noted in the impression log, decide
		rc.Online = &ranking.OnlineCheck{Tally: func(ctx context.Context, duel string, since time.Time) (ranking.Tally, error) {
			t, err := exp.Duel(ctx, duel, since) // every replica's answers on a shared store
			return ranking.Tally{Wins: t.Wins, Losses: t.Losses, Ties: t.Ties}, err
		}}
	}
	if exp != nil && rc.Online != nil {
		// the learner weighs a click by the inverse of its position's
		// examination (features, judgments and the offline sanity check)
		// once θ of search comes from shuffled answers
		// (experiments.search_explore_share): with it and the online check
		// the served ranker measured at least as good as the server before
		// (nDCG@10 0.6747 against 0.6738 in BenchmarkESCIClickLearning, η = 2,
		// explore 0.2, seeds 1–3, on each seed; docs/benchmarks.md,
		// "Interleaved promotion of the search ranker"). Without exploration
		// θ is EM's, which made the learner worse (decision 0069): plain
		// clicks then.
		rc.PositionWeight = func(pos int) float64 {
			if p := exp.Propensities("search"); p != nil && p.Method == "randomised" {
				return p.Weight(pos)
			}
			return 1
		}
	}
	return ranking.New(ix, eng.Store(), rc, log)
}

// LoadSearch indexes the catalogue and subscribes the index and the click
// model (which learnt the event log through recommend.Service.Load) to
// changes; called while writes wait for readiness.
func LoadSearch(ctx context.Context, ix *search.Index, clicks *search.Clicks, eng *engine.Engine) error {
	if err := IndexCatalogue(ctx, ix, eng); err != nil {
		return err
	}
	SubscribeSearch(ix, clicks, eng)
	return nil
}

// IndexCatalogue indexes the catalogue for search (from the saved keyword
// index where it still holds, decision 0055). It reads only the items and
// their vectors, so a start runs it beside recommend.Service.Load.
func IndexCatalogue(ctx context.Context, ix *search.Index, eng *engine.Engine) error {
	start := time.Now()
	n, err := eng.Store().CountItems(ctx)
	if err != nil {
		n = 0 // only a hint: the scan is what counts
	}
	if err := ix.Load(ctx, n, func(fn func(catalog.Item) error) error { return eng.Store().ScanItems(ctx, fn) }); err != nil {
		return fmt.Errorf("index the catalogue for search: %w", err)
	}
	ix.Logger().Info("search index built", "items", ix.Len(), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// catalogueBatch is the items handed to the search index at a time by
// ReadCatalogue.
const catalogueBatch = 1024

// ReadCatalogue reads the catalogue once for a start: it returns every
// item (for recommend.Service.LoadWith) and indexes them for search as
// they are read, in a goroutine that goes on after it returns (from the
// saved keyword index where it still holds, decision 0055). indexed waits
// for that indexing and returns its result; call it on every path (it
// may be called more than once). Reading the store and decoding the
// items is the costlier half of a scan (at 1M products, ~4 CPU-s of
// JSON each), so one scan instead of one per reader (decision 0068); the
// items' strings are shared by the two. A failed read is returned here and
// ends the indexing with the same error (a partial catalogue is never
// taken for the whole one, nor saved).
func ReadCatalogue(ctx context.Context, ix *search.Index, eng *engine.Engine) (items []catalog.Item, indexed func() error, err error) {
	start := time.Now()
	n, cerr := eng.Store().CountItems(ctx)
	if cerr != nil {
		n = 0 // only a hint: the scan is what counts
	}
	feed := make(chan []catalog.Item, 4)
	quit := make(chan struct{}) // closed when the indexing returned
	var readErr error           // written before feed is closed
	result := make(chan error, 1)
	go func() {
		defer close(quit)
		err := ix.Load(ctx, n, func(fn func(catalog.Item) error) error {
			for b := range feed {
				for _, it := range b {
					if err := fn(it); err != nil {
						return err
					}
				}
			}
			return readErr
		})
		if err != nil {
			err = fmt.Errorf("index the catalogue for search: %w", err)
		} else {
			ix.Logger().Info("search index built", "items", ix.Len(), "took", time.Since(start).Round(time.Millisecond))
		}
		result <- err
	}()
	var res error
	done := false
	indexed = func() error {
		if !done {
			res, done = <-result, true
		}
		return res
	}
	items = make([]catalog.Item, 0, n)
	batch := make([]catalog.Item, 0, catalogueBatch)
	stopped := false // the indexing returned early: the items are still read
	send := func() {
		if len(batch) == 0 || stopped {
			return
		}
		select {
		case feed <- batch:
		case <-quit:
			stopped = true
		}
		batch = make([]catalog.Item, 0, catalogueBatch) // the index owns the one sent
	}
	readErr = eng.Store().ScanItems(ctx, func(it catalog.Item) error {
		items = append(items, it)
		batch = append(batch, it)
		if len(batch) == catalogueBatch {
			send()
		}
		return nil
	})
	if readErr == nil {
		send()
	} else {
		readErr = fmt.Errorf("read the catalogue: %w", readErr)
	}
	close(feed)
	if readErr != nil {
		return nil, indexed, readErr
	}
	return items, indexed, nil
}

// SubscribeSearch subscribes the index and the click model to changes,
// once both are loaded.
func SubscribeSearch(ix *search.Index, clicks *search.Clicks, eng *engine.Engine) {
	eng.Subscribe(ix)
	eng.Subscribe(clicks)
}

// PrivacyOptions turns the config's retention and compaction settings
// into the engine's, refusing retention for event types it does not
// accept.
func PrivacyOptions(cfg config.Config, types *events.Types) (engine.PrivacyOptions, error) {
	opts := engine.PrivacyOptions{CompactAfter: cfg.Privacy.CompactAfter, RetentionEvery: cfg.Privacy.RetentionEvery}
	names := make([]string, 0, len(cfg.Events.Retention))
	for t := range cfg.Events.Retention {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		if !types.Has(events.Type(t)) {
			return opts, fmt.Errorf("config: events.retention: unknown event type %q (add it to events.custom_types or fix the name)", t)
		}
		if opts.Retention == nil {
			opts.Retention = map[events.Type]time.Duration{}
		}
		opts.Retention[events.Type(t)] = cfg.Events.Retention[t]
	}
	return opts, nil
}
