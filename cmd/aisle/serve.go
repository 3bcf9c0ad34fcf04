package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle"
	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/embed/embedders"
	"github.com/aisle-dev/aisle/engine"
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

// serve runs Aisle on cfg.Server.Addr until ctx ends. prepare, when set,
// runs after the server is listening and before it is marked ready (the
// demo imports and trains there, so /api/ready tells when it can answer).
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, prepare func(context.Context, *engine.Engine) error) (err error) {
	a, err := aisle.Open(ctx, cfg, aisle.WithLogger(log), aisle.WithPrepare(prepare))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, a.Close()) }()
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server using it? pick another with --addr)", cfg.Server.Addr, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String()
	log.Info("aisle listening", "url", url, "data", cfg.Data)
	fmt.Fprintf(os.Stdout, "Aisle is listening on %s (data in %s)\n", url, cfg.Data)
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
	return <-served
}
