package searcheval

import (
	"context"
	"errors"
	"fmt"

	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/search/ltr"
)

// LTROptions configure EvaluateLTR.
type LTROptions struct {
	// Params are the training settings; Features is set to
	// search.FeatureNames().
	Params ltr.Params
	// ValidEvery holds out every ValidEvery-th training query (in data set
	// order) for early stopping and the choice of algorithm (default 4:
	// a quarter).
	ValidEvery int
	// Folds is the number of cross-validation folds for data sets without a
	// train/test split (default 5).
	Folds int
	// Model, when set, is used as it is instead of training (for example a
	// model trained on another catalogue): every query is scored by it.
	Model *ltr.Model
	// Log receives progress lines (nil: none).
	Log func(format string, args ...any)
}

// LTRResult is the outcome of EvaluateLTR.
type LTRResult struct {
	Report *Report
	// Model is the ranker trained on the training queries (split data
	// sets), the given Model, or the model of the last fold.
	Model *ltr.Model
}

// Labelled collects every query's candidates from ix (see
// search.Index.Candidates) with their gains as labels (0 when unjudged).
func Labelled(ctx context.Context, ix *search.Index, qs []Query, progress Progress) ([]ltr.Query, error) {
	out := make([]ltr.Query, len(qs))
	for i, q := range qs {
		cands, err := ix.Candidates(ctx, search.Request{Query: q.Text, N: K})
		if err != nil {
			return nil, fmt.Errorf("candidates of %q: %w", q.Text, err)
		}
		lq := ltr.Query{ID: q.Text}
		for _, c := range cands {
			lq.Features = append(lq.Features, c.Features)
			lq.Labels = append(lq.Labels, q.Gains[c.ID])
		}
		out[i] = lq
		if progress != nil {
			progress(i+1, len(qs))
		}
	}
	return out, nil
}

// EvaluateLTR trains learning-to-rank models and evaluates search in
// ModeLTR so that no query is scored by a model trained on it: with a
// train/test split (ESCI), one model is trained on the training queries
// only (a part held out for early stopping) and every query is searched
// with it, so "train" is in-sample and "test" is held out; without a split
// (qrels), k-fold cross-validation by query: each fold is searched with a
// model trained on the other folds. ix must hold ds's catalogue; its ranker
// is replaced and finally removed.
func EvaluateLTR(ctx context.Context, ix *search.Index, ds *Dataset, opt LTROptions, progress Progress) (*LTRResult, error) {
	logf := opt.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if opt.ValidEvery <= 1 {
		opt.ValidEvery = 4
	}
	if opt.Folds <= 1 {
		opt.Folds = 5
	}
	opt.Params.Features = search.FeatureNames()
	defer ix.SetRanker(nil)
	if opt.Model != nil {
		if err := ix.SetRanker(opt.Model); err != nil {
			return nil, err
		}
		rep, err := Evaluate(ctx, ix, ds, search.ModeLTR, progress)
		if err != nil {
			return nil, err
		}
		return &LTRResult{Report: rep, Model: opt.Model}, nil
	}
	logf("collecting candidates and features of %d queries", len(ds.Queries))
	lab, err := Labelled(ctx, ix, ds.Queries, nil)
	if err != nil {
		return nil, err
	}
	hasSplit := false
	for _, q := range ds.Queries {
		if q.Split != "" {
			hasSplit = true
		}
	}
	train := func(idx []int, what string) (*ltr.Model, error) {
		var tr, va []ltr.Query
		for k, i := range idx {
			if k%opt.ValidEvery == opt.ValidEvery-1 {
				va = append(va, lab[i])
			} else {
				tr = append(tr, lab[i])
			}
		}
		p := opt.Params
		p.Progress = func(round int, t, v float64) {
			if round%25 == 0 {
				logf("%s: round %d, train nDCG@10 %.4f, validation %.4f", what, round, t, v)
			}
		}
		m, err := ltr.Train(ctx, tr, va, p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		logf("%s: %s, %d trees, train nDCG@10 %.4f, validation %.4f (%d train, %d validation queries, candidate-pool nDCG)",
			what, m.Algorithm(), m.Trees(), m.TrainNDCG, m.ValidNDCG, len(tr), len(va))
		return m, nil
	}
	if hasSplit {
		var idx []int
		for i, q := range ds.Queries {
			if q.Split == "train" {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			return nil, errors.New("ltr: the data set has no training queries")
		}
		m, err := train(idx, "train split")
		if err != nil {
			return nil, err
		}
		if err := ix.SetRanker(m); err != nil {
			return nil, err
		}
		rep, err := Evaluate(ctx, ix, ds, search.ModeLTR, progress)
		if err != nil {
			return nil, err
		}
		return &LTRResult{Report: rep, Model: m}, nil
	}
	if len(ds.Queries) < opt.Folds {
		return nil, fmt.Errorf("ltr: %d queries are too few for %d folds", len(ds.Queries), opt.Folds)
	}
	per := make([]QueryResult, len(ds.Queries))
	var last *ltr.Model
	done := 0
	for fold := 0; fold < opt.Folds; fold++ {
		var trainIdx []int
		sub := &Dataset{Format: ds.Format}
		var subIdx []int
		for i, q := range ds.Queries {
			if i%opt.Folds == fold {
				sub.Queries = append(sub.Queries, q)
				subIdx = append(subIdx, i)
			} else {
				trainIdx = append(trainIdx, i)
			}
		}
		m, err := train(trainIdx, fmt.Sprintf("fold %d/%d", fold+1, opt.Folds))
		if err != nil {
			return nil, err
		}
		if err := ix.SetRanker(m); err != nil {
			return nil, err
		}
		rep, err := Evaluate(ctx, ix, sub, search.ModeLTR, func(d, _ int) {
			if progress != nil {
				progress(done+d, len(ds.Queries))
			}
		})
		if err != nil {
			return nil, err
		}
		done += len(sub.Queries)
		for k, qr := range rep.PerQuery {
			per[subIdx[k]] = qr
		}
		last = m
	}
	return &LTRResult{Report: summarize(ds.Format, string(search.ModeLTR), per), Model: last}, nil
}

// summarize builds a report from per-query results (no split).
func summarize(format, mode string, per []QueryResult) *Report {
	rep := &Report{Format: format, Mode: mode, Queries: map[string]int{"all": len(per)}, Metrics: map[string]Metrics{}, PerQuery: per}
	var m Metrics
	lat := make([]float64, len(per))
	for i, q := range per {
		m.NDCG += q.NDCG
		m.Recall += q.Recall
		lat[i] = q.LatencyMS
	}
	if n := float64(len(per)); n > 0 {
		m.NDCG /= n
		m.Recall /= n
	}
	rep.Metrics["all"] = m
	rep.Latency.P50 = Percentile(lat, 50)
	rep.Latency.P99 = Percentile(lat, 99)
	return rep
}
