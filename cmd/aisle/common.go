package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/internal/wire"
	"github.com/aisle-dev/aisle/pipeline"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// globalFlags are the flags every data-touching command has.
type globalFlags struct {
	data   string
	config string
}

func (g *globalFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&g.data, "data", "", "data directory (default ./aisle-data, or `data` in the config file)")
	cmd.Flags().StringVar(&g.config, "config", "", "YAML configuration file (optional)")
}

// load reads the config file and applies the flags over it.
func (g *globalFlags) load() (config.Config, error) {
	cfg, err := config.Load(g.config)
	if err != nil {
		return cfg, err
	}
	if g.data != "" {
		cfg.Data = g.data
	}
	return cfg, nil
}

func newLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
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
func openEngine(cfg config.Config, log *slog.Logger) (*engine.Engine, *boltstore.Store, error) {
	return wire.OpenEngine(cfg, log)
}

// trainOptions turns the config into pipeline options (see wire.TrainOptions).
func trainOptions(cfg config.Config) (pipeline.Options, error) { return wire.TrainOptions(cfg) }
