package pipeline

import (
	"context"
	"maps"
	"time"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/blend"
	"github.com/aisle-dev/aisle/store"
)

// Background configures what a server trains after the fast models have
// made the shop ready: the slower models (sequence models) under a time
// budget, and the scheduled hyper-parameter search. Zero values disable
// each part.
type Background struct {
	// Models are trained after the fast ones; empty means
	// DefaultBackgroundModels.
	Models []Spec
	// Budget bounds the fit of each background model (0: no background
	// models).
	Budget time.Duration
	// Threads bounds the goroutines of background fits and their
	// validation (0: 1), so that requests keep the other cores.
	Threads int
	// TuneEvery runs the hyper-parameter search on this schedule (0:
	// never); TuneBudget bounds each search (0: 10 minutes).
	TuneEvery  time.Duration
	TuneBudget time.Duration
	// BlendWith, when set, is the serving primary: each background
	// sequence model is also blended with it, and the blend is stored as
	// model "blend" when it validates better than both (see trainBlend).
	BlendWith *Partner
}

// DefaultBackgroundModels are trained in the background when the config
// names none: the sequence model, which needs minutes rather than seconds.
func DefaultBackgroundModels() []Spec { return []Spec{{Name: "sasrec"}} }

// Specs returns the background models to train.
func (b Background) Specs() []Spec {
	if len(b.Models) > 0 {
		return b.Models
	}
	return DefaultBackgroundModels()
}

// threads returns the goroutines background work may use.
func (b Background) threads() int {
	if b.Threads > 0 {
		return b.Threads
	}
	return 1
}

// TrainBackground trains the background models on data, each bounded by
// opts.Background.Budget and Threads, measured by the same served-path
// validation as the fast models, and stores each as a candidate version
// (promotion is the caller's). The model measured is the model stored: it
// is not fitted again on the held-out interactions, so the whole budget
// goes into one fit. Parameters the spec sets (the config's) win over the
// budget and thread bounds.
func TrainBackground(ctx context.Context, models store.Models, data *Data, opts Options) ([]Result, error) {
	bg := opts.Background
	o := opts
	o.Models = nil
	o.SkipRefit = true
	o.Threads = bg.threads()
	for _, spec := range bg.Specs() {
		o.Models = append(o.Models, bounded(spec, bg.Budget, o.Threads))
	}
	results, err := Train(ctx, models, data, o)
	if p := bg.BlendWith; err == nil && p != nil && !orderOnly(p.Spec.Name) && p.Spec.Name != blend.Name {
		for k, res := range results {
			if !res.Trained || res.fitted == nil || !orderOnly(res.Model) {
				continue
			}
			if err = ctx.Err(); err != nil {
				break
			}
			bo := opts
			bo.Threads = o.Threads
			results = append(results, trainBlend(ctx, models, data, bo, res.fitted, o.Models[k], *p))
		}
	}
	for k := range results {
		results[k].Phase = "background"
		results[k].fitted = nil
	}
	return results, err
}

// bounded returns spec with the model's time-budget and thread parameters
// set, unless spec sets them already.
func bounded(spec Spec, budget time.Duration, threads int) Spec {
	t := traitsOf(spec.Name)
	p := maps.Clone(spec.Params)
	if p == nil {
		p = model.Params{}
	}
	if _, set := p[t.budgetParam]; t.budgetParam != "" && !set && budget > 0 {
		p[t.budgetParam] = budget.Seconds()
	}
	if _, set := p[t.threadsParam]; t.threadsParam != "" && !set && threads > 0 {
		p[t.threadsParam] = float64(threads)
	}
	spec.Params = p
	return spec
}
