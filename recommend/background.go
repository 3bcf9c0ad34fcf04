package recommend

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/blend"
	"github.com/aisle-dev/aisle/pipeline"
)

// The second phase of training (Options.Background): once the fast models
// serve, the slower background models (the sequence model) train under a
// time budget with bounded threads, are measured by the same served-path
// validation, and serve — and become primary — only as pickPrimary and
// Promote allow: a background model that does not beat the primary on
// validation serves as a secondary model and ranks nothing personal. The
// hyper-parameter search runs on its own schedule. Both never block
// requests, and never run at the same time as each other.

// backgroundState is the retrainer's record of its background work.
type backgroundState struct {
	last []pipeline.Result // of the latest background training and tuning runs, by phase
	err  error
	at   time.Time
}

// backgroundEnabled reports whether background models train.
func (r *Retrainer) backgroundEnabled() bool { return r.Options.Background.Budget > 0 }

// startBackground trains the background models in a goroutine, on data
// when given (the fast run's) or on a fresh load. It returns false when
// background training is off or background work is already under way.
func (r *Retrainer) startBackground(ctx context.Context, data *pipeline.Data) bool {
	if !r.backgroundEnabled() || !r.bgMu.TryLock() {
		return false
	}
	if !r.bgGo(ctx, func() {
		defer r.bgMu.Unlock()
		if _, err := r.trainBackground(ctx, data); err != nil && ctx.Err() == nil {
			r.svc.log.Error("background training failed", "error", err)
		}
	}) {
		r.bgMu.Unlock()
		return false
	}
	return true
}

// bgGo runs f in a background goroutine Run's end waits for, unless ctx
// has ended (then it reports false): after Run's context ended its Wait
// may be running, and a WaitGroup must not gain work then.
func (r *Retrainer) bgGo(ctx context.Context, f func()) bool {
	r.bgAdd.Lock()
	defer r.bgAdd.Unlock()
	if ctx.Err() != nil {
		return false
	}
	r.bgWG.Go(f)
	return true
}

// RunBackground trains the background models now, on all current data,
// and promotes each version that is not worse than its serving one. It
// returns ErrBusy when background work is under way.
func (r *Retrainer) RunBackground(ctx context.Context) ([]pipeline.Result, error) {
	if !r.bgMu.TryLock() {
		return nil, ErrBusy
	}
	defer r.bgMu.Unlock()
	return r.trainBackground(ctx, nil)
}

// WaitBackground waits until background work started by the retrainer
// (after a run, or at start) has ended.
func (r *Retrainer) WaitBackground() { r.bgWG.Wait() }

// BackgroundBusy reports whether background training or tuning is under way.
func (r *Retrainer) BackgroundBusy() bool {
	if r.bgMu.TryLock() {
		r.bgMu.Unlock()
		return false
	}
	return true
}

func (r *Retrainer) trainBackground(ctx context.Context, data *pipeline.Data) ([]pipeline.Result, error) {
	start := time.Now()
	opts := r.Options
	var err error
	if data == nil {
		if data, err = opts.Load(ctx, r.svc.st); err != nil {
			r.recordBackground("background", nil, err)
			return nil, fmt.Errorf("load the data for background training: %w", err)
		}
	}
	opts.Background.BlendWith = r.blendPartner()
	r.svc.log.Info("background training", "models", len(opts.Background.Specs()), "budget", opts.Background.Budget)
	results, err := pipeline.TrainBackground(ctx, r.svc.st, data, opts)
	for k, res := range results {
		if !res.Trained {
			continue
		}
		ok, perr := r.svc.Promote(ctx, res.Model, res.Version)
		if perr != nil && err == nil {
			err = perr
		}
		results[k].Reason += r.servingNote(res.Model, ok)
	}
	r.recordBackground("background", results, err)
	r.svc.log.Info("background training done", "seconds", time.Since(start).Seconds(), "error", err)
	return results, err
}

// blendPartner is the serving model a background sequence model blends
// with: the best-validated serving model that is neither a background
// model nor a blend, or nil.
func (r *Retrainer) blendPartner() *pipeline.Partner {
	skip := map[string]bool{blend.Name: true}
	for _, spec := range r.Options.Background.Specs() {
		skip[spec.Name] = true
	}
	set := r.svc.models.Load()
	var best *servingModel
	for _, name := range slices.Sorted(maps.Keys(set.byName)) {
		sm := set.byName[name]
		if skip[name] || !servedValidated(sm.meta) {
			continue
		}
		if best == nil || better(sm.meta, best.meta) {
			best = sm
		}
	}
	if best == nil {
		return nil
	}
	return &pipeline.Partner{Spec: pipeline.Spec{Name: best.meta.Name, Params: best.meta.Params}, Weighting: best.weighting, Adjusted: best.meta.Adjusted}
}

// servingNote says what became of a promoted version.
func (r *Retrainer) servingNote(name string, promoted bool) string {
	if !promoted {
		return "; not serving: not better than the serving version"
	}
	if p := r.svc.models.Load().primary; p != nil && p.meta.Name == name {
		return "; serving, primary (best validation)"
	}
	return "; serving, not primary (another model validates better)"
}

// recordBackground keeps the results of a background phase, replacing the
// previous results of the same phase.
func (r *Retrainer) recordBackground(phase string, results []pipeline.Result, err error) {
	r.lastMu.Lock()
	defer r.lastMu.Unlock()
	kept := r.bg.last[:0:0]
	for _, res := range r.bg.last {
		if res.Phase != phase {
			kept = append(kept, res)
		}
	}
	for _, res := range results {
		res.Phase = phase
		kept = append(kept, res)
	}
	r.bg.last, r.bg.err, r.bg.at = kept, err, time.Now()
}

// backgroundDueAtStart reports whether background models should train as
// the server starts: background training is on and no version of a
// background model is stored yet (a restart does not train them again;
// the next retraining does).
func (r *Retrainer) backgroundDueAtStart(ctx context.Context) bool {
	if !r.backgroundEnabled() {
		return false
	}
	for _, spec := range r.Options.Background.Specs() {
		metas, err := r.svc.st.ListModels(ctx, spec.Name)
		if err != nil || len(metas) == 0 {
			return true
		}
	}
	return false
}

// fastSpecs returns the fast models to train, with the parameters the
// search chose for a model whose serving version carries them (the
// config's own parameters win).
func (r *Retrainer) fastSpecs() []pipeline.Spec {
	specs := r.Options.Models
	if len(specs) == 0 {
		specs = pipeline.DefaultModels()
	}
	set := r.svc.models.Load()
	out := make([]pipeline.Spec, len(specs))
	for k, spec := range specs {
		out[k] = spec
		sm, ok := set.byName[spec.Name]
		if !ok || sm.meta.Note != pipeline.TunedNote {
			continue
		}
		p := model.Params(maps.Clone(sm.meta.Params))
		if p == nil {
			p = model.Params{}
		}
		maps.Copy(p, spec.Params)
		out[k].Params, out[k].Tuned = p, true
	}
	return out
}

// tuneBudget is the search's budget when the config sets none.
const tuneBudget = 10 * time.Minute

// RunTuning searches the hyper-parameters of each fast model that has
// declared ranges and enough data, on the validation split only, within
// Background.TuneBudget shared equally among them. A model whose search
// finds better parameters is trained with them at once (outside the
// budget) and promoted if not worse than its serving version; its
// parameters are then kept by later retrainings. It returns ErrBusy when
// background work is under way.
func (r *Retrainer) RunTuning(ctx context.Context) ([]pipeline.Result, error) {
	if !r.bgMu.TryLock() {
		return nil, ErrBusy
	}
	defer r.bgMu.Unlock()
	opts := r.Options
	budget := opts.Background.TuneBudget
	if budget <= 0 {
		budget = tuneBudget
	}
	data, err := opts.Load(ctx, r.svc.st)
	if err != nil {
		r.recordBackground("tune", nil, err)
		return nil, fmt.Errorf("load the data for tuning: %w", err)
	}
	fixed := map[string]model.Params{}
	for _, spec := range opts.Models {
		fixed[spec.Name] = spec.Params
	}
	var todo []pipeline.Spec
	var results []pipeline.Result
	for _, spec := range r.fastSpecs() {
		if len(pipeline.ParamRanges(spec.Name)) == 0 {
			continue
		}
		if ok, why := spec.Check(data); !ok {
			results = append(results, pipeline.Result{Model: spec.Name, Reason: "not tuned: " + why})
			continue
		}
		todo = append(todo, spec)
	}
	start := time.Now()
	r.svc.log.Info("tuning hyper-parameters", "models", len(todo), "budget", budget)
	for k, spec := range todo {
		if ctx.Err() != nil {
			break
		}
		// what is left of the budget, shared by the models left
		share := (budget - time.Since(start)) / time.Duration(len(todo)-k)
		res := pipeline.Result{Model: spec.Name}
		tuned, rep, terr := pipeline.Tune(ctx, data, spec, fixed[spec.Name], share, opts)
		res.Tuning = &rep
		res.TrainSeconds = rep.Seconds
		if terr != nil {
			res.Error = terr.Error()
			results = append(results, res)
			continue
		}
		res.Reason = rep.String()
		if rep.Improved {
			o := opts
			o.Models = []pipeline.Spec{tuned}
			o.Previous = nil
			trained, err := pipeline.Train(ctx, r.svc.st, data, o)
			if err == nil && len(trained) == 1 {
				t := trained[0]
				res.Trained, res.Version, res.Metrics, res.Weighting, res.Error = t.Trained, t.Version, t.Metrics, t.Weighting, t.Error
				res.TrainSeconds += t.TrainSeconds
				if t.Trained {
					ok, perr := r.svc.Promote(ctx, t.Model, t.Version)
					if perr != nil {
						res.Error = perr.Error()
					}
					res.Reason += r.servingNote(t.Model, ok)
				}
			}
		}
		r.svc.log.Info("tuned", "model", spec.Name, "result", res.Reason, "error", res.Error)
		results = append(results, res)
	}
	if err == nil {
		err = ctx.Err()
	}
	r.recordBackground("tune", results, err)
	return results, err
}

// startTuning runs RunTuning in a goroutine unless background work is
// under way (then the next tick tries again).
func (r *Retrainer) startTuning(ctx context.Context) bool {
	if r.BackgroundBusy() {
		return false
	}
	return r.bgGo(ctx, func() {
		if _, err := r.RunTuning(ctx); err != nil && !errors.Is(err, ErrBusy) && ctx.Err() == nil {
			r.svc.log.Error("hyper-parameter search failed", "error", err)
		}
	})
}
