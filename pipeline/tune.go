package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/zoo"
)

// Range is the values a hyper-parameter search tries for one parameter.
type Range struct {
	Param  string
	Values []float64
}

// traits is what training needs to know about a model beyond its
// constructor.
type traits struct {
	// orderOnly models read the order of a history, not its weights: one
	// weighting is validated instead of the grid.
	orderOnly bool
	// budgetParam and threadsParam name the parameters that bound a fit's
	// time (seconds) and goroutines, when the model has them.
	budgetParam, threadsParam string
	// ranges are searched by Tune: the main parameters, around the
	// defaults (which were chosen on the public validation splits).
	ranges []Range
}

var modelTraits = map[string]traits{
	"itemknn": {ranges: []Range{
		{"k", []float64{20, 50, 100, 200}},
		{"shrink", []float64{0, 10, 50, 100}},
	}},
	"ials": {ranges: []Range{
		{"factors", []float64{32, 64, 128}},
		{"reg", []float64{10, 25, 50, 100, 200}},
		{"alpha", []float64{3, 10, 30}},
	}},
	"bpr": {ranges: []Range{
		{"factors", []float64{32, 64, 128}},
	}},
	"ease": {ranges: []Range{
		{"lambda", []float64{50, 100, 250, 500, 1000, 2500}},
	}},
	// no ranges: one fit takes the whole background budget, so its
	// defaults (chosen on the public sequential benchmarks) stay
	"sasrec": {orderOnly: true, budgetParam: "time_budget", threadsParam: "threads"},
}

func traitsOf(name string) traits { return modelTraits[name] }

// orderOnly reports whether a model ignores history weights.
func orderOnly(name string) bool { return traitsOf(name).orderOnly }

// ParamRanges returns the ranges Tune searches for a model (nil: none).
func ParamRanges(name string) []Range { return traitsOf(name).ranges }

// TunedNote is the note of a version whose parameters the search chose;
// retrainings keep the parameters of a serving version with this note.
const TunedNote = "hyper-parameters chosen by the scheduled search on validation"

// TuneReport is what a hyper-parameter search tried and found.
type TuneReport struct {
	Trials    int          `json:"trials"`      // parameter sets measured
	Baseline  float64      `json:"baseline"`    // validation NDCG@10 of the current parameters
	Best      float64      `json:"best"`        // of the best parameters
	Params    model.Params `json:"params"`      // the best parameters (the current ones when none beat them)
	Improved  bool         `json:"improved"`    // whether Params beat the current ones
	Seconds   float64      `json:"seconds"`     //
	OutOfTime bool         `json:"out_of_time"` // the budget ended the search before the grid did
}

// String renders the report for people.
func (r TuneReport) String() string {
	s := fmt.Sprintf("%d trials in %.0fs: NDCG@10 %.4f → %.4f", r.Trials, r.Seconds, r.Baseline, r.Best)
	if r.Improved {
		keys := slices.Sorted(maps.Keys(r.Params))
		var kv []string
		for _, k := range keys {
			kv = append(kv, fmt.Sprintf("%s=%g", k, r.Params[k]))
		}
		s += " with " + strings.Join(kv, " ")
	} else {
		s += " (the current parameters stay)"
	}
	if r.OutOfTime {
		s += "; stopped by the time budget"
	}
	return s
}

// maxTrials bounds a search whatever its budget.
const maxTrials = 24

// Tune searches the model's declared ranges (ParamRanges) on the
// validation split of data only, trying the current parameters first and
// then random combinations, until budget is spent: a trial the budget cuts
// short is not counted. Parameters in fixed (the config's) are not varied.
// It returns spec with the best parameters, marked Tuned when they beat
// the current ones. The fits use the models' own parallelism; the
// validation uses opts.Threads.
func Tune(ctx context.Context, data *Data, spec Spec, fixed model.Params, budget time.Duration, opts Options) (Spec, TuneReport, error) {
	start := time.Now()
	rep := TuneReport{Params: spec.Params}
	var ranges []Range
	for _, r := range ParamRanges(spec.Name) {
		if _, ok := fixed[r.Param]; !ok {
			ranges = append(ranges, r)
		}
	}
	if len(ranges) == 0 {
		return spec, rep, fmt.Errorf("tune %s: no parameter ranges to search", spec.Name)
	}
	nVal := opts.ValidationUsers
	if nVal == 0 {
		nVal = 5000
	}
	split := holdout(data.Implicit, nVal, opts.Seed)
	if split == nil || len(split.Targets) == 0 {
		return spec, rep, fmt.Errorf("tune %s: no validation users (validation is off or no user has 3 interactions)", spec.Name)
	}
	split.Workers = opts.Threads
	w := Weighting{}
	if !orderOnly(spec.Name) {
		w = weightings(data.Implicit)[0]
	}
	train := w.apply(split.Train)
	tctx, cancel := context.WithDeadline(ctx, start.Add(budget))
	defer cancel()
	measure := func(p model.Params) (float64, error) {
		m, err := zoo.New(spec.Name, p)
		if err != nil {
			return 0, err
		}
		if err := m.Fit(tctx, train, nil); err != nil {
			return 0, err
		}
		if tctx.Err() != nil {
			return 0, tctx.Err()
		}
		return split.Evaluate(m, 10, w)["NDCG@10"], nil
	}
	// the candidates: every combination of the ranges over the current
	// parameters, in random order, the current parameters first
	cands := []model.Params{maps.Clone(spec.Params)}
	var grid func(k int, p model.Params)
	grid = func(k int, p model.Params) {
		if k == len(ranges) {
			cands = append(cands, maps.Clone(p))
			return
		}
		for _, v := range ranges[k].Values {
			p[ranges[k].Param] = v
			grid(k+1, p)
		}
	}
	base := maps.Clone(spec.Params)
	if base == nil {
		base = model.Params{}
	}
	grid(0, base)
	rng := rand.New(rand.NewPCG(opts.Seed, 0x7a5e))
	rest := cands[1:]
	rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	if len(cands) > maxTrials {
		cands = cands[:maxTrials]
	}
	best := -1.0
	for k, p := range cands {
		v, err := measure(p)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				rep.OutOfTime = true
				break
			}
			if ctx.Err() != nil {
				return spec, rep, ctx.Err()
			}
			if k == 0 {
				return spec, rep, fmt.Errorf("tune %s: the current parameters: %w", spec.Name, err)
			}
			continue // a combination the model refuses (e.g. heads not dividing dim)
		}
		rep.Trials++
		if k == 0 {
			rep.Baseline = v
		}
		if v > best {
			best, rep.Params = v, p
		}
	}
	rep.Best = max(best, rep.Baseline)
	rep.Seconds = time.Since(start).Seconds()
	if rep.Trials == 0 {
		return spec, rep, fmt.Errorf("tune %s: the budget of %s did not allow one trial", spec.Name, budget)
	}
	rep.Improved = best > rep.Baseline
	if rep.Improved {
		spec.Params, spec.Tuned = rep.Params, true
	}
	return spec, rep, nil
}
