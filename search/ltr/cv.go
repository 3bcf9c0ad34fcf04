package ltr

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// TrainCV trains on all of qs with the number of boosting rounds (or
// linear passes) chosen by k-fold cross-validation over qs (queries i with
// i%folds == f form fold f). Every query then serves both to choose the
// model size and to fit it, which suits small judged sets better than
// holding out a fixed validation part. With AlgorithmAuto the algorithm
// with the better cross-validated nDCG@K is trained. The returned model's
// ValidNDCG is that cross-validated nDCG@K. With fewer informative
// queries than folds, each query is a fold; with a single one, a small
// LambdaMART model (at most 10 rounds) is trained on it.
func TrainCV(ctx context.Context, qs []Query, p Params, folds int) (*Model, error) {
	if err := p.fill(); err != nil {
		return nil, err
	}
	if folds < 2 {
		return nil, fmt.Errorf("ltr: %d folds, want at least 2", folds)
	}
	if err := checkQueries(qs, len(p.Features), "train"); err != nil {
		return nil, err
	}
	qs = informative(qs)
	if len(qs) == 0 {
		return nil, errors.New("ltr: no training query has documents with different labels")
	}
	if len(qs) < folds {
		folds = len(qs)
	}
	if folds < 2 { // one query: nothing to validate on
		p.Algorithm = AlgorithmLambdaMART
		p.Trees = min(p.Trees, 10)
		return Train(ctx, qs, nil, p)
	}
	algos := []Algorithm{p.Algorithm}
	if p.Algorithm == AlgorithmAuto {
		algos = []Algorithm{AlgorithmLambdaMART, AlgorithmLinear}
	}
	var best *Model
	for _, algo := range algos {
		q := p
		q.Algorithm = algo
		rounds, cv, err := cvRounds(ctx, qs, q, folds)
		if err != nil {
			return nil, err
		}
		m, err := trainRounds(ctx, qs, q, rounds)
		if err != nil {
			return nil, err
		}
		m.ValidNDCG = cv
		if best == nil || m.ValidNDCG > best.ValidNDCG {
			best = m
		}
	}
	return best, nil
}

// cvRounds returns the size (rounds or passes) with the best mean
// validation nDCG over the folds, and that nDCG.
func cvRounds(ctx context.Context, qs []Query, p Params, folds int) (int, float64, error) {
	size := p.Trees
	if p.Algorithm == AlgorithmLinear {
		size = p.LinearPasses
	}
	sum := make([]float64, size+1)
	cnt := make([]int, size+1)
	user := p.Progress
	for f := 0; f < folds; f++ {
		var tr, va []Query
		for i, q := range qs {
			if i%folds == f {
				va = append(va, q)
			} else {
				tr = append(tr, q)
			}
		}
		last := math.NaN()
		fp := p
		fp.EarlyStopping = size + 1 // the whole curve
		reached := -1
		fp.Progress = func(round int, t, v float64) {
			if round <= size {
				sum[round] += v
				cnt[round]++
				last, reached = v, round
			}
			if user != nil {
				user(round, t, v)
			}
		}
		var err error
		if p.Algorithm == AlgorithmLinear {
			fp.LinearPasses = size
			_, err = trainLinear(ctx, tr, va, &fp)
		} else {
			_, err = trainLambdaMART(ctx, tr, va, &fp)
		}
		if err != nil {
			return 0, 0, err
		}
		// a curve that ended early (no change left) stays at its last value
		for r := reached + 1; r <= size && !math.IsNaN(last); r++ {
			sum[r] += last
			cnt[r]++
		}
	}
	bestR, bestV := 0, math.Inf(-1)
	for r := range sum {
		if cnt[r] == 0 {
			continue
		}
		if v := sum[r] / float64(cnt[r]); v > bestV+1e-9 {
			bestR, bestV = r, v
		}
	}
	if math.IsInf(bestV, -1) {
		return 0, 0, errors.New("ltr: cross-validation produced no scores")
	}
	return bestR, bestV, nil
}

// trainRounds trains on all queries for exactly the given size.
func trainRounds(ctx context.Context, qs []Query, p Params, rounds int) (*Model, error) {
	if p.Algorithm == AlgorithmLinear {
		p.LinearPasses = max(rounds, 1)
		if rounds == 0 {
			p.LinearPasses = 0
		}
		return trainLinear(ctx, qs, nil, &p)
	}
	p.Trees = max(rounds, 1)
	if p.Bags <= 1 || rounds == 0 {
		m, err := trainLambdaMART(ctx, qs, nil, &p)
		if err != nil {
			return nil, err
		}
		if rounds == 0 {
			m.trees = m.trees[:0]
			m.TrainNDCG = meanNDCG(baseScores(qs, m), qs, p.K)
		}
		return m, nil
	}
	// bagging: average models fitted on random subsets of the queries
	frac := p.QueryFraction
	if frac >= 1 {
		frac = 0.8
	}
	rng := rand.New(rand.NewPCG(p.Seed, 0xba65))
	var out *Model
	for b := 0; b < p.Bags; b++ {
		perm := rng.Perm(len(qs))[:max(1, int(math.Round(frac*float64(len(qs)))))]
		slices.Sort(perm)
		sub := make([]Query, len(perm))
		for i, k := range perm {
			sub[i] = qs[k]
		}
		bp := p
		bp.QueryFraction = 1
		bp.Seed = p.Seed + uint64(b)*7919
		m, err := trainLambdaMART(ctx, sub, nil, &bp)
		if err != nil {
			return nil, err
		}
		for _, t := range m.trees {
			for i := range t.leaf {
				t.leaf[i] /= float64(p.Bags)
			}
		}
		if out == nil {
			out = m // its base weight is kept: bags of most queries agree on it
		} else {
			out.trees = append(out.trees, m.trees...)
		}
	}
	out.TrainNDCG = meanNDCG(baseScores(qs, out), qs, p.K)
	return out, nil
}
