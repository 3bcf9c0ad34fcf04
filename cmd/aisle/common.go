package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/internal/wire"
	"github.com/aisle-dev/aisle/pipeline"
	"github.com/aisle-dev/aisle/shops"
	"github.com/aisle-dev/aisle/store/boltstore"
	"github.com/aisle-dev/aisle/store/pgstore"
)

// globalFlags are the flags every data-touching command has, and the
// binding of flags to configuration keys: a bound flag given on the
// command line overrides the environment (AISLE_<SECTION>_<KEY>), which
// overrides the config file (see config.Resolve).
type globalFlags struct {
	config   string
	cmd      *cobra.Command
	bindings []flagBinding
	// shop, with registerShop, is the shop (of the data directory) the
	// command works on; createShop registers it when it is not yet.
	shop       string
	createShop bool
}

// registerShop adds --shop: the command then works on that shop's data
// directory (docs/shops.md) instead of the default shop's.
func (g *globalFlags) registerShop(create bool) {
	usage := "work on this shop of the data directory (default: the default shop); see GET /api/shops"
	if create {
		usage += "; a shop not yet registered is created"
	}
	g.cmd.Flags().StringVar(&g.shop, "shop", "", usage)
	g.createShop = create
}

// flagBinding ties a flag to the configuration key it sets.
type flagBinding struct{ flag, key string }

func (g *globalFlags) register(cmd *cobra.Command) {
	g.cmd = cmd
	cmd.Flags().StringVar(&g.config, "config", "", "YAML configuration file (optional; or env AISLE_CONFIG); see docs/aisle.example.yaml")
	g.bind("data", "data", "", "data directory (default ./aisle-data; env AISLE_DATA)")
	g.bind("store", "store", "", "keep the data in PostgreSQL instead of --data: postgres://user@host:5432/db?sslmode=disable (env AISLE_STORE; see docs/postgres.md)")
	g.bind("log-format", "server.log_format", "", "log format: text (default) or json")
	g.bind("log-level", "server.log_level", "", "log level: debug, info (default), warn or error")
}

// bind adds a flag that sets key when given. kind is "" (text), "int",
// "bool" or "duration"; the flag's own default is unused (the config's
// is the default), so usage should say it.
func (g *globalFlags) bind(flag, key, kind, usage string) {
	fs := g.cmd.Flags()
	switch kind {
	case "int":
		fs.Int64(flag, 0, usage)
	case "bool":
		fs.Bool(flag, false, usage)
	case "duration":
		fs.Duration(flag, 0, usage)
	default:
		fs.String(flag, "", usage)
	}
	g.bindings = append(g.bindings, flagBinding{flag, key})
}

// load resolves the configuration: defaults, file, environment, then the
// bound flags that were given.
func (g *globalFlags) load() (config.Config, error) {
	path := g.config
	if path == "" {
		path = os.Getenv("AISLE_CONFIG")
	}
	var over []config.Override
	for _, b := range g.bindings {
		if f := g.cmd.Flags().Lookup(b.flag); f != nil && f.Changed {
			over = append(over, config.Override{Key: b.key, Value: f.Value.String(), From: "--" + b.flag})
		}
	}
	cfg, err := config.Resolve(path, os.LookupEnv, over)
	if err != nil || g.shop == "" || g.shop == shops.DefaultID {
		return cfg, err
	}
	data, own, err := shopData(cmdContext(g.cmd), cfg.Data, cfg.Store, g.shop, g.createShop)
	if err != nil {
		return cfg, err
	}
	// the shop's own configuration keys (training.models, events.weights…)
	if cfg, err = shops.ApplyConfig(cfg, own); err != nil {
		return cfg, fmt.Errorf("shop %q: %w", g.shop, err)
	}
	cfg.Data, cfg.Shop = data, g.shop
	return cfg, nil
}

// shopData is the data directory of shop in the deployment's data
// directory and the shop's own configuration keys, registering the shop
// first when create is set. With a PostgreSQL store (storeURL) the
// registry is the database's, shared by the replicas.
func shopData(ctx context.Context, data, storeURL, shop string, create bool) (string, map[string]any, error) {
	if err := shops.ValidID(shop); err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		return "", nil, fmt.Errorf("create the data directory: %w", err)
	}
	var reg *shops.Registry
	var err error
	if pgstore.IsURL(storeURL) {
		pool, err := pgstore.OpenPool(ctx, storeURL, 2)
		if err != nil {
			return "", nil, err
		}
		defer pool.Close()
		reg, err = shops.OpenPostgresRegistry(ctx, pool)
		if err != nil {
			return "", nil, err
		}
	} else if reg, err = shops.OpenRegistry(filepath.Join(data, "shops.db")); err != nil {
		return "", nil, err
	}
	defer reg.Close()
	sh, ok := reg.Get(shop)
	if !ok {
		if !create {
			return "", nil, fmt.Errorf("no shop %q in %s: create it with POST /api/shops, or import into it first (aisle import --shop %s)", shop, data, shop)
		}
		if sh, err = reg.Create(shop, shops.Settings{}, time.Now()); err != nil {
			return "", nil, err
		}
		fmt.Fprintf(os.Stderr, "Created shop %q in %s.\n", shop, data)
	}
	return shops.Dir(data, shop), sh.Settings.Config, nil
}

// existingDataFile resolves the configuration and returns the data file of
// its data directory, which must exist (for the commands that read a data
// file without opening a store on it: check, recover).
func (g *globalFlags) existingDataFile(command string) (config.Config, string, error) {
	cfg, err := g.loadEmbedded(command)
	if err != nil {
		return cfg, "", err
	}
	path := filepath.Join(cfg.Data, boltstore.FileName)
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return cfg, "", fmt.Errorf("%s does not exist: check --data (the data directory holds %s)", path, boltstore.FileName)
		}
		return cfg, "", fmt.Errorf("%s: %w (check --data)", path, err)
	}
	return cfg, path, nil
}

// loadEvalConfig resolves the configuration an evaluation measures: the
// defaults, the file (path, else AISLE_CONFIG), then AISLE_* variables, as
// `aisle serve` reads them. Evaluations take no data directory.
func loadEvalConfig(path string) (config.Config, error) {
	if path == "" {
		path = os.Getenv("AISLE_CONFIG")
	}
	return config.Resolve(path, os.LookupEnv, nil)
}

// newLogger is the logger the config asks for, on standard error.
func newLogger(cfg config.Config) *slog.Logger {
	level := slog.LevelInfo
	switch cfg.Server.LogLevel {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Server.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// isTerminal reports whether f is an interactive terminal (progress bars
// are drawn only there).
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// newBar returns a progress bar with ETA on stderr when it is a terminal,
// and nil otherwise (callers then print occasional lines).
func newBar(total int64, desc string, bytes bool) *progressbar.ProgressBar {
	if !isTerminal(os.Stderr) {
		return nil
	}
	opts := []progressbar.Option{
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionSetWidth(30),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(os.Stderr) }),
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true))
	} else {
		opts = append(opts, progressbar.OptionShowIts())
	}
	return progressbar.NewOptions64(total, opts...)
}

// openEngine opens the store in cfg.Data and builds an engine on it (see
// wire.OpenEngine); the caller closes the store.
func openEngine(cfg config.Config, log *slog.Logger) (*engine.Engine, wire.Store, error) {
	return wire.OpenEngine(cfg, log)
}

// trainOptions turns the config into pipeline options (see wire.TrainOptions).
func trainOptions(cfg config.Config) (pipeline.Options, error) { return wire.TrainOptions(cfg) }

// loadEmbedded is load for commands that work on the embedded store's data
// file only: they refuse a PostgreSQL store rather than act on the data
// directory while the data lives elsewhere.
func (g *globalFlags) loadEmbedded(command string) (config.Config, error) {
	cfg, err := g.load()
	if err == nil && cfg.Store != "" {
		err = fmt.Errorf("aisle %s works on the data directory's file, but the store is PostgreSQL (--store or AISLE_STORE): use pg_dump, pg_restore and PostgreSQL's own tools there (see docs/postgres.md)", command)
	}
	return cfg, err
}

// cmdContext is the command's context (Background before it runs).
func cmdContext(cmd *cobra.Command) context.Context {
	if cmd == nil || cmd.Context() == nil {
		return context.Background()
	}
	return cmd.Context()
}
