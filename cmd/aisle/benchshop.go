package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle"
	"github.com/aisle-dev/aisle/bench/shopsim"
	"github.com/aisle-dev/aisle/config"
)

func newBenchShopCmd() *cobra.Command {
	var data, base, key string
	var cfg shopsim.Config
	var withAds bool
	var ac shopsim.AdsConfig
	cmd := &cobra.Command{
		Use:   "shop",
		Short: "Simulate shoppers with true tastes from a public data set against a real server: A/B, A/A, power, interleaving",
		Long: `Start Aisle on 127.0.0.1 over a fresh data directory (or use --url), load the
Amazon Office 5-core catalogue and the older half of its shoppers' history,
then simulate days of visits: each shopper browses recommendation pages,
examines position k with probability 1/k^bias, clicks and buys by their true
taste (item co-occurrence over their whole history, held-out purchases
first), and the shop retrains after each day. The server runs an A/B test of
two models and then an interleaving comparison; A/A tests and the power for
a real 5% lift are computed on the simulated outcomes. See docs/experiments.md.

With --ads it runs sponsored products instead: the brands with the most items
advertise them on the recommendation surface (bids, budgets, the default ad
slot), half the shoppers are served with ads and half without, and the report
shows per day the sponsored impressions, clicks, spend, ROAS, revenue per
thousand answers and invalid clicks as the shop reports them, and conversion
and organic nDCG with ads against without. See docs/merchandising.md.`,
		Example: "  aisle bench shop --data $AISLE_SHARED_DATA/amazon-office-5core --days 7 --shoppers 1000\n  aisle bench shop --ads --days 3 --shoppers 600",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if data == "" {
				data = filepath.Join(os.Getenv("AISLE_SHARED_DATA"), "amazon-office-5core")
			}
			w, err := shopsim.LoadOffice(data)
			if err != nil {
				return err
			}
			cfg.Key = key
			cfg.Progress = cmd.ErrOrStderr()
			if base == "" {
				url, stop, err := startShop(ctx, cfg.ExploreShare)
				if err != nil {
					return err
				}
				defer stop()
				base = url
			}
			if withAds {
				if ac.BotVisits == 0 { // --ads-bots 0: none (AdsConfig's zero is its default)
					ac.BotVisits = -1
				}
				rep, err := shopsim.New(base, w, cfg).RunAds(ctx, ac)
				if err != nil {
					return err
				}
				rep.Write(cmd.OutOrStdout())
				return nil
			}
			rep, err := shopsim.New(base, w, cfg).Run(ctx)
			if err != nil {
				return err
			}
			rep.Write(cmd.OutOrStdout())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", "", "the amazon-office-5core folder (default $AISLE_SHARED_DATA/amazon-office-5core)")
	f.StringVar(&base, "url", "", "an empty running server to drive instead of starting one (it must train popular and ease)")
	f.StringVar(&key, "key", "", "admin key of the --url server")
	f.IntVar(&cfg.Days, "days", 7, "simulated days of the A/B test")
	f.IntVar(&cfg.ShoppersPerDay, "shoppers", 1000, "visits a simulated day")
	f.IntVar(&cfg.InterleaveDays, "interleave-days", 1, "simulated days of the interleaving comparison")
	f.Float64Var(&cfg.PositionBias, "position-bias", 1, "position k is looked at with probability 1/k^bias")
	f.StringVar(&cfg.Control, "control", "popular", "model of the control variant")
	f.StringVar(&cfg.Treatment, "treatment", "ease", "model of the treatment variant")
	f.IntVar(&cfg.AARuns, "aa-runs", 200, "A/A tests (and power runs)")
	f.IntVar(&cfg.Workers, "workers", 4, "concurrent shoppers")
	f.Uint64Var(&cfg.Seed, "seed", 1, "random seed")
	f.BoolVar(&withAds, "ads", false, "run sponsored products (campaigns of the data set's brands) instead of the A/B test: ads against no ads")
	f.IntVar(&ac.Campaigns, "ads-campaigns", 20, "with --ads: advertisers (the brands with the most items)")
	f.Float64Var(&ac.Budget, "ads-budget", 40, "with --ads: each campaign's total budget")
	f.Float64Var(&ac.Share, "ads-share", 0.5, "with --ads: share of shoppers served with ads")
	f.IntVar(&ac.BotVisits, "ads-bots", 2, "with --ads: bot visits a day (clicking every ad; 0 for none)")
	f.Float64Var(&cfg.ExploreShare, "explore", 0, "experiments.explore_share of the server (a --url server must be started with the same): share of answers shuffled, from which θ is also estimated")
	return cmd
}

// startShop serves a fresh Aisle on 127.0.0.1 that trains the popular and
// ease models only (fast), in a temporary data directory.
func startShop(ctx context.Context, exploreShare float64) (string, func(), error) {
	dir, err := os.MkdirTemp("", "aisle-shop-")
	if err != nil {
		return "", nil, err
	}
	cfg := config.Default()
	cfg.Data = dir
	cfg.Training.Models = []config.Model{{Name: "popular"}, {Name: "ease"}}
	cfg.Experiments.ExploreShare = exploreShare
	cfg.Training.ValidationUsers = 500
	cfg.Training.BackgroundBudget = 0
	cfg.Training.TuneEvery = 0
	cfg.Recommend.RetrainEvery = 0
	cfg.Recommend.RetrainAfterEvents = 0
	cfg.Search.LearnRanking = new(bool)
	sctx, cancel := context.WithCancel(ctx)
	a, err := aisle.Open(sctx, cfg)
	if err != nil {
		cancel()
		os.RemoveAll(dir)
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		a.Close()
		os.RemoveAll(dir)
		return "", nil, err
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(sctx, ln) }()
	stop := func() {
		cancel()
		select {
		case <-served:
		case <-time.After(time.Minute):
		}
		a.Close()
		os.RemoveAll(dir)
	}
	if err := a.Start(sctx); err != nil {
		stop()
		return "", nil, fmt.Errorf("start the simulated shop: %w", err)
	}
	return "http://" + ln.Addr().String(), stop, nil
}
