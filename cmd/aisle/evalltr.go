package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/search/ltr"
	"github.com/aisle-dev/aisle/search/searcheval"
)

// ltrFlags are the learning-to-rank options of `aisle eval search --mode
// ltr` that belong in everyday use; the research settings live in the
// --ltr-config file (ltrConfig).
type ltrFlags struct {
	configPath string
	folds      int
	modelPath  string
	savePath   string
}

func (l *ltrFlags) register(f *pflag.FlagSet) {
	f.StringVar(&l.configPath, "ltr-config", "", "YAML file of learning-to-rank research settings (see docs/ltr/default.yaml; default: those values)")
	f.IntVar(&l.folds, "folds", 5, "cross-validation folds for --format qrels (no split)")
	f.StringVar(&l.modelPath, "ltr-model", "", "score with this saved model instead of training")
	f.StringVar(&l.savePath, "ltr-save", "", "save the trained model (esci: trained on the train split) to FILE")
}

// ltrConfig holds the research settings of `aisle eval search --mode ltr`,
// read from the YAML file of --ltr-config; docs/ltr/default.yaml lists
// every key with its default (TestLTRConfigDefaultFile checks it).
type ltrConfig struct {
	// Algorithm is lambdamart, linear (coordinate ascent) or auto (the
	// better on validation).
	Algorithm string `yaml:"algorithm"`
	// Trees is the most boosting rounds (early stopping on validation).
	Trees int `yaml:"trees"`
	// LearningRate is LambdaMART's shrinkage.
	LearningRate float64 `yaml:"learning_rate"`
	// Leaves and MinLeaf bound LambdaMART's trees.
	Leaves  int `yaml:"leaves"`
	MinLeaf int `yaml:"min_leaf"`
	// FeatureFraction and QueryFraction are the shares of features and of
	// training queries each tree sees.
	FeatureFraction float64 `yaml:"feature_fraction"`
	QueryFraction   float64 `yaml:"query_fraction"`
	// Depth is the candidates re-ranked from each of the keyword and
	// semantic lists (0: the fusion depth).
	Depth int `yaml:"depth"`
	// Bags averages this many LambdaMART models fitted on random 80% of
	// the training queries.
	Bags int `yaml:"bags"`
	// Ignore names features the model must not use (search.FeatureNames).
	Ignore []string `yaml:"ignore"`
	// GradientK is the cut-off of the nDCG whose gradients LambdaMART
	// follows (0: 10).
	GradientK int `yaml:"gradient_k"`
	// InnerFolds is the cross-validation folds inside the training queries
	// that choose the model size; ValidEvery > 0 instead holds out every
	// n-th training query for early stopping.
	InnerFolds int `yaml:"inner_folds"`
	ValidEvery int `yaml:"valid_every"`
	// Base is the feature that starts the LambdaMART score ("" for none).
	Base string `yaml:"base"`
	// Seed is the random seed of training.
	Seed uint64 `yaml:"seed"`
}

// defaultLTRConfig is the settings without a --ltr-config file.
func defaultLTRConfig() ltrConfig {
	d := ltr.DefaultParams(nil)
	return ltrConfig{
		Algorithm:       string(d.Algorithm),
		Trees:           d.Trees,
		LearningRate:    d.LearningRate,
		Leaves:          d.MaxLeaves,
		MinLeaf:         d.MinDocsPerLeaf,
		FeatureFraction: d.FeatureFraction,
		QueryFraction:   d.QueryFraction,
		Bags:            1,
		InnerFolds:      5,
		Base:            search.LTRBaseFeature,
		Seed:            1,
	}
}

// parseLTRConfig reads YAML settings over the defaults: keys it does not
// know and values out of range are errors (nothing is half-applied).
func parseLTRConfig(data []byte) (ltrConfig, error) {
	c := defaultLTRConfig()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return ltrConfig{}, err
	}
	if err := c.validate(); err != nil {
		return ltrConfig{}, err
	}
	return c, nil
}

func (c *ltrConfig) validate() error {
	switch ltr.Algorithm(c.Algorithm) {
	case ltr.AlgorithmLambdaMART, ltr.AlgorithmLinear, ltr.AlgorithmAuto:
	default:
		return fmt.Errorf("algorithm %q: want lambdamart, linear or auto", c.Algorithm)
	}
	for _, v := range []struct {
		name string
		v    int
	}{{"trees", c.Trees}, {"leaves", c.Leaves}, {"min_leaf", c.MinLeaf}, {"depth", c.Depth}, {"bags", c.Bags},
		{"gradient_k", c.GradientK}, {"inner_folds", c.InnerFolds}, {"valid_every", c.ValidEvery}} {
		if v.v < 0 {
			return fmt.Errorf("%s is %d, want 0 or more", v.name, v.v)
		}
	}
	for _, v := range []struct {
		name string
		v    float64
	}{{"learning_rate", c.LearningRate}, {"feature_fraction", c.FeatureFraction}, {"query_fraction", c.QueryFraction}} {
		if math.IsNaN(v.v) || v.v <= 0 || v.name != "learning_rate" && v.v > 1 {
			return fmt.Errorf("%s is %g, want a number in (0, 1]", v.name, v.v)
		}
	}
	names := search.FeatureNames()
	for _, f := range c.Ignore {
		if !slices.Contains(names, f) {
			return fmt.Errorf("ignore: unknown feature %q (have %s)", f, strings.Join(names, ", "))
		}
	}
	if c.Base != "" && !slices.Contains(names, c.Base) {
		return fmt.Errorf("base: unknown feature %q (have %s)", c.Base, strings.Join(names, ", "))
	}
	return nil
}

// loadLTRConfig reads the --ltr-config file, or returns the defaults for "".
func loadLTRConfig(path string) (ltrConfig, error) {
	if path == "" {
		return defaultLTRConfig(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return ltrConfig{}, fmt.Errorf("--ltr-config: %w", err)
	}
	c, err := parseLTRConfig(data)
	if err != nil {
		return ltrConfig{}, fmt.Errorf("--ltr-config %s: %w", path, err)
	}
	return c, nil
}

func (c *ltrConfig) params() ltr.Params {
	p := ltr.DefaultParams(search.FeatureNames())
	p.Algorithm = ltr.Algorithm(c.Algorithm)
	p.Trees, p.LearningRate, p.MaxLeaves, p.MinDocsPerLeaf = c.Trees, c.LearningRate, c.Leaves, c.MinLeaf
	p.FeatureFraction, p.QueryFraction, p.Seed = c.FeatureFraction, c.QueryFraction, c.Seed
	p.BaseFeature = c.Base
	p.Bags = c.Bags
	p.GradientK = c.GradientK
	p.Ignore = c.Ignore
	return p
}

// evalLTR trains (or loads) a ranker and evaluates ModeLTR on ds.
func evalLTR(ctx context.Context, errw io.Writer, ix *search.Index, ds *searcheval.Dataset, l *ltrFlags, c *ltrConfig, progress searcheval.Progress) (*searcheval.Report, error) {
	opt := searcheval.LTROptions{
		Params:     c.params(),
		ValidEvery: c.ValidEvery,
		InnerFolds: c.InnerFolds,
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
