// Package ltr learns ranking functions from judged or logged queries:
// LambdaMART (gradient-boosted regression trees fitted to LambdaRank
// gradients of nDCG@K, with histogram split finding) and a linear ranker
// trained by coordinate ascent on nDCG@K. It is pure Go, deterministic for
// a given seed, and knows nothing of search: a query is a list of candidate
// feature vectors with graded labels (gains), and a Model scores one vector.
//
// A Model remembers the names of its features; Save and Load write and read
// a small versioned binary format (see format.go), and Model.Check reports a
// feature schema that does not match the one the model was trained on.
//
// Package search/ranking trains and serves an ltr model from Aisle's search
// log; package search defines the features (search.FeatureNames) and
// re-ranks with the model.
package ltr

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/aisle-dev/aisle/internal/metrics"
	"github.com/aisle-dev/aisle/internal/topk"
)

// Query is one query's candidate documents: a feature vector per document
// (all of the same length, finite values) and its label, the gain of the
// document for the query (>= 0; ESCI uses 1, 0.1, 0.01, 0).
type Query struct {
	// ID names the query in errors and diagnostics; it is optional.
	ID       string
	Features [][]float32
	Labels   []float64
}

// Algorithm names a ranker family.
type Algorithm string

// Algorithms. AlgorithmAuto trains both and keeps the one with the better
// validation nDCG (it needs validation queries).
const (
	AlgorithmLambdaMART Algorithm = "lambdamart"
	AlgorithmLinear     Algorithm = "linear"
	AlgorithmAuto       Algorithm = "auto"
)

// Params are the training settings. Start from DefaultParams; zero numeric
// fields take the defaults.
type Params struct {
	// Features names the entries of a feature vector; required. It is stored
	// in the model so that a scorer built on another schema is refused.
	Features []string
	// BaseFeature, when set, names a feature that starts LambdaMART's
	// score (an existing ranker's normalised score): score = w·x + Σ trees,
	// with w the scale that minimises the pairwise LambdaRank loss on the
	// training queries. The trees then learn corrections to that ranking
	// instead of rediscovering it, which matters with few judged queries.
	BaseFeature string
	// Ignore names features the model must not use (they stay in the
	// schema): for example catalogue-specific ones in a model meant for
	// other catalogues.
	Ignore []string
	// Algorithm is lambdamart (default), linear or auto.
	Algorithm Algorithm
	// K is the cut-off of the nDCG objective and of validation (default 10).
	K int
	// GradientK is the cut-off of the nDCG whose LambdaRank gradients the
	// trees follow (default K); a deeper one also moves documents ranked
	// below K, a smoother signal when judged queries are few.
	GradientK int
	// Trees is the largest number of boosting rounds (default 300).
	Trees int
	// LearningRate is the shrinkage of each tree (default 0.05).
	LearningRate float64
	// MaxLeaves bounds the leaves of a tree, grown best-first (default 16).
	MaxLeaves int
	// MaxDepth bounds the depth of a tree (default 6).
	MaxDepth int
	// MinDocsPerLeaf is the fewest training documents in a leaf (default 20).
	MinDocsPerLeaf int
	// L2 regularises leaf values: value = Σgradient / (Σhessian + L2) (default 1).
	L2 float64
	// FeatureFraction is the share of features each tree may split on,
	// drawn at random per tree (default 1: all).
	FeatureFraction float64
	// QueryFraction is the share of training queries each tree is fitted
	// on, drawn at random per tree (default 1: all).
	QueryFraction float64
	// Bags, when > 1, makes TrainCV average that many LambdaMART models,
	// each fitted on a random QueryFraction (0.8 when 1) of the queries
	// with a different seed: bagging lowers the variance that few judged
	// queries leave (default 1).
	Bags int
	// Bins is the number of histogram bins per feature, at most 255
	// (default 64); cut points are quantiles of the training values.
	Bins int
	// EarlyStopping stops after this many rounds without a better
	// validation nDCG and keeps the best round (default 40; needs
	// validation queries).
	EarlyStopping int
	// LinearPasses is the number of coordinate-ascent passes over the
	// features of the linear ranker (default 8).
	LinearPasses int
	// Seed makes feature and query sampling reproducible.
	Seed uint64
	// Progress, when set, is told each boosting round's (or linear pass's)
	// mean nDCG@K on the training and validation queries (validation -1
	// without validation queries); round 0 is the start (no tree, or the
	// best single feature of the linear ranker).
	Progress func(round int, train, valid float64)
}

// DefaultParams returns settings that work on a few hundred judged queries
// with a few hundred candidates each.
func DefaultParams(features []string) Params {
	return Params{
		Features:        slices.Clone(features),
		Algorithm:       AlgorithmLambdaMART,
		K:               10,
		Trees:           300,
		LearningRate:    0.05,
		MaxLeaves:       16,
		MaxDepth:        6,
		MinDocsPerLeaf:  20,
		L2:              1,
		FeatureFraction: 1,
		QueryFraction:   1,
		Bins:            64,
		EarlyStopping:   40,
		LinearPasses:    8,
	}
}

func (p *Params) fill() error {
	d := DefaultParams(nil)
	if len(p.Features) == 0 {
		return errors.New("ltr: Params.Features is empty")
	}
	seen := map[string]bool{}
	for _, f := range p.Features {
		if f == "" || len(f) > maxNameLen {
			return fmt.Errorf("ltr: feature name %q is empty or longer than %d bytes", f, maxNameLen)
		}
		if seen[f] {
			return fmt.Errorf("ltr: feature %q is named twice", f)
		}
		seen[f] = true
	}
	if len(p.Features) > maxFeatures {
		return fmt.Errorf("ltr: %d features, at most %d", len(p.Features), maxFeatures)
	}
	for _, f := range p.Ignore {
		if !slices.Contains(p.Features, f) {
			return fmt.Errorf("ltr: ignored feature %q is not among the features", f)
		}
	}
	if p.BaseFeature != "" && !slices.Contains(p.Features, p.BaseFeature) {
		return fmt.Errorf("ltr: base feature %q is not among the features", p.BaseFeature)
	}
	if p.Algorithm == "" {
		p.Algorithm = d.Algorithm
	}
	switch p.Algorithm {
	case AlgorithmLambdaMART, AlgorithmLinear, AlgorithmAuto:
	default:
		return fmt.Errorf("ltr: unknown algorithm %q (want lambdamart, linear or auto)", p.Algorithm)
	}
	setI := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setF := func(v *float64, def float64) {
		if *v <= 0 || math.IsNaN(*v) {
			*v = def
		}
	}
	setI(&p.K, d.K)
	setI(&p.GradientK, p.K)
	setI(&p.Trees, d.Trees)
	setI(&p.MaxLeaves, d.MaxLeaves)
	setI(&p.MaxDepth, d.MaxDepth)
	setI(&p.MinDocsPerLeaf, d.MinDocsPerLeaf)
	setI(&p.Bins, d.Bins)
	setI(&p.EarlyStopping, d.EarlyStopping)
	setI(&p.LinearPasses, d.LinearPasses)
	setF(&p.LearningRate, d.LearningRate)
	setF(&p.FeatureFraction, d.FeatureFraction)
	setF(&p.QueryFraction, d.QueryFraction)
	if p.L2 < 0 || math.IsNaN(p.L2) {
		return fmt.Errorf("ltr: L2 is %g, want >= 0", p.L2)
	}
	p.Bins = min(p.Bins, 255)
	p.MaxLeaves = max(p.MaxLeaves, 2)
	p.FeatureFraction = min(p.FeatureFraction, 1)
	p.QueryFraction = min(p.QueryFraction, 1)
	return nil
}

func checkQueries(qs []Query, nf int, what string) error {
	for qi := range qs {
		q := &qs[qi]
		name := q.ID
		if name == "" {
			name = fmt.Sprint(qi)
		}
		if len(q.Features) != len(q.Labels) {
			return fmt.Errorf("ltr: %s query %s: %d feature vectors but %d labels", what, name, len(q.Features), len(q.Labels))
		}
		for d, f := range q.Features {
			if len(f) != nf {
				return fmt.Errorf("ltr: %s query %s doc %d: %d features, want %d", what, name, d, len(f), nf)
			}
			for k, x := range f {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					return fmt.Errorf("ltr: %s query %s doc %d: feature %d is %g", what, name, d, k, x)
				}
			}
			if l := q.Labels[d]; l < 0 || math.IsNaN(l) || math.IsInf(l, 0) {
				return fmt.Errorf("ltr: %s query %s doc %d: label %g, want a finite gain >= 0", what, name, d, l)
			}
		}
	}
	return nil
}

// Train fits a ranker to the training queries, using the validation
// queries (may be empty) for early stopping and, with AlgorithmAuto, to
// choose between LambdaMART and the linear ranker. Queries whose labels are
// all equal carry no ranking signal and are skipped. It stops with ctx's
// error when ctx is cancelled.
func Train(ctx context.Context, train, valid []Query, p Params) (*Model, error) {
	if err := p.fill(); err != nil {
		return nil, err
	}
	nf := len(p.Features)
	if err := checkQueries(train, nf, "train"); err != nil {
		return nil, err
	}
	if err := checkQueries(valid, nf, "validation"); err != nil {
		return nil, err
	}
	train = informative(train)
	valid = informative(valid)
	if len(train) == 0 {
		return nil, errors.New("ltr: no training query has documents with different labels")
	}
	if p.Algorithm == AlgorithmAuto && len(valid) == 0 {
		return nil, errors.New("ltr: algorithm auto needs validation queries")
	}
	var cands []*Model
	if p.Algorithm == AlgorithmLambdaMART || p.Algorithm == AlgorithmAuto {
		m, err := trainLambdaMART(ctx, train, valid, &p)
		if err != nil {
			return nil, err
		}
		cands = append(cands, m)
	}
	if p.Algorithm == AlgorithmLinear || p.Algorithm == AlgorithmAuto {
		m, err := trainLinear(ctx, train, valid, &p)
		if err != nil {
			return nil, err
		}
		cands = append(cands, m)
	}
	best := cands[0]
	for _, m := range cands[1:] {
		if m.ValidNDCG > best.ValidNDCG {
			best = m
		}
	}
	return best, nil
}

func informative(qs []Query) []Query {
	out := make([]Query, 0, len(qs))
	for _, q := range qs {
		for _, l := range q.Labels {
			if l != q.Labels[0] {
				out = append(out, q)
				break
			}
		}
	}
	return out
}

// NDCG returns nDCG@k of documents ordered by decreasing score (ties by
// index), with the ideal ordering taken over the same documents
// (metrics.NDCG, shared with eval and searcheval). It is 0 when no document
// has a positive label. A document scored NaN is not ranked (gains nothing).
func NDCG(scores, labels []float64, k int) float64 {
	top := topk.Select(scores, k, nil, false)
	got := make([]float64, len(top))
	for r, h := range top {
		got[r] = labels[h.Index]
	}
	return metrics.NDCG(got, labels, k)
}

// MeanNDCG scores every query's documents with score (a Model's Score, or
// any other ranking of feature vectors) and returns the mean nDCG@k; ties
// keep the documents' order.
func MeanNDCG(score func(features []float32) float64, qs []Query, k int) float64 {
	if len(qs) == 0 {
		return 0
	}
	var sum float64
	for _, q := range qs {
		s := make([]float64, len(q.Features))
		for i, f := range q.Features {
			s[i] = score(f)
		}
		sum += NDCG(s, q.Labels, k)
	}
	return sum / float64(len(qs))
}

func discount(rank int) float64 { return metrics.Discount(rank) }

func idealDCG(labels []float64, k int) float64 { return metrics.IdealDCG(labels, k) }

// rankOrder returns document indexes by decreasing score, ties by index.
func rankOrder(scores []float64) []int {
	o := make([]int, len(scores))
	for i := range o {
		o[i] = i
	}
	sort.SliceStable(o, func(a, b int) bool { return scores[o[a]] > scores[o[b]] })
	return o
}

func meanNDCG(scores [][]float64, qs []Query, k int) float64 {
	if len(qs) == 0 {
		return -1
	}
	var s float64
	for i := range qs {
		s += NDCG(scores[i], qs[i].Labels, k)
	}
	return s / float64(len(qs))
}
