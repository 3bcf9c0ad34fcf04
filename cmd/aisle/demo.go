package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/demo"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/pipeline"
)

func newDemoCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run Aisle on a real demo catalogue (Amazon Office Products) with no setup",
		Long: `Run Aisle on its embedded demo catalogue: 2,420 office products, 4,905 shoppers
and 53,258 purchases from the Amazon Office Products 5-core data set (see
demo/data/SOURCE.md for its source and citation).

On first start the catalogue is imported into --data (default ./aisle-data),
then the API is served. GET /api/ready answers 200 once it can serve.`,
		Example: "  aisle demo\n  aisle demo --addr 127.0.0.1:9090 --data /tmp/aisle-demo",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var quick bool // only the quick models were trained before ready
			log := newLogger(cfg)
			f.warnKeyFlags(log)
			return serve(ctx, cfg, log, true, func(ctx context.Context, eng *engine.Engine) error {
				if err := loadDemo(ctx, eng); err != nil {
					return err
				}
				var err error
				quick, err = trainIfNone(ctx, cfg, eng)
				return err
			}, nil, func(a *aisle.Aisle) {
				if quick && a.RetrainInBackground() {
					fmt.Println("Training the other models in the background; each serves once it validates better (GET /api/models).")
				}
			})
		},
	}
	f.register(cmd)
	return cmd
}

// loadDemo imports the embedded catalogue when the data directory has no items.
func loadDemo(ctx context.Context, eng *engine.Engine) error {
	n, err := eng.Store().CountItems(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		fmt.Printf("Data directory already holds %d items: skipping the demo import.\n", n)
		return nil
	}
	for _, job := range []struct {
		kind  engine.Kind
		name  string
		total int
	}{
		{engine.KindItems, demo.ItemsFile, demo.NumItems},
		{engine.KindUsers, demo.UsersFile, demo.NumUsers},
		{engine.KindEvents, demo.EventsFile, demo.NumEvents},
	} {
		r, err := demo.Open(job.name)
		if err != nil {
			return err
		}
		bar := newBar(int64(job.total), "importing demo "+string(job.kind), false)
		rep, err := eng.Import(ctx, job.kind, engine.ImportSource{R: r, Format: catalog.JSONL, Progress: func(n int) {
			if bar != nil {
				bar.Set(n)
			}
		}})
		r.Close()
		if bar != nil {
			bar.Finish()
		}
		printReport(os.Stdout, "the demo catalogue", rep)
		if err != nil {
			return fmt.Errorf("import demo %s: %w", job.kind, err)
		}
	}
	return nil
}

// trainIfNone trains models when none is stored yet, so the demo answers
// with a model from its first request. With the default model list only
// the quick ones (pipeline.QuickModels) train before the shop is ready,
// which takes seconds; quick then reports that the rest should train in
// the background. A config naming its models has them all trained here.
func trainIfNone(ctx context.Context, cfg config.Config, eng *engine.Engine) (quick bool, err error) {
	metas, err := eng.Store().ListModels(ctx, "")
	if err != nil || len(metas) > 0 {
		return false, err
	}
	opts, err := trainOptions(cfg)
	if err != nil {
		return false, err
	}
	if len(opts.Models) == 0 {
		opts.Models, quick = pipeline.QuickModels(), true
	}
	fmt.Println("Training the models on the demo data (first start only)…")
	data, err := opts.Load(ctx, eng.Store())
	if err != nil {
		return false, err
	}
	bars := &trainBars{}
	opts.Progress = bars.update
	results, err := pipeline.Train(ctx, eng.Store(), data, opts)
	bars.finish()
	printResults(os.Stdout, results)
	return quick, err
}
