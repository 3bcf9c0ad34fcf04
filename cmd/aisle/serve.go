package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle/api"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/embed"
	"github.com/aisle-dev/aisle/embed/embedders"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/search/analysis"
	"github.com/aisle-dev/aisle/search/ranking"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/web"
)

type serveFlags struct {
	globalFlags
	addr     string
	adminKey string
	readKey  string
	maxBody  int64

	embedder, embedderURL, embedderModel string
	embedderDim                          int
}

func (f *serveFlags) register(cmd *cobra.Command) {
	f.globalFlags.register(cmd)
	cmd.Flags().StringVar(&f.addr, "addr", "", "address to listen on (default 127.0.0.1:8080; port 0 picks a free port)")
	cmd.Flags().StringVar(&f.adminKey, "admin-key", "", "API key required for writes and deletes (or env AISLE_ADMIN_KEY)")
	cmd.Flags().StringVar(&f.readKey, "read-key", "", "API key required for reads, when set (or env AISLE_READ_KEY); the admin key also works")
	cmd.Flags().Int64Var(&f.maxBody, "max-body", 0, "largest request body in bytes (default 16 MiB); larger ones get 413")
	cmd.Flags().StringVar(&f.embedder, "embedder", "", "text embedder for semantic and hybrid search: "+strings.Join(embedders.Kinds(), ", ")+" or none (default: search.embedder in the config)")
	cmd.Flags().StringVar(&f.embedderURL, "embedder-url", "", "OpenAI-compatible embeddings endpoint (--embedder openai; key in AISLE_EMBEDDER_KEY)")
	cmd.Flags().StringVar(&f.embedderModel, "embedder-model", "", "model name sent to the endpoint (--embedder openai)")
	cmd.Flags().IntVar(&f.embedderDim, "embedder-dim", 0, "vector length of the endpoint's model (--embedder openai)")
}

// load merges config file, environment and flags (flags win).
func (f *serveFlags) load() (config.Config, error) {
	cfg, err := f.globalFlags.load()
	if err != nil {
		return cfg, err
	}
	if v := os.Getenv("AISLE_ADMIN_KEY"); v != "" {
		cfg.Server.AdminKey = v
	}
	if v := os.Getenv("AISLE_READ_KEY"); v != "" {
		cfg.Server.ReadKey = v
	}
	if f.addr != "" {
		cfg.Server.Addr = f.addr
	}
	if f.adminKey != "" {
		cfg.Server.AdminKey = f.adminKey
	}
	if f.readKey != "" {
		cfg.Server.ReadKey = f.readKey
	}
	if f.maxBody > 0 {
		cfg.Server.MaxBodyBytes = f.maxBody
	}
	if f.embedder != "" {
		cfg.Search.Embedder = f.embedder
	}
	if f.embedderURL != "" {
		cfg.Search.EmbedderURL = f.embedderURL
	}
	if f.embedderModel != "" {
		cfg.Search.EmbedderModel = f.embedderModel
	}
	if f.embedderDim > 0 {
		cfg.Search.EmbedderDim = f.embedderDim
	}
	return cfg, nil
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the REST API over the data directory",
		Long: `Serve the Aisle REST API (JSON under /api, Prometheus metrics at /metrics,
the API description at /api/openapi.json) over the data in --data.`,
		Example: "  aisle serve --addr 127.0.0.1:8080 --data ./aisle-data --admin-key secret",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg, newLogger(), nil)
		},
	}
	f.register(cmd)
	return cmd
}

// serve runs the API until ctx ends. prepare, when set, runs after the
// server is listening and before it is marked ready (the demo imports and
// trains there, so /api/ready tells when it can answer).
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, prepare func(context.Context, *engine.Engine) error) error {
	eng, st, err := openEngine(cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	privacy, err := privacyOptions(cfg, eng.Types())
	if err != nil {
		return err
	}
	if cfg.Server.AdminKey == "" {
		log.Warn("no admin key set: anyone who can reach the server can write and delete (set --admin-key or AISLE_ADMIN_KEY)")
	}
	srv, err := api.New(api.Options{
		Engine: eng, Logger: log,
		AdminKey: cfg.Server.AdminKey, ReadKey: cfg.Server.ReadKey,
		MaxBodyBytes: cfg.Server.MaxBodyBytes,
	})
	if err != nil {
		return err
	}
	svc, rt, err := newRecommender(cfg, eng, log)
	if err != nil {
		return err
	}
	srv.AddRecommendRoutes(svc, rt)
	srv.AddPrivacyRoutes()
	ix, mode, err := newSearchIndex(ctx, cfg, log, st)
	if err != nil {
		return err
	}
	defer ix.Close()
	clicks := search.NewClicks()
	clicks.SkipUser = func(u string) bool { return !svc.Personalized(u) } // consent (issue 12)
	ranker := newSearchRanker(cfg, ix, eng, svc, clicks, log)
	svc.AddLearner(ranker) // retrained with the recommendation models
	stopSearchLog := srv.AddSearchRoutes(ix, clicks, svc, mode)
	defer stopSearchLog()
	if _, err := web.Register(srv, svc, rt, web.Options{AdminKey: cfg.Server.AdminKey, ReadKey: cfg.Server.ReadKey, Logger: log,
		Searcher: &web.IndexSearcher{Index: ix, Mode: mode, Boost: svc.Affinity, Clicks: clicks}}); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server using it? pick another with --addr)", cfg.Server.Addr, err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	log.Info("aisle listening", "url", url, "data", cfg.Data)
	fmt.Fprintf(os.Stdout, "Aisle is listening on %s (data in %s)\n", url, cfg.Data)
	fmt.Fprintf(os.Stdout, "  storefront: %s/\n  dashboard:  %s/admin\n", url, url)

	if prepare != nil {
		if err := prepare(ctx, eng); err != nil {
			hs.Close()
			return err
		}
	}
	// Writes are refused until ready, so loading and then subscribing
	// misses no event.
	if err := svc.Load(ctx, clicks.Record); err != nil { // one scan of the log for both
		hs.Close()
		return err
	}
	eng.Subscribe(svc)
	if err := loadSearch(ctx, ix, clicks, eng); err != nil {
		hs.Close()
		return err
	}
	if err := ranker.Load(ctx); err != nil {
		log.Error("the stored search ranker cannot load; searches use keyword ranking until it is retrained", "error", err)
	}
	go rt.Run(ctx)
	go eng.RunPrivacyJobs(ctx, privacy)
	// Loading leaves garbage of the size of the catalogue and the models
	// (decoded JSON, read buffers): give it back before serving.
	debug.FreeOSMemory()
	srv.SetReady(true)
	log.Info("aisle ready", "url", url)

	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}

// newRecommender builds the recommendation service and its retrainer from
// the config.
func newRecommender(cfg config.Config, eng *engine.Engine, log *slog.Logger) (*recommend.Service, *recommend.Retrainer, error) {
	opts, err := trainOptions(cfg)
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
		Primary:          rc.Primary,
		AffinityBoost:    rc.AffinityBoost,
		RecencyHalfLife:  rc.RecencyHalfLife,
		TimeHalfLife:     rc.TimeHalfLife,
		PromoteTolerance: rc.PromoteTolerance,
	}, log)
	rt := svc.NewRetrainer(rc.RetrainEvery, rc.RetrainAfterEvents, opts)
	rt.Quiet = rc.RetrainQuiet
	return svc, rt, nil
}

// newSearchIndex builds the product search index from the config: keyword
// search always; semantic and hybrid modes when an embedder is configured.
// The mode it returns is the default of requests: ltr when the ranker is
// learned (the index falls back to the configured mode until a learned
// version serves). Item vectors are computed in the background and kept
// in vectors, so a restart embeds only new and changed items.
func newSearchIndex(ctx context.Context, cfg config.Config, log *slog.Logger, vectors store.Vectors) (*search.Index, search.Mode, error) {
	sc := cfg.Search
	opts := search.Options{Logger: log, Vectors: vectors, EmbedWorkers: sc.EmbedWorkers, EmbedBatch: sc.EmbedBatch}
	if sc.JapaneseHan {
		opts.Registry = analysis.NewRegistry(analysis.Options{JapaneseHan: true})
	}
	if sc.Embedder != "" && sc.Embedder != "none" {
		emb, err := embedders.New(embedders.Config{Kind: sc.Embedder, URL: sc.EmbedderURL, Model: sc.EmbedderModel, Dim: sc.EmbedderDim, APIKey: os.Getenv("AISLE_EMBEDDER_KEY"), Logger: log})
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
	scfg, err := searchConfig(sc)
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

// searchConfig applies the config file's search settings to the engine's
// defaults.
func searchConfig(sc config.Search) (search.Config, error) {
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

// newSearchRanker gives the index its ranking signals (popularity from
// svc, click-through from clicks) and returns the learner of its search
// ranker (inert when search.learn_ranking is off: its stored versions are
// still recognised as the ranker's).
func newSearchRanker(cfg config.Config, ix *search.Index, eng *engine.Engine, svc *recommend.Service, clicks *search.Clicks, log *slog.Logger) *ranking.Learner {
	ix.SetSignals(search.Signals{Popularity: svc.Popularity, Clicks: clicks})
	off := cfg.Search.LearnRanking != nil && !*cfg.Search.LearnRanking
	return ranking.New(ix, eng.Store(), ranking.Config{MinQueries: cfg.Search.RankingMinQueries, Popularity: svc.Popularity, Off: off,
		ExcludeUser: func(u string) bool { return !svc.Personalized(u) }}, log)
}

// loadSearch indexes the catalogue and subscribes the index and the click
// model (which learnt the event log through recommend.Service.Load) to
// changes; called while writes wait for readiness.
func loadSearch(ctx context.Context, ix *search.Index, clicks *search.Clicks, eng *engine.Engine) error {
	var batch []catalog.Item
	flush := func() error {
		err := ix.Upsert(ctx, batch...)
		batch = batch[:0]
		return err
	}
	err := eng.Store().ScanItems(ctx, func(it catalog.Item) error {
		batch = append(batch, it)
		if len(batch) == 10000 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("index the catalogue for search: %w", err)
	}
	eng.Subscribe(ix)
	eng.Subscribe(clicks)
	return nil
}
