package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/search/ltr"
	"github.com/aisle-dev/aisle/search/searcheval"
)

// ltrFlags are the learning-to-rank settings of `aisle eval search --mode ltr`.
type ltrFlags struct {
	algorithm  string
	trees      int
	rate       float64
	leaves     int
	minLeaf    int
	featFrac   float64
	queryFrac  float64
	depth      int
	validEvery int
	folds      int
	seed       uint64
	modelPath  string
	savePath   string
}

func (l *ltrFlags) register(f *pflag.FlagSet) {
	d := ltr.DefaultParams(nil)
	f.StringVar(&l.algorithm, "ltr-algorithm", string(d.Algorithm), "learning to rank: lambdamart, linear (coordinate ascent) or auto (the better on validation)")
	f.IntVar(&l.trees, "ltr-trees", d.Trees, "most boosting rounds (early stopping on validation queries)")
	f.Float64Var(&l.rate, "ltr-rate", d.LearningRate, "LambdaMART learning rate")
	f.IntVar(&l.leaves, "ltr-leaves", d.MaxLeaves, "LambdaMART leaves per tree")
	f.IntVar(&l.minLeaf, "ltr-min-leaf", d.MinDocsPerLeaf, "LambdaMART fewest documents per leaf")
	f.Float64Var(&l.featFrac, "ltr-feature-fraction", d.FeatureFraction, "share of features per tree")
	f.Float64Var(&l.queryFrac, "ltr-query-fraction", d.QueryFraction, "share of training queries per tree")
	f.IntVar(&l.depth, "ltr-depth", 0, "candidates re-ranked from each of the keyword and semantic lists (default: the fusion depth)")
	f.IntVar(&l.validEvery, "ltr-valid-every", 4, "hold out every n-th training query for early stopping")
	f.IntVar(&l.folds, "folds", 5, "cross-validation folds for --format qrels (no split)")
	f.Uint64Var(&l.seed, "seed", 1, "random seed of training")
	f.StringVar(&l.modelPath, "ltr-model", "", "score with this saved model instead of training")
	f.StringVar(&l.savePath, "ltr-save", "", "save the trained model (esci: trained on the train split) to FILE")
}

func (l *ltrFlags) params() ltr.Params {
	p := ltr.DefaultParams(search.FeatureNames())
	p.Algorithm = ltr.Algorithm(l.algorithm)
	p.Trees, p.LearningRate, p.MaxLeaves, p.MinDocsPerLeaf = l.trees, l.rate, l.leaves, l.minLeaf
	p.FeatureFraction, p.QueryFraction, p.Seed = l.featFrac, l.queryFrac, l.seed
	return p
}

// evalLTR trains (or loads) a ranker and evaluates ModeLTR on ds.
func evalLTR(ctx context.Context, errw io.Writer, ix *search.Index, ds *searcheval.Dataset, l *ltrFlags, progress searcheval.Progress) (*searcheval.Report, error) {
	opt := searcheval.LTROptions{
		Params:     l.params(),
		ValidEvery: l.validEvery,
		Folds:      l.folds,
		Log:        func(format string, a ...any) { fmt.Fprintf(errw, "\r"+format+"\n", a...) },
	}
	if l.modelPath != "" {
		f, err := os.Open(l.modelPath)
		if err != nil {
			return nil, fmt.Errorf("--ltr-model: %w", err)
		}
		m, err := ltr.Load(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("--ltr-model %q: %w", l.modelPath, err)
		}
		opt.Model = m
	}
	res, err := searcheval.EvaluateLTR(ctx, ix, ds, opt, progress)
	if err != nil {
		return nil, err
	}
	if imp := res.Model.Importances(); len(imp) > 0 {
		fmt.Fprintf(errw, "\rmodel: %s, %d trees; most used features:", res.Model.Algorithm(), res.Model.Trees())
		for _, im := range imp[:min(8, len(imp))] {
			fmt.Fprintf(errw, " %s %.3g", im.Feature, im.Value)
		}
		fmt.Fprintln(errw)
	}
	if l.savePath != "" && l.modelPath == "" {
		f, err := os.Create(l.savePath)
		if err != nil {
			return nil, fmt.Errorf("--ltr-save: %w", err)
		}
		if err := res.Model.Save(f); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("--ltr-save: %w", err)
		}
	}
	return res.Report, nil
}
