package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle/eval"
	"github.com/aisle-dev/aisle/eval/roweval"
	"github.com/aisle-dev/aisle/recommend"
)

// newEvalRowsCmd is `aisle eval rows`: the shop rows (buy it again,
// complete your basket, cold start from user attributes) on a temporal
// split of a shop's purchase log.
func newEvalRowsCmd() *cobra.Command {
	var (
		format, path, jsonPath string
		split, valSplit, end   string
		k, maxBaskets          int
		tune                   bool
		floor, prop, slack     float64
		userPrior              float64
	)
	cmd := &cobra.Command{
		Use:   "rows --format online-retail --path P",
		Short: "Measure buy it again, complete your basket and attribute cold start on a temporal split",
		Long: `Feed a recommendation service the catalogue and every purchase before --split, as a live shop
would, then measure on the purchases from --split to --end:

  buy again     each user's first test basket; target = its items the user bought before.
                buy-again vs user-most-often (the user's items by how often they bought them),
                user-most-recent, user-items-by-popularity and popularity. HR, NDCG, Recall @K.
  next basket   each test basket of 2+ items: given its first item, target = the rest.
                complete-basket vs bought-together, raw basket co-counts (with and without the
                session fill-up) and popularity. HR, Recall @K.
  cold start    users whose first purchase is after --split: their first basket from their
                attributes (country) vs popularity.
  new arrivals  a returning user's first test basket holding items first sold in the 30 days
                before it: new-arrivals ranked by content affinity vs newest first.

--tune picks the buy-again parameters on a validation split (train before --val-split, measure
from --val-split to --split) and then reports the test split with the best of them.
Formats: online-retail (the UCI Online Retail .tar.gz of per-day CSVs, or its folder).`,
		Example: `  aisle eval rows --format online-retail --path ../shared/data/online-retail-uci
  aisle eval rows --format online-retail --path ../shared/data/online-retail-uci --tune --json rows.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != eval.FormatOnlineRetail || path == "" {
				return fmt.Errorf("--format %s and --path are required", eval.FormatOnlineRetail)
			}
			day := func(flag, v string) (time.Time, error) {
				if v == "" {
					return time.Time{}, nil
				}
				t, err := time.Parse(time.DateOnly, v)
				if err != nil {
					return t, fmt.Errorf("--%s=%q: want a date like 2011-09-01", flag, v)
				}
				return t, nil
			}
			at, err := day("split", split)
			if err != nil {
				return err
			}
			endT, err := day("end", end)
			if err != nil {
				return err
			}
			valT, err := day("val-split", valSplit)
			if err != nil {
				return err
			}
			errOut := cmd.ErrOrStderr()
			fmt.Fprintf(errOut, "reading %s…\n", path)
			shop, err := eval.LoadOnlineRetail(cmd.Context(), path)
			if err != nil {
				return err
			}
			fmt.Fprintf(errOut, "%d items, %d customers, %d purchases (dropped: %v)\n", len(shop.Items), len(shop.Users), len(shop.Events), shop.Dropped)
			opt := roweval.RowsOptions{SplitAt: at, End: endT, K: k, MaxBaskets: maxBaskets, Params: recommend.DefaultRepurchaseParams()}
			for _, p := range []struct {
				v   float64
				dst *float64
			}{{floor, &opt.Params.Floor}, {prop, &opt.Params.Propensity}, {slack, &opt.Params.OverdueSlack}, {userPrior, &opt.Params.UserPrior}} {
				if p.v >= 0 {
					*p.dst = p.v
				}
			}
			var bar *progressbar.ProgressBar
			if f, ok := errOut.(*os.File); ok && isTerminal(f) {
				bar = newProgressBar(f)
				opt.Progress = func(stage string, done, total int) {
					bar.Describe(stage)
					_ = bar.Set(int(1000 * float64(done) / float64(max(total, 1))))
				}
			} else {
				last := ""
				opt.Progress = func(stage string, _, _ int) {
					if stage != last {
						fmt.Fprintf(errOut, "%s…\n", stage)
						last = stage
					}
				}
			}
			out := cmd.OutOrStdout()
			if jsonPath == "-" {
				out = errOut
			}
			var tuning []tuneResult
			if tune {
				best, res, err := tuneRepurchase(cmd, shop, valT, at, opt)
				if err != nil {
					return err
				}
				tuning = res
				opt.Params = best
				fmt.Fprintf(out, "validation (train before %s, measure to %s), buy-again NDCG@%d:\n", valSplit, split, max(k, 1))
				tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "floor\tpropensity\toverdue slack\tNDCG\tHR")
				for _, r := range res {
					fmt.Fprintf(tw, "%.2f\t%.1f\t%.1f\t%.4f\t%.4f\n", r.Params.Floor, r.Params.Propensity, r.Params.OverdueSlack, r.NDCG, r.HR)
				}
				tw.Flush()
			}
			rep, err := roweval.EvalRows(cmd.Context(), shop, opt)
			if bar != nil {
				_ = bar.Clear()
			}
			if err != nil {
				return err
			}
			writeRowsReport(out, rep)
			if jsonPath != "" {
				b, _ := json.MarshalIndent(map[string]any{"report": rep, "tuning": tuning}, "", "  ")
				if jsonPath == "-" {
					_, err = cmd.OutOrStdout().Write(append(b, '\n'))
				} else {
					err = os.WriteFile(jsonPath, append(b, '\n'), 0o644)
				}
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", eval.FormatOnlineRetail, "data set format: online-retail")
	f.StringVar(&path, "path", "", "the data set (.tar.gz, .csv or the folder holding it)")
	f.StringVar(&split, "split", "2011-09-01", "purchases before this date train, the rest test")
	f.StringVar(&end, "end", "", "purchases from this date on are ignored (default: none)")
	f.StringVar(&valSplit, "val-split", "2011-06-01", "with --tune: validation trains before this date and measures up to --split")
	f.IntVar(&k, "k", 10, "cut-off of HR, NDCG and Recall")
	f.IntVar(&maxBaskets, "max-baskets", 0, "at most this many next-basket cases, evenly spaced (0 = all)")
	f.BoolVar(&tune, "tune", false, "choose the buy-again parameters on the validation split first")
	f.Float64Var(&floor, "floor", -1, "buy-again Floor (how much an item that is not due still scores; large = ignore timing); default: recommend.DefaultRepurchaseParams")
	f.Float64Var(&prop, "propensity", -1, "buy-again Propensity weight; default: recommend.DefaultRepurchaseParams")
	f.Float64Var(&userPrior, "user-prior", -1, "buy-again UserPrior (0 = ignore the user's own rhythm); default: recommend.DefaultRepurchaseParams")
	f.Float64Var(&slack, "overdue-slack", -1, "buy-again OverdueSlack; default: recommend.DefaultRepurchaseParams")
	f.StringVar(&jsonPath, "json", "", "also write the report as JSON to this file (- = stdout)")
	return cmd
}

type tuneResult struct {
	Params recommend.RepurchaseParams `json:"params"`
	NDCG   float64                    `json:"ndcg"`
	HR     float64                    `json:"hr"`
}

// repurchaseGrid is the small grid --tune searches.
func repurchaseGrid() []recommend.RepurchaseParams {
	d := recommend.DefaultRepurchaseParams()
	var out []recommend.RepurchaseParams
	for _, floor := range []float64{1, 4, 16} {
		for _, prop := range []float64{1, 2, 4} {
			for _, slack := range []float64{2, 4, 8} {
				p := d
				p.Floor, p.Propensity, p.OverdueSlack = floor, prop, slack
				out = append(out, p)
			}
		}
	}
	return out
}

func tuneRepurchase(cmd *cobra.Command, shop *eval.Shop, valAt, testAt time.Time, base roweval.RowsOptions) (recommend.RepurchaseParams, []tuneResult, error) {
	if !valAt.Before(testAt) {
		return recommend.RepurchaseParams{}, nil, fmt.Errorf("--val-split must be before --split")
	}
	var res []tuneResult
	grid := repurchaseGrid()
	for n, p := range grid {
		fmt.Fprintf(cmd.ErrOrStderr(), "validation %d/%d: floor %.2f propensity %.1f slack %.1f\n", n+1, len(grid), p.Floor, p.Propensity, p.OverdueSlack)
		opt := base
		opt.SplitAt, opt.End, opt.Params = valAt, testAt, p
		opt.BuyAgainOnly = true
		opt.Progress = nil
		rep, err := roweval.EvalRows(cmd.Context(), shop, opt)
		if err != nil {
			return p, nil, err
		}
		m := rep.BuyAgain["buy-again"]
		res = append(res, tuneResult{Params: p, NDCG: m.NDCG, HR: m.HR})
	}
	best := slices.MaxFunc(res, func(a, b tuneResult) int {
		if a.NDCG != b.NDCG {
			if a.NDCG < b.NDCG {
				return -1
			}
			return 1
		}
		return 0
	})
	return best.Params, res, nil
}

func writeRowsReport(w io.Writer, rep *roweval.RowsReport) {
	fmt.Fprintf(w, "train: %d purchases before %s; test from %s", rep.TrainEvents, rep.SplitAt.Format(time.DateOnly), rep.SplitAt.Format(time.DateOnly))
	if rep.End.Year() < 9999 {
		fmt.Fprintf(w, " to %s", rep.End.Format(time.DateOnly))
	}
	fmt.Fprintf(w, "; buy-again params %+v\n", rep.Params)
	section := func(title string, cases int, m map[string]roweval.RowsMetrics) {
		fmt.Fprintf(w, "\n%s (%d cases)\n", title, cases)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "method\tHR@%d\tNDCG@%d\tRecall@%d\n", rep.K, rep.K, rep.K)
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		slices.SortFunc(names, func(a, b string) int {
			if m[a].NDCG != m[b].NDCG {
				if m[a].NDCG > m[b].NDCG {
					return -1
				}
				return 1
			}
			return 0
		})
		for _, n := range names {
			fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%.4f\n", n, m[n].HR, m[n].NDCG, m[n].Recall)
		}
		tw.Flush()
	}
	section("buy it again: the first test basket's rebought items", rep.BuyAgainUsers, rep.BuyAgain)
	section("next basket: the rest of a basket given its first item", rep.NextBaskets, rep.NextBasket)
	section("cold start: a new customer's first basket", rep.ColdUsers, rep.ColdStart)
	section("new arrivals: the items of a returning customer's basket added in the 30 days before it", rep.NewArrivalUsers, rep.NewArrivals)
}
