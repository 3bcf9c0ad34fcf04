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
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/aisle-dev/aisle/api"
	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/internal/wire"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/search/ranking"
	"github.com/aisle-dev/aisle/store/boltstore"
	"github.com/aisle-dev/aisle/web"
)

// Option changes how Open assembles Aisle.
type Option func(*options)

type options struct {
	log     *slog.Logger
	prepare func(context.Context, *engine.Engine) error
	turn    func(context.Context) (func(), error)
}

// WithTrainingTurn makes every retraining run wait for turn first and
// release it after (see recommend.Retrainer.Turn): the shops of one
// process share one training queue.
func WithTrainingTurn(turn func(ctx context.Context) (release func(), err error)) Option {
	return func(o *options) { o.turn = turn }
}

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
	cfg     config.Config
	log     *slog.Logger
	prepare func(context.Context, *engine.Engine) error

	st     *boltstore.Store
	eng    *engine.Engine
	srv    *api.Server
	svc    *recommend.Service
	rt     *recommend.Retrainer
	ix     *search.Index
	clicks *search.Clicks
	ranker *ranking.Learner
	// privacy: retention and compaction jobs (issue 12)
	privacy engine.PrivacyOptions

	stopSearchLog func()

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
	a := &Aisle{cfg: cfg, log: o.log, prepare: o.prepare}
	a.bg, a.cancel = context.WithCancel(context.Background())
	a.group, a.bg = errgroup.WithContext(a.bg)
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.eng, a.st, err = wire.OpenEngine(cfg, a.log); err != nil {
		return nil, err
	}
	if a.privacy, err = wire.PrivacyOptions(cfg, a.eng.Types()); err != nil {
		return nil, err
	}
	if cfg.Server.AdminKey == "" {
		a.log.Warn("no admin key set: anyone who can reach the server can write and delete (set --admin-key or AISLE_SERVER_ADMIN_KEY)")
	}
	if a.srv, err = api.New(api.Options{
		Engine: a.eng, Logger: a.log,
		AdminKey: cfg.Server.AdminKey, ReadKey: cfg.Server.ReadKey,
		MaxBodyBytes: cfg.Server.MaxBodyBytes,
		Go:           a.goBackground,
		AccessLog:    cfg.Server.AccessLog,
		RateLimit:    cfg.Server.RateLimit,
		RateBurst:    cfg.Server.RateBurst,
		TrustProxy:   cfg.Server.TrustProxy,
	}); err != nil {
		return nil, err
	}
	if a.svc, a.rt, err = wire.NewRecommender(cfg, a.eng, a.log); err != nil {
		return nil, err
	}
	a.rt.Turn = o.turn
	a.srv.AddRecommendRoutes(a.svc, a.rt)
	a.srv.AddPrivacyRoutes()
	var mode search.Mode
	if a.ix, mode, err = wire.NewSearchIndex(ctx, cfg, a.log, a.st); err != nil {
		return nil, err
	}
	a.clicks = search.NewClicks()
	a.clicks.SkipUser = func(u string) bool { return !a.svc.Personalized(u) } // consent (issue 12)
	a.ranker = wire.NewSearchRanker(cfg, a.ix, a.eng, a.svc, a.clicks, a.log)
	a.svc.AddLearner(a.ranker) // retrained with the recommendation models
	a.stopSearchLog = a.srv.AddSearchRoutes(a.ix, a.clicks, a.svc, mode)
	if err = a.srv.Registry().Register(newCollector(a)); err != nil {
		return nil, fmt.Errorf("aisle: register metrics: %w", err)
	}
	if _, err = web.Register(a.srv, a.svc, a.rt, web.Options{AdminKey: cfg.Server.AdminKey, ReadKey: cfg.Server.ReadKey, Logger: a.log, Shop: cfg.Shop,
		Searcher: &web.IndexSearcher{Index: a.ix, Mode: mode,
			Personaliser: &api.Personaliser{Index: a.ix, Affinity: a.svc.Affinity, Clicks: a.clicks}}}); err != nil {
		return nil, err
	}
	return a, nil
}

// Handler serves the REST API under /api, /metrics, the storefront at /
// and the dashboard at /admin.
func (a *Aisle) Handler() http.Handler { return a.srv }

// Registry is the Prometheus registry /metrics serves, for the metrics of
// a program that embeds Aisle (the shop host's per-shop figures).
func (a *Aisle) Registry() *prometheus.Registry { return a.srv.Registry() }

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
	if a.prepare != nil {
		if err := a.prepare(ctx, a.eng); err != nil {
			return err
		}
	}
	if err := a.svc.Load(ctx, a.clicks.Record); err != nil { // one scan of the log for both
		return err
	}
	a.eng.Subscribe(a.svc)
	if err := wire.LoadSearch(ctx, a.ix, a.clicks, a.eng); err != nil {
		return err
	}
	if err := a.ranker.Load(ctx); err != nil {
		a.log.Error("the stored search ranker cannot load; searches use keyword ranking until it is retrained", "error", err)
	}
	if !a.goBackground(func() { a.rt.Run(a.bg) }) {
		return errors.New("aisle: closed while starting")
	}
	if !a.goBackground(func() { a.eng.RunPrivacyJobs(a.bg, a.privacy) }) {
		return errors.New("aisle: closed while starting")
	}
	// Item relations (similar, bought together) are built in the
	// background, so the first product page does not wait for them.
	a.goBackground(func() {
		if err := a.svc.WarmRelated(a.bg); err != nil && a.bg.Err() == nil {
			a.log.Error("building item relations failed; similar items are built on the first request", "error", err)
		}
	})
	// Loading leaves garbage of the size of the catalogue and the models
	// (decoded JSON, read buffers): give it back before serving.
	debug.FreeOSMemory()
	a.srv.SetReady(true)
	return nil
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

// Close stops the background work, waits for it to end, flushes the search
// log, stops the embedding workers and closes the store, in that order. A
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
		a.group.Wait() // closing is set: nothing joins the group any more
		if a.stopSearchLog != nil {
			a.stopSearchLog() // writes the queued searches through the engine
		}
		var errs []error
		if a.ix != nil {
			errs = append(errs, a.ix.Close())
		}
		if a.st != nil {
			errs = append(errs, a.st.Close())
		}
		a.closeErr = errors.Join(errs...)
	})
	return a.closeErr
}
