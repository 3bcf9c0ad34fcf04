package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/adjust"
	"github.com/aisle-dev/aisle/model/zoo"
	"github.com/aisle-dev/aisle/store"
)

// Spec names a model to train and its hyper-parameters.
type Spec struct {
	Name   string       `yaml:"name"`
	Params model.Params `yaml:"params"`
	// Requirements override the model's defaults when set.
	Requirements *Requirements `yaml:"requirements"`
	// Tuned marks Params found by the hyper-parameter search (Tune); the
	// stored version's note says so, and later retrainings keep them.
	Tuned bool `yaml:"-"`
}

// DefaultModels are trained when the config names none.
func DefaultModels() []Spec {
	return []Spec{{Name: "popular"}, {Name: "itemknn"}, {Name: "ials"}, {Name: "ease"}, {Name: "itemfilter"}}
}

// QuickModels are the default models that train in seconds on a shop of
// tens of thousands of events (popularity and item neighbours): what a
// server can serve from while the others train in the background.
func QuickModels() []Spec {
	return []Spec{{Name: "popular"}, {Name: "itemknn"}}
}

// Options configure a training run.
type Options struct {
	Models     []Spec
	Preprocess Preprocess
	// ValidationUsers is how many users' newest interactions are held out
	// to measure each model and choose its weighting (default 5000; 0 uses
	// the default, <0 disables).
	ValidationUsers int
	// AdjustUsers bounds the hold-out users a model.Adjustable's
	// query-time settings are chosen on (0: 2,000).
	AdjustUsers int
	// SkipRefit keeps the model fitted without the held-out interactions
	// instead of fitting again on all data (faster, slightly staler).
	SkipRefit bool
	Seed      uint64
	Logger    *slog.Logger
	// Previous, when set, returns the fitted model a new fit of the named
	// model may warm-start from (the serving version), or nil.
	Previous func(name string) model.Model
	// Progress receives per-model training progress; it may be nil.
	Progress func(modelName, phase string, st model.Status)
	// ExcludeUser, when set, leaves out of training every event of the
	// users it names (those who withheld consent to personalisation).
	ExcludeUser func(userID string) bool
	// ExcludeEvent, when set, leaves out of training the events it is true
	// for (clicks on sponsored products: organic learning stays clean).
	ExcludeEvent func(events.Event) bool
	// Threads bounds the goroutines the validation uses (0: one per
	// core), so that background training leaves cores to requests.
	Threads int
	// Background configures what the server trains after the fast models:
	// sequence models under a time budget and the scheduled
	// hyper-parameter search. Train itself ignores it.
	Background Background
}

// Result is what happened to one model in a run.
type Result struct {
	Model        string             `json:"model"`
	Trained      bool               `json:"trained"`
	Reason       string             `json:"reason"` // why it trained or not
	Version      int                `json:"version,omitempty"`
	Metrics      map[string]float64 `json:"metrics,omitempty"`
	TrainSeconds float64            `json:"train_seconds"`
	WarmStart    bool               `json:"warm_start,omitempty"` // began from the previous version
	// Weighting is how the interaction weights and the query history were
	// weighed, chosen on validation.
	Weighting Weighting `json:"weighting"`
	// Adjusted are the query-time settings of a model.Adjustable chosen
	// on the same validation (absent when the fitted defaults won or the
	// model has none).
	Adjusted model.Params `json:"adjusted,omitempty"`
	Error    string       `json:"error,omitempty"`
	// Phase is "background" for a model trained after the fast ones and
	// "tune" for a hyper-parameter search; empty for the fast models.
	Phase string `json:"phase,omitempty"`
	// Sequence is the sequential-data check of a sequence model.
	Sequence *Sequence `json:"sequence,omitempty"`
	// Tuning is the hyper-parameter search's account (Phase "tune").
	Tuning *TuneReport `json:"tuning,omitempty"`
	// fitted is the stored model when it is also the one validation
	// measured (SkipRefit), for a blend to reuse.
	fitted model.Model
}

// Source is where training reads from: the catalogue and the event log.
type Source interface {
	ScanItems(ctx context.Context, fn func(catalog.Item) error) error
	ScanEvents(ctx context.Context, after uint64, fn func(events.Event) error) error
}

// Load preprocesses the catalogue and every event of src.
func (o Options) Load(ctx context.Context, src Source) (*Data, error) {
	var items []catalog.Item
	if err := src.ScanItems(ctx, func(it catalog.Item) error { items = append(items, it); return nil }); err != nil {
		return nil, fmt.Errorf("read catalogue: %w", err)
	}
	readAt := time.Now().UTC()
	data, err := o.Preprocess.Build(ctx, items, func(fn func(events.Event) error) error {
		if o.ExcludeUser == nil && o.ExcludeEvent == nil {
			return src.ScanEvents(ctx, 0, fn)
		}
		return src.ScanEvents(ctx, 0, func(e events.Event) error {
			if (o.ExcludeUser != nil && o.ExcludeUser(e.UserID)) || (o.ExcludeEvent != nil && o.ExcludeEvent(e)) {
				return nil
			}
			return fn(e)
		})
	})
	if data != nil {
		data.ReadAt = readAt
	}
	return data, err
}

// Train checks, fits, measures and stores every configured model on data.
// A model that fails does not stop the others; its Result carries the error.
func Train(ctx context.Context, models store.Models, data *Data, opts Options) ([]Result, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	specs := opts.Models
	if len(specs) == 0 {
		specs = DefaultModels()
	}
	nVal := opts.ValidationUsers
	if nVal == 0 {
		nVal = 5000
	}
	splits := holdouts(data.Implicit, nVal, opts.Seed)
	if opts.SkipRefit {
		// the model measured is the model stored: one fit, on one hold-out
		splits = splits[:min(1, len(splits))]
	}
	for _, sp := range splits {
		sp.Workers = opts.Threads
	}
	var results []Result
	for _, spec := range specs {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		res := trainOne(ctx, models, data, splits, spec, opts)
		if res.Error != "" {
			log.Error("training failed", "model", spec.Name, "error", res.Error)
		} else if res.Trained {
			log.Info("trained", "model", spec.Name, "version", res.Version, "seconds", res.TrainSeconds, "metrics", res.Metrics)
		} else {
			log.Info("not trained", "model", spec.Name, "reason", res.Reason)
		}
		results = append(results, res)
	}
	return results, nil
}

// Check says whether data meets the spec's requirements (its own, else
// the model's defaults), and why not.
func (s Spec) Check(data *Data) (bool, string) {
	req := DefaultRequirements(s.Name)
	if s.Requirements != nil {
		req = *s.Requirements
	}
	return req.Check(data)
}

func trainOne(ctx context.Context, models store.Models, data *Data, splits []*Split, spec Spec, opts Options) Result {
	res := Result{Model: spec.Name}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	req := DefaultRequirements(spec.Name)
	if spec.Requirements != nil {
		req = *spec.Requirements
	}
	ok, why := req.Check(data)
	res.Reason = why
	if req.MinSeqUsers > 0 || req.MinOrderSignal > 0 {
		seq := data.Sequence()
		res.Sequence = &seq
	}
	if !ok {
		return res
	}
	ds := data.Implicit
	if req.NeedsRatings > 0 {
		ds = data.Explicit
	}
	var curve []float64
	progress := func(phase string) model.Progress {
		return func(st model.Status) {
			if (phase == "train" || (opts.SkipRefit && phase == "validate")) && st.Epoch > 0 && !math.IsNaN(st.Loss) && !math.IsInf(st.Loss, 0) {
				curve = append(curve, st.Loss)
			}
			if opts.Progress != nil {
				opts.Progress(spec.Name, phase, st)
			}
		}
	}
	start := time.Now()
	fail := func(err error) Result {
		res.Error = err.Error()
		res.TrainSeconds = time.Since(start).Seconds()
		return res
	}
	var prev model.Model
	if opts.Previous != nil {
		prev = opts.Previous(spec.Name)
	}
	newModel := func() (model.Model, error) {
		m, err := zoo.New(spec.Name, spec.Params)
		if err != nil {
			return nil, err
		}
		if ws, ok := m.(model.WarmStarter); ok && prev != nil {
			if err := ws.WarmStartFrom(prev); err != nil {
				return nil, fmt.Errorf("warm start: %w", err)
			}
			res.WarmStart = true
		}
		return m, nil
	}
	m, err := newModel()
	if err != nil {
		return fail(err)
	}
	// Measure on the held-out split (implicit models only) with each base
	// weighting and recent-event adjustment worth trying, and, for a
	// model.Adjustable, each of its query-time settings (scored on the
	// same fit, no refit); keep the best by NDCG@10, then fit again on all
	// the data unless told not to.
	validated := len(splits) > 0 && req.NeedsRatings == 0
	var wt Weighting
	var adjusted model.Params
	if validated {
		var bestModel model.Model
		bases, grid := weightings(ds), recencyGrid
		if orderOnly(spec.Name) {
			// the model reads the order of the history, not its weights
			bases, grid = []Weighting{{}}, recencyGrid[:1]
		}
		// a model.Adjustable's query-time settings are chosen on the
		// first fit (a sample of the first hold-out, adjust.Choose); the
		// choice is then scored on every fit as one more variant, and
		// competes with the weightings as a boost does
		var choice adjust.Choice
		var offer adjust.Offer
		for k, base := range bases {
			// every recent-event adjustment, on every hold-out: met[g][h];
			// the chosen query-time settings (without a recent-event
			// adjustment: both favour the newest items): adjMet[h]
			met := make([][]map[string]float64, len(grid))
			var adjMet []map[string]float64
			for h, sp := range splits {
				if k > 0 || h > 0 {
					if m, err = newModel(); err != nil {
						return fail(err)
					}
				}
				if err := m.Fit(ctx, base.apply(sp.Train), progress("validate")); err != nil {
					return fail(fmt.Errorf("fit on the validation split: %w", err))
				}
				if k == 0 && h == 0 && !orderOnly(spec.Name) {
					if offer, choice, err = chooseAdjusted(ctx, m, spec.Params, sp.sample(cmp.Or(opts.AdjustUsers, adjustUsers)), base); err != nil {
						return fail(err)
					}
				}
				for g, rg := range grid {
					w := base
					w.RecentBoost, w.RecentHalfLife = rg.boost, rg.halfLife
					met[g] = append(met[g], sp.Evaluate(m, 10, w))
				}
				if choice.Settings != nil {
					if err := setAdjusted(m, choice.Settings); err != nil {
						return fail(err)
					}
					adjMet = append(adjMet, sp.Evaluate(m, 10, base))
					if err := setAdjusted(m, offer.Fitted); err != nil { // back to the fitted settings
						return fail(err)
					}
				}
			}
			plain := meanMetrics(met[0]) // this base weighting without a boost
			for g, rg := range grid {
				w := base
				w.RecentBoost, w.RecentHalfLife = rg.boost, rg.halfLife
				mean := meanMetrics(met[g])
				if res.Metrics == nil || preferWeighting(mean, res.Metrics, plain, w.RecentBoost) {
					bestModel, wt, res.Metrics, adjusted = m, w, mean, nil
				}
			}
			if adjMet != nil {
				// like a boost, the settings must not cost the random half
				// of any hold-out either
				if mean := meanMetrics(adjMet); preferWeighting(mean, res.Metrics, plain, 1) {
					bestModel, wt, res.Metrics, adjusted = m, base, mean, choice.Settings
				}
			}
		}
		if len(splits) > 1 {
			res.Metrics["holdouts"] = float64(len(splits))
		}
		m = bestModel
		if len(choice.Trials) > 0 {
			fitted, best := choice.Trials[0], choice.Trials[choice.Best]
			msg := "query-time settings: the fitted ones stay"
			if adjusted != nil {
				msg = "query-time settings chosen on validation"
			}
			log.Info(msg, "model", spec.Name, "settings", adjusted, "chosen on the sample", choice.Settings,
				"fitted", offer.Fitted, "best", best.Params, "gain", best.Gain, "se", best.SE,
				"fitted NDCG@10", fitted.Score.Mean(), "NDCG@10", res.Metrics["NDCG@10"], "tried", len(choice.Trials),
				"users", len(fitted.Score.Users), "out of time", choice.Stopped)
		}
		if adjusted != nil {
			if err := setAdjusted(m, adjusted); err != nil { // the stored model when SkipRefit
				return fail(err)
			}
		}
	}
	if !validated || !opts.SkipRefit {
		if validated {
			if m, err = newModel(); err != nil {
				return fail(err)
			}
		}
		if err := m.Fit(ctx, wt.apply(ds), progress("train")); err != nil {
			return fail(fmt.Errorf("fit: %w", err))
		}
		if adjusted != nil {
			if err := setAdjusted(m, adjusted); err != nil {
				return fail(err)
			}
		}
	}
	res.Weighting, res.Adjusted = wt, adjusted
	res.TrainSeconds = time.Since(start).Seconds()
	art := &Artifact{Header: Header{Model: spec.Name, Params: spec.Params, ItemIDs: ds.ItemIDs, UserIDs: ds.UserIDs, Weighting: wt, Adjusted: adjusted}, Model: m}
	blob, err := art.Bytes()
	if err != nil {
		return fail(err)
	}
	meta := store.ModelMeta{
		Name: spec.Name, Params: spec.Params, Adjusted: adjusted, Metrics: res.Metrics,
		Users: ds.NumUsers(), Items: ds.NumItems(), Events: ds.NumInteractions(),
		TrainSecs: res.TrainSeconds, Status: store.StatusCandidate, LossCurve: curve, DataAt: data.ReadAt,
	}
	if spec.Tuned {
		meta.Note = TunedNote
	}
	v, err := models.SaveModel(ctx, meta, blob)
	if err != nil {
		return fail(fmt.Errorf("store the model: %w", err))
	}
	res.Version = v
	res.Trained = true
	if validated && opts.SkipRefit {
		res.fitted = m
	}
	return res
}
