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
	"github.com/aisle-dev/aisle/shops"
)

func newDemoCmd() *cobra.Command {
	var f serveFlags
	var gift bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run Aisle on two real demo shops (Amazon Office Products, a UK gift shop) with no setup",
		Long: `Run Aisle on its embedded demo catalogues, as two shops of one server: the
default shop has 2,420 office products, 4,905 shoppers and 53,258 purchases
from the Amazon Office Products 5-core data set (see demo/data/SOURCE.md for
its source and citation); the shop "gift" has 3,791 products with prices in
GBP, 1,043 customers and 91,160 purchases from the UCI Online Retail data set
(CC BY 4.0; demo/data/gift/SOURCE.md). Switch shops at /shops; the gift
shop's API is under /api/shops/gift/….

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
			// the second shop, registered before the server opens the registry
			if gift {
				if _, _, err := shopData(ctx, cfg.Data, cfg.Store, demo.GiftShop, true); err != nil {
					return err
				}
			}
			giftShop := func(id string) []aisle.Option {
				if id != demo.GiftShop {
					return nil
				}
				return []aisle.Option{aisle.WithPrepare(func(ctx context.Context, eng *engine.Engine) error {
					if err := loadDemo(ctx, eng, giftFiles); err != nil {
						return err
					}
					_, err := trainIfNone(ctx, cfg, eng)
					return err
				})}
			}
			var quick bool // only the quick models were trained before ready
			log := newLogger(cfg)
			f.warnKeyFlags(log)
			return serve(ctx, cfg, log, true, func(ctx context.Context, eng *engine.Engine) error {
				if err := loadDemo(ctx, eng, officeFiles); err != nil {
					return err
				}
				var err error
				quick, err = trainIfNone(ctx, cfg, eng)
				return err
			}, giftShop, func(a *aisle.Aisle, host *shops.Host) {
				if quick && a.RetrainInBackground() {
					fmt.Println("Training the other models in the background; each serves once it validates better (GET /api/models).")
				}
				if !gift {
					return
				}
				// the gift shop loads now (importing and training on
				// first start) rather than on its first page
				go func() {
					if err := host.Load(ctx, demo.GiftShop); err != nil {
						if ctx.Err() == nil {
							fmt.Fprintf(os.Stderr, "The gift shop could not be loaded: %v\n", err)
						}
						return
					}
					fmt.Println("The gift shop (UCI Online Retail, prices in GBP) is ready: switch to it at /shops/gift, API under /api/shops/gift/…")
				}()
			})
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&gift, "gift-shop", true, "also serve the gift shop (shop \"gift\"), imported and trained in the background after the default shop is ready")
	return cmd
}

// demoFile is one embedded file of a demo shop.
type demoFile struct {
	kind  engine.Kind
	name  string
	total int
}

// The files of the demo's two shops.
var (
	officeFiles = []demoFile{
		{engine.KindItems, demo.ItemsFile, demo.NumItems},
		{engine.KindUsers, demo.UsersFile, demo.NumUsers},
		{engine.KindEvents, demo.EventsFile, demo.NumEvents},
	}
	giftFiles = []demoFile{
		{engine.KindItems, demo.GiftItemsFile, demo.NumGiftItems},
		{engine.KindUsers, demo.GiftUsersFile, demo.NumGiftUsers},
		{engine.KindEvents, demo.GiftEventsFile, demo.NumGiftEvents},
	}
)

// loadDemo imports a demo shop's embedded files when its data directory
// has no items.
func loadDemo(ctx context.Context, eng *engine.Engine, files []demoFile) error {
	n, err := eng.Store().CountItems(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		fmt.Printf("Data directory already holds %d items: skipping the demo import.\n", n)
		return nil
	}
	for _, job := range files {
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
