// Package aisle is Aisle as a library: one call assembles the search and
// recommendation engine over a data directory, with its REST API, web UI,
// retraining and search learning, and one call stops it all.
//
// A Go program embeds Aisle like this (see Example):
//
//	a, err := aisle.Open(ctx, cfg, aisle.WithLogger(log))
//	if err != nil { … }
//	defer a.Close()
//	ln, _ := net.Listen("tcp", "127.0.0.1:8080")
//	go a.Serve(ctx, ln)        // or mount a.Handler() in your own server
//	if err := a.Start(ctx); err != nil { … } // loads data and models; then ready
//
// Open builds the parts (engine, store, API server, recommendation service
// and retrainer, search index with its vectors, click model and learned
// ranker, web UI) without reading the data; the handler answers 503 with
// Retry-After until Start has loaded everything, so a server can listen
// first and tell load balancers when it is ready. Every goroutine Aisle
// starts (the retrainer, retraining runs asked for over HTTP, the search
// log writer, the embedding workers) is owned here: Close stops them,
// waits for them, and closes the store last.
package aisle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/aisle-dev/aisle/ads"
	"github.com/aisle-dev/aisle/api"
	"github.com/aisle-dev/aisle/assistant"
	"github.com/aisle-dev/aisle/bus"
	"github.com/aisle-dev/aisle/bus/lease"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/embed"
	"github.com/aisle-dev/aisle/embed/openai"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/experiment"
	"github.com/aisle-dev/aisle/imagesearch"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/internal/secret"
	"github.com/aisle-dev/aisle/internal/wire"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/rules"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/search/ranking"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/web"
)

// Option changes how Open assembles Aisle.
type Option func(*options)

type options struct {
	log        *slog.Logger
	prepare    func(context.Context, *engine.Engine) error
	demo       bool
	turn       func(context.Context) (func(), error)
	relayFault func(step string) error
	pool       *pgxpool.Pool
}

// WithPostgresPool opens the store (when the configuration names a
// PostgreSQL store) on pool, a pool shared by the shops of a process
// (pgstore.OpenPool), instead of a pool of its own. The caller closes the
// pool after Aisle.
func WithPostgresPool(pool *pgxpool.Pool) Option { return func(o *options) { o.pool = pool } }

// withRelayFault makes the outbox relay fail at a step (tests: a replica
// killed between commit and publish).
func withRelayFault(f func(step string) error) Option {
	return func(o *options) { o.relayFault = f }
}

// WithTrainingTurn makes every retraining run wait for turn first and
// release it after (see recommend.Retrainer.Turn): the shops of one
// process share one training queue.
func WithTrainingTurn(turn func(ctx context.Context) (release func(), err error)) Option {
	return func(o *options) { o.turn = turn }
}

// WithDemo runs the storefront in demo mode: its user switcher lets a
// visitor browse as any existing user (aisle demo). Without it every
// visitor is an anonymous, server-signed session.
func WithDemo() Option { return func(o *options) { o.demo = true } }

// WithLogger sets the logger of every part (default: discard).
func WithLogger(log *slog.Logger) Option { return func(o *options) { o.log = log } }

// WithPrepare sets a hook that Start runs first, before it loads the data:
// the demo imports its catalogue and trains there, while the server
// already answers 503 "starting".
func WithPrepare(f func(ctx context.Context, eng *engine.Engine) error) Option {
	return func(o *options) { o.prepare = f }
}

// Aisle is an assembled search and recommendation engine. Its methods are
// safe for concurrent use.
type Aisle struct {
	cfg        config.Config
	log        *slog.Logger
	prepare    func(context.Context, *engine.Engine) error
	relayFault func(step string) error

	st     wire.Store
	eng    *engine.Engine
	srv    *api.Server
	svc    *recommend.Service
	rt     *recommend.Retrainer
	ix     *search.Index
	clicks *search.Clicks
	ranker *ranking.Learner
	rules  *rules.Book  // merchandising rules (issue 16)
	ads    *ads.Service // sponsored products (issue 16)
	// privacy: retention and compaction jobs (issue 12)
	privacy engine.PrivacyOptions
	// cluster: change feed, lease, stream ingestion (issue 13)
	cluster  *wire.Cluster
	follower *bus.Follower

	stopSearchLog func()
	assistant     *assistant.Assistant
	images        *imagesearch.Index // nil: no image embedder configured

	// experiments and the impression log (issue 15)
	imp *impressions.Log
	exp *experiment.Manager

	// background work: bg is cancelled by Close, group joins it
	bg     context.Context
	cancel context.CancelFunc
	group  *errgroup.Group

	mu        sync.Mutex // guards closing and started; held while adding to group
	closing   bool
	started   bool
	closeOnce sync.Once
	closeErr  error
}

// Open opens the data directory cfg.Data (creating it if needed) and
// assembles every part from cfg. It does not read the data: call Start.
// On error nothing is left open.
func Open(ctx context.Context, cfg config.Config, opts ...Option) (_ *Aisle, err error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if n := cfg.Memory.LimitBytes(); n > 0 {
		// process-wide, like GOMEMLIMIT (which it overrides); every shop of
		// a deployment shares the one configuration value
		debug.SetMemoryLimit(n)
		o.log.Info("memory limit", "limit", cfg.Memory.Limit, "bytes", n)
	}
	a := &Aisle{cfg: cfg, log: o.log, prepare: o.prepare, relayFault: o.relayFault}
	a.bg, a.cancel = context.WithCancel(context.Background())
	a.group, a.bg = errgroup.WithContext(a.bg)
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.eng, a.st, err = wire.OpenEngine(cfg, a.log, o.pool); err != nil {
		return nil, err
	}
	if a.privacy, err = wire.PrivacyOptions(cfg, a.eng.Types()); err != nil {
		return nil, err
	}
	if a.cluster, err = wire.OpenCluster(ctx, cfg, a.eng, a.log); err != nil {
		return nil, err
	}
	// signs storefront sessions and keys read-key search pseudonyms (issue 12)
	sec, err := secret.Load(cfg.Data)
	if err != nil {
		return nil, err
	}
	if cfg.Server.AdminKey == "" {
		a.log.Warn("no admin key set: anyone who can reach the server can write and delete (set --admin-key or AISLE_SERVER_ADMIN_KEY)")
	}
	if a.srv, err = api.New(api.Options{
		Engine: a.eng, Logger: a.log, ForwardRetrain: a.cluster.ForwardRetrain,
		AdminKey: cfg.Server.AdminKey, ReadKey: cfg.Server.ReadKey,
		MaxBodyBytes: cfg.Server.MaxBodyBytes,
		Go:           a.goBackground,
		AccessLog:    cfg.Server.AccessLog,
		RateLimit:    cfg.Server.RateLimit,
		RateBurst:    cfg.Server.RateBurst,
		TrustProxy:   cfg.Server.TrustProxy,
		Secret:       sec,
	}); err != nil {
		return nil, err
	}
	if a.svc, a.rt, err = wire.NewRecommender(cfg, a.eng, a.log); err != nil {
		return nil, err
	}
	a.rt.Turn = o.turn
	a.srv.AddRecommendRoutes(a.svc, a.rt)
	if err = a.openExperiments(); err != nil {
		return nil, err
	}
	// popular and trending count clicks weighted by the inverse of their
	// position's examination on the surface that showed them (issue 15)
	a.svc.SetPositionWeight(a.exp.EventPositionWeight)
	if cfg.Training.PositionWeights {
		// and, when asked, so do the trained models (decision 0049)
		a.rt.Options.Preprocess.PositionWeight = a.exp.EventPositionWeight
	}
	a.srv.AddPrivacyRoutes()
	var mode search.Mode
	if a.ix, mode, err = wire.NewSearchIndex(ctx, cfg, a.log, a.st); err != nil {
		return nil, err
	}
	a.clicks = search.NewClicks()
	a.clicks.SkipUser = func(u string) bool { return !a.svc.Personalized(u) } // consent (issue 12)
	// clicks weighted by the inverse of their position's examination (issue 15)
	a.clicks.PositionWeight = func(pos int) float64 { return a.exp.PositionWeight("search", pos) }
	a.clicks.Consent = a.svc.ConsentFingerprint
	a.clicks.SetSnapshots(wire.SnapshotDir(cfg), cfg.Recommend.SnapshotEvery, a.log) // decision 0047
	a.ranker = wire.NewSearchRanker(cfg, a.ix, a.eng, a.svc, a.clicks, a.exp, a.log)
	// a new search ranker challenges the serving one on a share of first
	// pages, interleaved (decision 0073)
	a.srv.SetSearchChallenge(cfg.Experiments.SearchInterleaveShare, func() (api.SearchChallenge, bool) {
		ch := a.ranker.Challenger()
		if ch == nil {
			return api.SearchChallenge{}, false
		}
		return api.SearchChallenge{Duel: ch.Duel, Ranker: ch.Ranker}, true
	})
	a.svc.AddLearner(a.ranker) // retrained with the recommendation models
	a.stopSearchLog = a.srv.AddSearchRoutes(a.ix, a.clicks, a.svc, mode)
	if err = a.openMerch(ctx); err != nil {
		return nil, err
	}
	if err = a.srv.Registry().Register(newCollector(a)); err != nil {
		return nil, fmt.Errorf("aisle: register metrics: %w", err)
	}
	a.follower = &bus.Follower{Bus: a.cluster.Bus, Engine: a.eng, Store: a.eng.Store(), Log: a.log, Reload: a.reload, Shop: shopOf(cfg)}
	if err = a.srv.Registry().Register(newClusterCollector(a)); err != nil {
		return nil, fmt.Errorf("aisle: register cluster metrics: %w", err)
	}
	var ui *web.UI
	ui, err = web.Register(a.srv, a.svc, a.rt, web.Options{AdminKey: cfg.Server.AdminKey, ReadKey: cfg.Server.ReadKey, Logger: a.log, Experiments: a.exp, Shop: cfg.Shop,
		Demo: o.demo, Secret: sec, TrustProxy: cfg.Server.TrustProxy,
		Searcher: &web.IndexSearcher{Index: a.ix, Mode: mode,
			Personaliser: api.NewPersonaliser(a.ix, a.clicks, a.svc),
			Merch:        a.srv.StorefrontSearch}})
	if err != nil {
		return nil, err
	}
	if err = a.openAssistant(ui); err != nil {
		return nil, err
	}
	if im := cfg.Images; im.EmbedderURL != "" {
		client, err := openai.New(openai.Config{URL: im.EmbedderURL, Model: im.EmbedderModel, APIKey: im.EmbedderKey, Dim: im.EmbedderDim, Logger: a.log})
		if err != nil {
			return nil, fmt.Errorf("images: %w", err)
		}
		a.images = imagesearch.New(embed.NewCache(client, 4096), a.log)
		a.eng.Subscribe(a.images)
		a.svc.SetImageNeighbours(a.images) // image similarity as a signal of similar items
		a.ix.SetImageCloseness(a.images)   // ... and as the image_sim feature of the search ranker
	}
	a.srv.AddImageRoutes(a.images) // without an embedder they say how to configure one
	ui.AddMerchPages(a.rules, a.ads)
	return a, nil
}

// openAssistant assembles the shopping assistant over the engine, the
// search index and the recommender; its conversations live in the store.
func (a *Aisle) openAssistant(ui *web.UI) error {
	c := a.cfg.Assistant
	// conversations survive restarts where the store keeps them (the
	// embedded store); elsewhere they live in memory until the TTL
	persist, _ := a.st.(assistant.Persister)
	if persist == nil {
		a.log.Warn("this store does not keep assistant conversations: they are lost on restart")
	}
	cat := assistant.NewCatalogue()
	a.eng.Subscribe(cat)
	o := assistant.Options{Catalogue: cat, List: a.eng.ListItems, Search: a.ix, Recommend: a.svc, Events: a.eng,
		Conversations: assistant.NewConversations(c.ConversationTTL, persist, a.log), Logger: a.log, N: c.Products}
	if c.LLM.BaseURL != "" {
		llm, err := assistant.NewLLM(assistant.LLMConfig{BaseURL: c.LLM.BaseURL, Model: c.LLM.Model, Key: c.LLM.Key,
			Timeout: c.LLM.Timeout, MaxRounds: c.LLM.MaxRounds, PromptDir: c.LLM.PromptDir})
		if err != nil {
			o.Conversations.Close()
			return err
		}
		o.LLM = llm
	}
	var err error
	if a.assistant, err = assistant.New(o); err != nil {
		o.Conversations.Close()
		return err
	}
	ui.AddAssistant(a.assistant)
	return a.srv.AddAssistantRoutes(a.assistant)
}

// Handler serves the REST API under /api, /metrics, the storefront at /
// and the dashboard at /admin.
func (a *Aisle) Handler() http.Handler { return a.srv }

// Registry is the Prometheus registry /metrics serves, for the metrics of
// a program that embeds Aisle (the shop host's per-shop figures).
func (a *Aisle) Registry() *prometheus.Registry { return a.srv.Registry() }

// shopOf is the shop a configuration opens ("default" when unset).
func shopOf(cfg config.Config) string {
	if cfg.Shop == "" {
		return "default"
	}
	return cfg.Shop
}

// Feed is the change feed this Aisle follows (in memory for a single
// server, NATS JetStream in a cluster): the shop registry follows it too.
func (a *Aisle) Feed() bus.Bus { return a.cluster.Bus }

// Engine is the engine under the API, for programs that ingest or read
// without HTTP.
func (a *Aisle) Engine() *engine.Engine { return a.eng }

// Ready reports whether Start has finished and Aisle answers requests.
func (a *Aisle) Ready() bool { return a.srv.Ready() }

// Start runs the prepare hook, loads the event log, the models and the
// catalogue, starts the background work and marks Aisle ready. Writes are
// refused until then, so loading and then subscribing misses no event.
// It may be called once.
func (a *Aisle) Start(ctx context.Context) error {
	a.mu.Lock()
	if a.started || a.closing {
		a.mu.Unlock()
		return errors.New("aisle: Start called twice or after Close")
	}
	a.started = true
	a.mu.Unlock()
	// the feed's position before loading: everything after it is applied
	// from the feed, everything before it is in what is loaded
	_, feedPos, err := a.cluster.Bus.Bounds(ctx)
	if err != nil {
		return fmt.Errorf("aisle: read the change feed's position: %w", err)
	}
	if a.prepare != nil {
		if err := a.prepare(ctx, a.eng); err != nil {
			return err
		}
	}
	var maxSeq uint64
	// one scan of the log for all: ad clicks stored but not yet billed
	// when the server stopped are billed now (once); the click model and
	// ad billing skip the events their snapshots cover (decision 0047)
	a.clicks.LoadSnapshot()
	a.ads.LoadSnapshot()
	// the catalogue is read once, for the recommender and for search
	// (decision 0068); it is indexed for search while the recommender
	// reads the event log: each reads its own part of the store and uses
	// nothing of the other's, and both are mostly one goroutine (0055)
	searchCtx, stopSearch := context.WithCancel(ctx)
	its, waitSearch, err := wire.ReadCatalogue(searchCtx, a.ix, a.eng)
	defer func() { // Start returns only once the indexing ended
		stopSearch()
		waitSearch()
	}()
	if err != nil {
		return err
	}
	// the search log's queries too: suggestions are kept in memory only
	err = a.svc.LoadWith(ctx, its, a.clicks.Replay, func(e events.Event) { maxSeq = max(maxSeq, e.Seq) }, a.ads.Replay, a.ix.ReplaySearch)
	if err != nil {
		return err
	}
	if err := a.clicks.ReplayDone(ctx, a.st.ScanEvents); err != nil {
		return fmt.Errorf("aisle: relearn the click model: %w", err)
	}
	if err := a.ads.ReplayDone(ctx, a.st.ScanEvents); err != nil {
		return fmt.Errorf("aisle: replay ad billing: %w", err)
	}
	a.eng.SetAppliedFloor(maxSeq)
	a.eng.Subscribe(a.svc)
	a.eng.Subscribe(a.ads)
	if !a.goBackground(func() { a.ads.Run(a.bg, 200*time.Millisecond) }) {
		return errors.New("aisle: closed while starting")
	}
	if err := waitSearch(); err != nil {
		return err
	}
	wire.SubscribeSearch(a.ix, a.clicks, a.eng)
	if err := a.ranker.Load(ctx); err != nil {
		a.log.Error("the stored search ranker cannot load; searches use keyword ranking until it is retrained", "error", err)
	}
	a.eng.Subscribe(modelFollower{a})
	if err := a.follow(ctx, feedPos); err != nil {
		return err
	}
	// Loading leaves garbage of the size of the catalogue and the models
	// (decoded JSON, read buffers): give it back before serving, and
	// before the background builds start (at 1M products the collection
	// ran beside the item-relations build, which allocates as fast as the
	// collector marks: 98 s from loaded to ready at load 40, session 8)
	debug.FreeOSMemory()
	// training, the search ranker and retention run on one replica at a
	// time (always here, for a single server)
	if !a.goBackground(func() {
		lease.Run(a.bg, a.cluster.Lease, a.cfg.Cluster.LeaseTTL/3, a.log, func(ctx context.Context) {
			var g sync.WaitGroup
			g.Go(func() { a.rt.Run(ctx) })
			g.Go(func() { a.eng.RunPrivacyJobs(ctx, a.privacy) })
			g.Go(func() { a.cluster.ServeRetrain(ctx, a.startRetrain, a.log) })
			g.Wait()
		})
	}) {
		return errors.New("aisle: closed while starting")
	}
	// the impression log and experiment outcomes are written in the
	// background; Close waits for both to flush
	for _, run := range []func(context.Context) error{a.imp.Run, a.exp.Run} {
		if !a.goBackground(func() {
			if err := run(a.bg); err != nil {
				a.log.Error("the impression log or experiment store failed: attribution stops until a restart", "error", err)
			}
		}) {
			return errors.New("aisle: closed while starting")
		}
	}
	if a.images != nil {
		a.goBackground(func() {
			if err := a.images.Build(a.bg, a.eng.ListItems); err != nil && a.bg.Err() == nil {
				a.log.Error("building the image index failed; search by image answers 503", "error", err)
			}
		})
	}
	// Item relations (similar, bought together) are built in the
	// background, so the first product page does not wait for them.
	a.goBackground(func() {
		if err := a.svc.WarmRelated(a.bg); err != nil && a.bg.Err() == nil {
			a.log.Error("building item relations failed; similar items are built on the first request", "error", err)
		}
	})
	a.srv.SetReady(true)
	return nil
}

// startRetrain starts a training run asked for by another replica (this
// one holds the training lease); recommend.ErrBusy when one is going on.
func (a *Aisle) startRetrain() error {
	if a.rt.Busy() {
		return recommend.ErrBusy
	}
	if !a.goBackground(func() { a.rt.RunOnce(a.rt.Context()) }) {
		return errors.New("the replica is shutting down")
	}
	return nil
}

// follow starts the parts that keep this replica in step with the others:
// the relay of the store's outbox (when it has one) and the follower of
// the change feed from position feedPos+1. It returns once the follower
// applied everything the feed held, so the replica is ready only after
// catching up.
func (a *Aisle) follow(ctx context.Context, feedPos uint64) error {
	if a.cluster.Outbox != nil {
		relay := &bus.Relay{Source: a.cluster.Outbox, Bus: a.cluster.Bus, Log: a.log, Fault: a.relayFault}
		if !a.goBackground(func() {
			lease.Run(a.bg, a.cluster.RelayLease, a.cfg.Cluster.RelayLeaseTTL/3, a.log, func(ctx context.Context) { relay.Run(ctx) })
		}) {
			return errors.New("aisle: closed while starting")
		}
	}
	caught := make(chan struct{})
	if !a.goBackground(func() { a.follower.Run(a.bg, feedPos+1, func() { close(caught) }) }) {
		return errors.New("aisle: closed while starting")
	}
	select {
	case <-caught:
	case <-ctx.Done():
		return ctx.Err()
	case <-a.bg.Done():
		return errors.New("aisle: closed while starting")
	}
	if a.cluster.Ingest != nil && !a.goBackground(func() { a.cluster.Ingest.Run(a.bg) }) {
		return errors.New("aisle: closed while starting")
	}
	return nil
}

// reload rebuilds the in-memory parts from the store, for a replica whose
// position the change feed no longer holds.
func (a *Aisle) reload(ctx context.Context) error {
	if err := a.eng.Reload(ctx); err != nil {
		return err
	}
	if err := a.svc.LoadModels(ctx); err != nil {
		return err
	}
	return a.ranker.Load(ctx)
}

// modelFollower reloads the serving models when the feed says a model
// version changed on another replica (a new serving version, a rollback).
type modelFollower struct{ a *Aisle }

func (modelFollower) ItemsUpserted([]catalog.Item)  {}
func (modelFollower) ItemsDeleted([]string)         {}
func (modelFollower) EventsAppended([]events.Event) {}
func (modelFollower) UserDeleted(string)            {}

// ModelChanged implements engine.ModelListener.
func (m modelFollower) ModelChanged(ctx context.Context, meta store.ModelMeta) error {
	if err := m.a.svc.LoadModels(ctx); err != nil {
		return err
	}
	return m.a.ranker.Load(ctx)
}

// RetrainInBackground starts a retraining run of every configured model
// in the background: each new version serves once it validates no worse.
// Unlike POST /api/models/retrain it does not wait for background models
// (the sequence model) still training; it is false when the server is
// closing. A run of the fast models already under way makes it a no-op.
func (a *Aisle) RetrainInBackground() bool {
	return a.goBackground(func() {
		if _, err := a.rt.RunOnce(a.bg); err != nil && a.bg.Err() == nil && !errors.Is(err, recommend.ErrBusy) {
			a.log.Error("background training failed", "error", err)
		}
	})
}

// goBackground runs f in the group Close waits for; false when closing.
func (a *Aisle) goBackground(f func()) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing {
		return false
	}
	a.group.Go(func() error { f(); return nil })
	return true
}

// Serve serves Handler on ln until ctx ends or Close is called. It then
// stops accepting connections and lets running requests finish for
// server.shutdown_timeout before cutting them. It returns nil after a
// shutdown that drained or timed out, and the error of a listener that
// failed.
func (a *Aisle) Serve(ctx context.Context, ln net.Listener) error {
	return a.ServeHandler(ctx, ln, a.srv)
}

// ServeHandler is Serve with another handler in front of Handler (the
// shop host routes /api/shops/… and delegates the rest to Handler).
func (a *Aisle) ServeHandler(ctx context.Context, ln net.Listener, h http.Handler) error {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return a.bg },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	case <-a.bg.Done():
	}
	a.log.Info("shutting down: draining requests", "timeout", a.cfg.Server.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.Server.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		// the drain time is up: cut the requests still running
		a.log.Warn("requests still running after the shutdown timeout were cut", "timeout", a.cfg.Server.ShutdownTimeout)
		hs.Close()
	}
	<-errc
	return nil
}

// Close stops the background work, flushes the search log, waits for every
// background goroutine (the search-log writer among them) to end, stops the embedding workers and closes the store, in that order. A
// server using Handler should stop (Serve returns) before Close; requests
// that arrive later may fail. Close may be called more than once.
func (a *Aisle) Close() error {
	a.closeOnce.Do(func() {
		a.mu.Lock()
		a.closing = true
		a.mu.Unlock()
		if a.srv != nil {
			a.srv.SetReady(false)
		}
		a.cancel()
		if a.stopSearchLog != nil {
			// writes the queued searches through the engine; its writer is
			// a member of the group, so it must end before the group can
			a.stopSearchLog()
		}
		a.group.Wait() // closing is set: nothing joins the group any more
		if a.svc != nil {
			// the counts as they stand, so the next start replays nothing
			// (a no-op when the log was never loaded)
			if err := a.svc.CloseSnapshots(); err != nil {
				a.log.Error("the shutdown snapshot was not written; the next start replays the log from the previous one", "error", err)
			}
		}
		if a.clicks != nil && a.ads != nil {
			// the click model's and ad billing's (no-ops unless a start
			// loaded them)
			for _, c := range []func() error{a.clicks.CloseSnapshots, a.ads.CloseSnapshots} {
				if err := c(); err != nil {
					a.log.Error("a shutdown snapshot was not written; the next start replays more of the log", "error", err)
				}
			}
		}
		var errs []error
		if a.assistant != nil {
			a.assistant.Close() // writes the conversations changed last
		}
		if a.exp != nil {
			errs = append(errs, a.exp.Close())
		}
		if a.imp != nil {
			errs = append(errs, a.imp.Close())
		}
		if a.ix != nil {
			errs = append(errs, a.ix.Close())
		}
		a.cluster.Close()
		if a.st != nil {
			errs = append(errs, a.st.Close())
		}
		a.closeErr = errors.Join(errs...)
	})
	return a.closeErr
}

// openExperiments opens the impression log and the experiment store in
// the data directory, adds /api/experiments and subscribes the manager to
// the engine, so that clicks, carts and purchases are attributed.
func (a *Aisle) openExperiments() error {
	var err error
	if a.imp, err = impressions.Open(filepath.Join(a.cfg.Data, "impressions.db"), impressions.Options{
		Retention: a.cfg.Experiments.ImpressionRetention, Queue: a.cfg.Experiments.ImpressionQueue,
		CompactAfter: a.cfg.Privacy.CompactAfter}); err != nil {
		return err
	}
	// on a store several replicas share (PostgreSQL), so are the experiments
	shared, _ := a.eng.Store().(store.Experiments)
	if a.exp, err = experiment.Open(experiment.Options{Path: filepath.Join(a.cfg.Data, "experiments.db"), Impressions: a.imp, Logger: a.log, Shared: shared,
		ExploreShare: a.cfg.Experiments.ExploreShare, SearchExploreShare: a.cfg.Experiments.SearchExploreShare, CountAfterAck: a.cfg.Experiments.CountAfterAck, CompactAfter: a.cfg.Privacy.CompactAfter,
		Price: func(ctx context.Context, id string) (float64, bool) {
			it, err := a.eng.Store().GetItem(ctx, id)
			if err != nil || it.Price == nil {
				return 0, false
			}
			return *it.Price, true
		}}); err != nil {
		return err
	}
	a.srv.AddExperimentRoutes(a.exp)
	a.srv.AddBackupFile("impressions.db", a.imp.WriteSnapshot)
	a.srv.AddBackupFile("experiments.db", a.exp.WriteSnapshot)
	a.eng.Subscribe(a.exp)
	imp := a.imp
	return a.srv.Registry().Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "aisle_impressions_dropped_total", Help: "Answers not written to the impression log because its queue was full (raise experiments.impression_queue).",
	}, func() float64 { return float64(imp.Dropped()) }))
}

// openMerch opens the merchandising rules and the sponsored products kept
// in the store and adds their routes; ad clicks stay out of organic
// learning, and the click model retrains with the other models.
func (a *Aisle) openMerch(ctx context.Context) error {
	var err error
	if a.rules, err = rules.Open(ctx, a.st, nil); err != nil {
		return err
	}
	// rules and ads read the fields of every candidate: from memory
	items := rules.NewItemCache(a.eng.GetItem, 100_000)
	a.eng.Subscribe(items)
	ac := a.cfg.Ads
	if a.ads, err = ads.New(ctx, ads.Options{Store: a.st, Item: items.Get, ReadItems: items.Read, Logger: a.log, Config: ads.Config{
		Slots: ac.Slots.Map(), Reserve: ads.ToMicros(ac.Reserve), RelevanceFloor: ac.RelevanceFloor, SurfaceFloors: ac.RelevanceFloors.Map(),
		RepeatWindow: ac.RepeatWindow, ClickTTL: ac.ClickTTL, AttributionWindow: ac.AttributionWindow,
		BotClicksPerMinute: ac.BotClicksPerMinute, PacingSlack: ac.PacingSlack, Retention: ac.Retention,
	}}); err != nil {
		return err
	}
	// ad billing's snapshot of the events handled (decision 0047)
	a.ads.SetSnapshots(wire.SnapshotDir(a.cfg), a.cfg.Recommend.SnapshotEvery, a.log)
	a.svc.SetSponsored(a.ads.Sponsored)  // popularity, profiles, training data
	a.clicks.SkipEvent = a.ads.Sponsored // search click-through
	a.ranker.SetExcludeEvent(a.ads.Sponsored)
	a.svc.AddLearner(ads.Learner{S: a.ads})
	a.srv.AddMerchRoutes(api.MerchOptions{Rules: a.rules, Ads: a.ads, Affinity: a.svc.Affinity, Items: items})
	return nil
}
