package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/aisle-dev/aisle/eval"
	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/zoo"
)

// newEvalRecommendCmd is `aisle eval recommend`: fit models on a data set
// file under a published protocol and print their metrics.
func newEvalRecommendCmd() *cobra.Command {
	var (
		opt      eval.RecommendOptions
		jsonPath string
		params   []string
		adjust   bool
	)
	cmd := &cobra.Command{
		Use:   "recommend --format F --path P",
		Short: "Measure recommendation models offline on a data set (NDCG, Recall, HR, RMSE…)",
		Long: `Fit each model on the training part of a data set and measure it on the held-out part,
following the data set's published protocol:

  movielens-100k  folder with u.data: 5 random folds (--seed), or --folds official (u1..u5);
                  P/R/NDCG/MAP@10; --rating reports RMSE/MAE instead
  lcfn            folder with train.txt, test.txt, validation_data.json (ML-1M): Recall/NDCG@20
  s3rec           one file, a line per user in time order: leave-one-out, HR/NDCG@5,10,20
  rechorus        folder with train.csv, dev.csv, test.csv: target among its 100 candidates
                  (HR@K, NDCG@K) and over all items (HR@K:all, NDCG@K:all)
  interactions    CSV/TSV/JSONL of user,item[,timestamp[,value]]: --split random:0.2 or last

--tune searches each model's hyper-parameters on the validation split only (never the test split).
Query-time settings of models that have them (itemfilter: recency, ials_weight, pop) are chosen on one
fit on the validation split before the test fits (--adjust=false keeps the defaults; a --param
keeps its value).
Models: ` + strings.Join(zoo.Names(), ", "),
		Example: `  aisle eval recommend --format movielens-100k --path data/movielens-100k --model ease,bpr
  aisle eval recommend --format movielens-100k --path data/movielens-100k --rating --model biased-mf,neural-rating,linear
  aisle eval recommend --format lcfn --path data/movielens-1m-implicit --tune --json results.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opt.Format == "" || opt.Path == "" {
				return fmt.Errorf("--format and --path are required (formats: %s)", strings.Join(eval.Formats, ", "))
			}
			p, err := parseParams(params)
			if err != nil {
				return err
			}
			opt.Params = p
			opt.NoAdjust = !adjust
			errOut := cmd.ErrOrStderr()
			var bar *progressbar.ProgressBar
			if f, ok := errOut.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				bar = newProgressBar(f)
				opt.Progress = progressTo(bar)
			}
			rep, err := eval.RunRecommend(cmd.Context(), opt)
			if bar != nil {
				_ = bar.Clear()
			}
			if err != nil {
				return err
			}
			tableOut := cmd.OutOrStdout()
			if jsonPath == "-" {
				tableOut = errOut // stdout carries the JSON
			}
			if err := writeTable(tableOut, rep); err != nil {
				return err
			}
			if jsonPath != "" {
				return writeEvalJSON(cmd.OutOrStdout(), jsonPath, rep)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opt.Format, "format", "", "data format: "+strings.Join(eval.Formats, ", "))
	f.StringVar(&opt.Path, "path", "", "data set file or folder")
	f.StringSliceVar(&opt.Models, "model", nil, "models to evaluate, comma-separated (default: all)")
	f.IntSliceVar(&opt.Ks, "k", nil, "cut-offs, e.g. 10,20 (default: the format's published ones)")
	f.StringVar(&jsonPath, "json", "", "also write the results as JSON to FILE, or - for stdout")
	f.Uint64Var(&opt.Seed, "seed", 0, "seed for shuffling folds and splits")
	f.StringVar(&opt.Folds, "folds", "", "movielens-100k: official uses u1..u5 instead of 5 random folds")
	f.StringVar(&opt.Split, "split", "random:0.2", "interactions: random:F holds out a fraction F, last holds out each user's last")
	f.BoolVar(&opt.Rating, "rating", false, "rating prediction: report RMSE and MAE")
	f.BoolVar(&opt.Tune, "tune", false, "search hyper-parameters on the validation split first")
	f.IntVar(&opt.TuneTrials, "tune-trials", 16, "most fits --tune spends per model")
	f.BoolVar(&adjust, "adjust", true, "choose query-time settings (model.Adjustable) on the validation split")
	f.StringArrayVar(&params, "param", nil, "hyper-parameter as model.name=value (repeatable), e.g. --param ease.lambda=300")
	f.IntVar(&opt.Workers, "workers", 0, "goroutines scoring users (default: all cores)")
	return cmd
}

// parseParams reads model.name=value pairs.
func parseParams(list []string) (map[string]model.Params, error) {
	out := map[string]model.Params{}
	for _, s := range list {
		key, val, ok := strings.Cut(s, "=")
		mName, pName, ok2 := strings.Cut(key, ".")
		if !ok || !ok2 || mName == "" || pName == "" {
			return nil, fmt.Errorf("--param %q: want model.name=value, e.g. ease.lambda=300", s)
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return nil, fmt.Errorf("--param %q: value is not a number", s)
		}
		if out[mName] == nil {
			out[mName] = model.Params{}
		}
		out[mName][pName] = v
	}
	return out, nil
}

func newProgressBar(w io.Writer) *progressbar.ProgressBar {
	return progressbar.NewOptions(1000,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionShowDescriptionAtLineEnd(),
	)
}

// progressTo maps evaluation progress onto the bar: 1000 units per fit.
func progressTo(bar *progressbar.ProgressBar) func(eval.Progress) {
	maxUnits := 0
	return func(p eval.Progress) {
		if units := max(p.Steps, 1) * 1000; units != maxUnits {
			maxUnits = units
			bar.ChangeMax(units)
		}
		desc := fmt.Sprintf("%s %s %s", p.Model, p.Split, p.Stage)
		if p.Stage == "fit" && p.Status.Of > 0 {
			desc += fmt.Sprintf(" %d/%d", p.Status.Epoch, p.Status.Of)
		}
		if !math.IsNaN(p.Status.Loss) && p.Status.Loss != 0 {
			desc += fmt.Sprintf(" loss %.4g", p.Status.Loss)
		}
		bar.Describe(desc)
		_ = bar.Set(min(p.Step*1000+int(p.Fraction*1000), maxUnits))
	}
}

// metricOrder sorts metric names: by cut-off, then Precision, Recall, NDCG,
// MAP, HR; full-ranking ":all" variants after; AUC, coverage, RMSE, MAE last.
func metricOrder(names []string) {
	rank := func(n string) (int, int, int) {
		base, all := strings.CutSuffix(n, ":all")
		name, kStr, hasK := strings.Cut(base, "@")
		k, _ := strconv.Atoi(kStr)
		order := map[string]int{"Precision": 0, "Recall": 1, "NDCG": 2, "MAP": 3, "HR": 4, "AUC": 5, "Coverage": 6, "RMSE": 7, "MAE": 8}[name]
		group := 0
		if all {
			group = 1
		}
		if !hasK || name == "Coverage" {
			group = 2
		}
		return group, k, order
	}
	sort.SliceStable(names, func(a, b int) bool {
		ga, ka, oa := rank(names[a])
		gb, kb, ob := rank(names[b])
		if ga != gb {
			return ga < gb
		}
		if ka != kb {
			return ka < kb
		}
		return oa < ob
	})
}

// writeTable prints one row per model: metrics, train seconds, peak heap.
func writeTable(w io.Writer, rep *eval.Report) error {
	seen := map[string]bool{}
	var names []string
	for _, r := range rep.Results {
		for n := range r.Metrics {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	metricOrder(names)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s %s\n", rep.Format, rep.Path)
	header := append([]string{"model"}, names...)
	header = append(header, "train s", "peak MB", "params")
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	for _, r := range rep.Results {
		row := []string{r.Model}
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t\n", r.Model, r.Error)
			continue
		}
		for _, n := range names {
			v, ok := r.Metrics[n]
			if !ok {
				row = append(row, "-")
				continue
			}
			row = append(row, strconv.FormatFloat(v, 'f', 4, 64))
		}
		row = append(row, strconv.FormatFloat(r.TrainSeconds, 'f', 2, 64), strconv.FormatFloat(r.PeakHeapMB, 'f', 0, 64), formatParams(r.Params))
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	return tw.Flush()
}

func formatParams(p model.Params) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.FormatFloat(p[k], 'g', 4, 64)
	}
	return strings.Join(parts, ",")
}

// writeEvalJSON writes the report to path, or to stdout for "-". NaN metrics
// (undefined, e.g. AUC with no candidates) are written as null.
func writeEvalJSON(stdout io.Writer, path string, rep *eval.Report) error {
	clean := *rep
	clean.Results = make([]eval.Result, len(rep.Results))
	for i, r := range rep.Results {
		r.Metrics = finite(r.Metrics)
		splits := make([]eval.SplitResult, len(r.Splits))
		for j, sp := range r.Splits {
			sp.Metrics = finite(sp.Metrics)
			splits[j] = sp
		}
		r.Splits = splits
		clean.Results[i] = r
	}
	b, err := json.MarshalIndent(clean, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write results %q: %w", path, err)
	}
	return nil
}

// finite drops NaN and infinite values, which JSON cannot hold.
func finite(in map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(in))
	for k, v := range in {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out[k] = v
		}
	}
	return out
}
