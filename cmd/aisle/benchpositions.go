package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle/bench/shopsim"
)

func newBenchPositionsCmd() *cobra.Command {
	var cfg shopsim.PositionConfig
	cmd := &cobra.Command{
		Use:   "positions",
		Short: "Simulate searches under position bias: does the click model learn true relevance with the estimated propensities?",
		Long: `Simulated shoppers search, look at a list ranked by a serving ranker that
over- or underrates some items, examine position k with probability 1/k^bias and
click by their true relevance. The shop's impression log, its click attribution
and its position-based-model fit (EM) estimate the examination of each position;
the search click model then learns relevance from the clicks, plainly and
weighted by the inverse propensities. The report compares each ordering with
the true relevance (Kendall τ, NDCG@3). With --personalised the answers are
personalised recommendations instead (--queries shoppers over one catalogue),
where the EM fit is confounded, and --explore shuffles that share of them
(experiments.explore_share): the report compares the EM fit and the estimate
from the explored answers with the true curve, and gives the cost of exploring
in expected clicks. With --appeal (a share of relevance common to every shopper)
it also compares the popular list recommend's ledger learns from the clicks,
plainly and weighted by the estimated propensities, once and in the list's daily
feedback loop. See docs/experiments.md.`,
		Example: "  aisle bench positions --bias 1.5 --seed 2\n  aisle bench positions --personalised --queries 300 --searches 40000 --explore 0.02 --seed 4\n  aisle bench positions --personalised --queries 300 --searches 40000 --explore 0.05 --appeal 0.5 --bias 2 --seed 4",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := os.MkdirTemp("", "aisle-positions-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			cfg.Dir = dir
			rep, err := shopsim.PositionStudy(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			rep.Write(cmd.OutOrStdout())
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Queries, "queries", 40, "distinct queries")
	f.IntVar(&cfg.Results, "results", 10, "results per list")
	f.IntVar(&cfg.Sessions, "searches", 12000, "simulated searches")
	f.IntVar(&cfg.Days, "days", 8, "days (the serving ranker's daily error is redrawn each day)")
	f.Float64Var(&cfg.Bias, "bias", 1, "position k is examined with probability 1/k^bias")
	f.Float64Var(&cfg.Skew, "skew", 0.2, "spread of the serving ranker's persistent error per item")
	f.Float64Var(&cfg.Noise, "noise", 0.1, "spread of the serving ranker's daily error")
	f.Uint64Var(&cfg.Seed, "seed", 1, "random seed")
	f.BoolVar(&cfg.Personalised, "personalised", false, "personalised recommendation answers instead of searches")
	f.Float64Var(&cfg.ExploreShare, "explore", 0, "with --personalised: share of answers shuffled (experiments.explore_share)")
	f.Float64Var(&cfg.Appeal, "appeal", 0, "with --personalised: share of relevance that is an item's appeal to every shopper; above 0 the report also compares the popular list learnt from the clicks, plain and position-corrected")
	return cmd
}
