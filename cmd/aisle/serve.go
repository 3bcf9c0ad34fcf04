package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle"
	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/embed/embedders"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/shops"
	"github.com/aisle-dev/aisle/store/pgstore"
)

// serveFlags are the flags of serve and demo, each bound to a config key.
type serveFlags struct {
	globalFlags
}

func (f *serveFlags) register(cmd *cobra.Command) {
	f.globalFlags.register(cmd)
	f.bind("addr", "server.addr", "", "address to listen on (default 127.0.0.1:8080; port 0 picks a free port)")
	f.bind("admin-key", "server.admin_key", "", "API key required for writes and deletes (or env AISLE_SERVER_ADMIN_KEY)")
	f.bind("read-key", "server.read_key", "", "API key required for reads, when set (or env AISLE_SERVER_READ_KEY); the admin key also works")
	f.bind("admin-key-file", "server.admin_key_file", "", "file holding the admin key (keeps it out of ps; or env AISLE_SERVER_ADMIN_KEY)")
	f.bind("read-key-file", "server.read_key_file", "", "file holding the read key (keeps it out of ps; or env AISLE_SERVER_READ_KEY)")
	f.bind("max-body", "server.max_body_bytes", "int", "largest request body in bytes (default 16 MiB); larger ones get 413")
	f.bind("shutdown-timeout", "server.shutdown_timeout", "duration", "on SIGTERM, how long running requests may finish before they are cut (default 10s)")
	f.bind("access-log", "server.access_log", "bool", "log one line per HTTP request")
	f.bind("bus", "bus", "", "NATS URL of a cluster's change feed, lease and stream ingestion, e.g. nats://127.0.0.1:4222 (or env AISLE_BUS; default none: a single server)")
	f.bind("embedder", "search.embedder", "", "text embedder for semantic and hybrid search: "+strings.Join(embedders.Kinds(), ", ")+" or none (default: search.embedder in the config)")
	f.bind("embedder-url", "search.embedder_url", "", "OpenAI-compatible embeddings endpoint (--embedder openai; key in AISLE_SEARCH_EMBEDDER_KEY)")
	f.bind("embedder-model", "search.embedder_model", "", "model name sent to the endpoint (--embedder openai)")
	f.bind("embedder-dim", "search.embedder_dim", "int", "vector length of the endpoint's model (--embedder openai)")
}

// warnKeyFlags warns when a key was given as a flag: every user of the
// machine sees it in the process list.
func (f *serveFlags) warnKeyFlags(log *slog.Logger) {
	for _, name := range []string{"admin-key", "read-key"} {
		if fl := f.cmd.Flags().Lookup(name); fl != nil && fl.Changed {
			log.Warn("a key given as --"+name+" shows in the process list (ps) of every user of this machine: use --"+name+"-file or the environment (AISLE_SERVER_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_"))+") instead", "flag", "--"+name)
		}
	}
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
			log := newLogger(cfg)
			f.warnKeyFlags(log)
			return serve(ctx, cfg, log, false, nil, nil)
		},
	}
	f.register(cmd)
	return cmd
}

// serve runs Aisle on cfg.Server.Addr until ctx ends; demo turns on the
// storefront's user switcher (aisle demo only). prepare, when set,
// runs after the server is listening and before it is marked ready (the
// demo imports and trains there, so /api/ready tells when it can answer).
//
// Every shop of the registry in the data directory is served under
// /api/shops/{shop}/… (package shops); shopOptions, when set, adds
// options to the opening of each (the demo's gift shop imports there).
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, demo bool, prepare func(context.Context, *engine.Engine) error, shopOptions func(string) []aisle.Option, ready ...func(*aisle.Aisle, *shops.Host)) (err error) {
	queue := shops.NewTrainingQueue() // the shops train one at a time, in turn
	opts := []aisle.Option{aisle.WithLogger(log), aisle.WithPrepare(prepare), aisle.WithTrainingTurn(queue.Turn(shops.DefaultID))}
	if demo {
		opts = append(opts, aisle.WithDemo())
	}
	// on PostgreSQL every shop of the process shares one pool, and the
	// shop registry is the database's, shared by the replicas
	var pool *pgxpool.Pool
	if pgstore.IsURL(cfg.Store) {
		if pool, err = pgstore.OpenPool(ctx, cfg.Store, 0); err != nil {
			return err
		}
		defer pool.Close()
		opts = append(opts, aisle.WithPostgresPool(pool))
	}
	a, err := aisle.Open(ctx, cfg, opts...)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, a.Close()) }()
	var reg *shops.Registry
	if pool != nil {
		reg, err = shops.OpenPostgresRegistry(ctx, pool)
		if err == nil {
			// a deployment that kept its registry in the data directory
			// before: its shops and keys move to the (still empty) tables
			var n, k int
			n, k, err = reg.ImportFile(ctx, filepath.Join(cfg.Data, shops.RegistryFile))
			if n > 0 {
				log.Info("shop registry copied from the data directory into PostgreSQL", "shops", n, "keys", k)
			}
			if err != nil {
				reg.Close()
			}
		}
	} else {
		reg, err = shops.OpenRegistry(filepath.Join(cfg.Data, "shops.db"))
	}
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, reg.Close()) }()
	host, err := shops.New(shops.Options{Config: cfg, Default: a, Registry: reg, Logger: log,
		IdleAfter: cfg.Shops.IdleUnload, ShopOptions: shopOptions, Queue: queue, Pool: pool, Feed: a.Feed()})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, host.Close()) }()
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server using it? pick another with --addr)", cfg.Server.Addr, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- a.ServeHandler(ctx, ln, host) }()
	url := "http://" + ln.Addr().String()
	where := cfg.Data
	if cfg.Store != "" {
		where = pgstore.Redact(cfg.Store)
	}
	log.Info("aisle listening", "url", url, "data", where)
	fmt.Fprintf(os.Stdout, "Aisle is listening on %s (data in %s)\n", url, where)
	fmt.Fprintf(os.Stdout, "  storefront: %s/\n  dashboard:  %s/admin\n", url, url)
	if err := a.Start(ctx); err != nil {
		stopped := ctx.Err() != nil
		cancel()
		<-served
		if stopped && errors.Is(err, context.Canceled) {
			return nil // told to stop while starting
		}
		return err
	}
	log.Info("aisle ready", "url", url)
	for _, f := range ready {
		f(a, host)
	}
	return <-served
}
