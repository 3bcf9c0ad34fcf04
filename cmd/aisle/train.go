package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/internal/wire"
	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/pipeline"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/store"
)

func newTrainCmd() *cobra.Command {
	var g globalFlags
	var models string
	var jsonOut string
	var background, tune bool
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Clean the event log, then train, measure and store the models",
		Long: `Train the recommendation models on the data directory's events.

Preprocessing (deduplication, bot and outlier filtering, event-type weights,
optional time decay and k-core) is reported step by step. Each model is then
checked against its data requirements (and trained only if it meets them),
measured on a hold-out of a fifth of each sampled user's interactions (half
the users their newest, half random ones), queried with the user's whole
remaining history as the server does (NDCG@10, Recall@10, HR@10, MRR@10; the
event weighting, the recent-event boost and a model's query-time settings,
such as itemfilter's history bonus and iALS share, are chosen there), fitted
on all the data and stored as a new version. The background models (sasrec, if the data
is sequential enough: users with time-ordered histories and an order that
predicts the next item) then train within training.background_budget and are
measured the same way, as the server trains them after the fast ones. The
server must not be running on the same data directory.`,
		Example: "  aisle train --data ./aisle-data\n  aisle train --data ./aisle-data --model ials,ease --json -",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load()
			if err != nil {
				return err
			}
			opts, err := trainOptions(cfg)
			if err != nil {
				return err
			}
			if models != "" {
				opts.Models = nil
				for _, n := range strings.Split(models, ",") {
					opts.Models = append(opts.Models, pipeline.Spec{Name: strings.TrimSpace(n)})
				}
			}
			eng, st, err := openEngine(cfg, newLogger(cfg))
			if err != nil {
				return err
			}
			defer st.Close()
			out := cmd.OutOrStdout()
			if opts.ExcludeUser, err = consentFilter(cmd.Context(), eng); err != nil {
				return err
			}
			data, err := opts.Load(cmd.Context(), eng.Store())
			if err != nil {
				return err
			}
			fmt.Fprintln(out, data.Report.String())
			fmt.Fprintf(out, "sequential: %s\n\n", data.Sequence())
			if tune {
				if opts.Models, err = tuneSpecs(cmd.Context(), out, data, opts); err != nil {
					return err
				}
			}
			bars := &trainBars{}
			opts.Progress = bars.update
			results, err := pipeline.Train(cmd.Context(), eng.Store(), data, opts)
			bars.finish()
			if err == nil && models == "" && background && opts.Background.Budget > 0 {
				// the server trains these after the fast ones; here nothing
				// else needs the cores
				opts.Background.Threads = runtime.GOMAXPROCS(0)
				opts.Background.BlendWith = pipeline.BestPartner(opts.Models, results)
				var bg []pipeline.Result
				bg, err = pipeline.TrainBackground(cmd.Context(), eng.Store(), data, opts)
				bars.finish()
				results = append(results, bg...)
			}
			if err == nil && models == "" {
				var res pipeline.Result
				res, err = trainSearchRanker(cmd.Context(), cfg, eng)
				if res.Model != "" {
					results = append(results, res)
				}
			}
			printResults(out, results)
			if jsonOut != "" {
				if werr := writeJSON(jsonOut, out, map[string]any{"preprocessing": data.Report, "results": results}); werr != nil {
					return werr
				}
			}
			return err
		},
	}
	g.register(cmd)
	g.registerShop(false)
	cmd.Flags().StringVar(&models, "model", "", "comma-separated models to train (default: the config's list, else popular,itemknn,ials,ease)")
	cmd.Flags().BoolVar(&tune, "tune", false, "first search each model's main hyper-parameters on the validation split within training.tune_budget (as the server does every training.tune_every) and train with the winners")
	cmd.Flags().BoolVar(&background, "background", true, "also train the background models (sasrec), each within training.background_budget, as the server does after the fast ones")
	cmd.Flags().StringVar(&jsonOut, "json", "", "also write the results as JSON to this file (- for standard output)")
	return cmd
}

// tuneSpecs searches the hyper-parameters of each model to train that
// declares ranges, sharing training.tune_budget among them, prints what
// each search found and returns the specs to train (the winners marked
// tuned). Parameters the config sets are not varied.
func tuneSpecs(ctx context.Context, out io.Writer, data *pipeline.Data, opts pipeline.Options) ([]pipeline.Spec, error) {
	specs := opts.Models
	if len(specs) == 0 {
		specs = pipeline.DefaultModels()
	}
	budget := opts.Background.TuneBudget
	if budget <= 0 {
		budget = 10 * time.Minute
	}
	var todo []int
	for k, spec := range specs {
		if ok, _ := spec.Check(data); ok && len(pipeline.ParamRanges(spec.Name)) > 0 {
			todo = append(todo, k)
		}
	}
	start := time.Now()
	out2 := slices.Clone(specs)
	for n, k := range todo {
		share := (budget - time.Since(start)) / time.Duration(len(todo)-n)
		fmt.Fprintf(out, "tuning %s (%s)…\n", specs[k].Name, share.Round(time.Second))
		tuned, rep, err := pipeline.Tune(ctx, data, specs[k], specs[k].Params, share, opts)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			fmt.Fprintf(out, "  %s: %v\n", specs[k].Name, err)
			continue
		}
		fmt.Fprintf(out, "  %s: %s\n", specs[k].Name, rep)
		out2[k] = tuned
	}
	fmt.Fprintln(out)
	return out2, nil
}

// trainBars draws one progress bar per model and phase on a terminal, and
// prints a line per epoch otherwise.
type trainBars struct {
	key string
	bar *progressbar.ProgressBar
}

func (b *trainBars) update(name, phase string, st model.Status) {
	key := name + "/" + phase
	if key != b.key {
		b.finish()
		b.key = key
		if st.Of > 0 {
			b.bar = newBar(int64(st.Of), fmt.Sprintf("%s (%s)", name, phase), false)
		}
	}
	desc := fmt.Sprintf("%s (%s) %s", name, phase, st.Stage)
	if !math.IsNaN(st.Loss) {
		desc += fmt.Sprintf(" loss %.4g", st.Loss)
	}
	if b.bar != nil {
		b.bar.Describe(desc)
		b.bar.Set(st.Epoch)
		return
	}
	if !isTerminal(os.Stderr) && st.Epoch > 0 {
		fmt.Fprintf(os.Stderr, "%s %d/%d\n", desc, st.Epoch, st.Of)
	}
}

func (b *trainBars) finish() {
	if b.bar != nil {
		b.bar.Finish()
		b.bar = nil
	}
	b.key = ""
}

func printResults(w io.Writer, results []pipeline.Result) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tversion\tNDCG@10\tRecall@10\tHR@10\tMRR@10\tweighting\tseconds\tnote")
	for _, r := range results {
		if r.Phase != "" {
			r.Reason = r.Phase + ": " + r.Reason
		}
		if !r.Trained {
			note := "not trained: " + r.Reason
			if r.Error != "" {
				note = "failed: " + r.Error
			}
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t%.1f\t%s\n", r.Model, r.TrainSeconds, note)
			continue
		}
		m := r.Metrics
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%.1f\t%s\n", r.Model, r.Version, metric(m, "NDCG@10"), metric(m, "Recall@10"), metric(m, "HR@10"), metric(m, "MRR@10"), r.Weighting, r.TrainSeconds, r.Reason)
	}
	tw.Flush()
}

func metric(m map[string]float64, k string) string {
	if v, ok := m[k]; ok {
		return fmt.Sprintf("%.4f", v)
	}
	return "-"
}

// writeJSON writes v as indented JSON to path, or to stdout when path is "-".
func writeJSON(path string, stdout io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// trainSearchRanker trains a new version of the search ranker from the
// search log as the server's retraining does (see package
// search/ranking), unless search.learn_ranking is off. Too little search
// feedback is a result that says so, not an error.
func trainSearchRanker(ctx context.Context, cfg config.Config, eng *engine.Engine) (pipeline.Result, error) {
	if cfg.Search.LearnRanking != nil && !*cfg.Search.LearnRanking {
		// nothing to train: do not build the index, which would embed the
		// whole catalogue (calls to a paid endpoint) for nothing
		return pipeline.Result{}, nil
	}
	log := newLogger(cfg)
	vectors, _ := eng.Store().(store.Vectors) // item vectors stored by the server, if any
	ix, _, err := wire.NewSearchIndex(ctx, cfg, log, vectors)
	if err != nil {
		return pipeline.Result{}, err
	}
	defer ix.Close()
	svc, _, err := wire.NewRecommender(cfg, eng, log)
	if err != nil {
		return pipeline.Result{}, err
	}
	clicks := search.NewClicks()
	l := wire.NewSearchRanker(cfg, ix, eng, svc, clicks, nil, log) // no impression log here: the offline check decides
	// Registered before Load, as serve does: otherwise LoadModels takes
	// the ranker's versions for recommendation models (and promotes an
	// unchecked candidate when none serves).
	svc.AddLearner(l)
	if err := svc.Load(ctx, clicks.Record); err != nil { // popularity and click-through for the ranker's features
		return pipeline.Result{}, err
	}
	if err := wire.LoadSearch(ctx, ix, clicks, eng); err != nil {
		return pipeline.Result{}, err
	}
	if err := ix.WaitVectors(ctx); err != nil { // the ranker's semantic feature needs them
		// Items the embedder rejected alone stay keyword-only, as in the
		// server, and vectors it could not store are attached all the
		// same: the ranker trains as the server's would. Only an embedder
		// that does not answer (items left to retry) stops it.
		vs := ix.VectorStats()
		if ctx.Err() != nil || vs.Pending > 0 || vs.Retrying > 0 {
			return pipeline.Result{}, fmt.Errorf("embed items for the search ranker: %w", err)
		}
		log.Warn("some items have no vector; the search ranker trains with them keyword-only", "items", vs.Failed, "error", err)
	}
	if err := l.Load(ctx); err != nil {
		log.Warn("the serving search ranker cannot load; the new version is compared with keyword ranking only", "error", err)
	}
	return l.RunOnce(ctx)
}
