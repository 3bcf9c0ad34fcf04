package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/zoo"
	"github.com/aisle-dev/aisle/store"
)

// Spec names a model to train and its hyper-parameters.
type Spec struct {
	Name   string       `yaml:"name"`
	Params model.Params `yaml:"params"`
	// Requirements override the model's defaults when set.
	Requirements *Requirements `yaml:"requirements"`
}

// DefaultModels are trained when the config names none.
func DefaultModels() []Spec {
	return []Spec{{Name: "popular"}, {Name: "itemknn"}, {Name: "ials"}, {Name: "ease"}}
}

// Options configure a training run.
type Options struct {
	Models     []Spec
	Preprocess Preprocess
	// ValidationUsers is how many users' last interactions are held out to
	// measure each model (default 2000; 0 uses the default, <0 disables).
	ValidationUsers int
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
	Error        string             `json:"error,omitempty"`
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
	return o.Preprocess.Build(ctx, items, func(fn func(events.Event) error) error {
		return src.ScanEvents(ctx, 0, fn)
	})
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
		nVal = 2000
	}
	split := holdout(data.Implicit, nVal, opts.Seed)
	var results []Result
	for _, spec := range specs {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		res := trainOne(ctx, models, data, split, spec, opts)
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

func trainOne(ctx context.Context, models store.Models, data *Data, split *Split, spec Spec, opts Options) Result {
	res := Result{Model: spec.Name}
	req := DefaultRequirements(spec.Name)
	if spec.Requirements != nil {
		req = *spec.Requirements
	}
	ok, why := req.Check(data)
	res.Reason = why
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
	// Measure on the held-out split (implicit models only), then fit again
	// on all the data unless told not to.
	validated := split != nil && req.NeedsRatings == 0 && len(split.Targets) > 0
	if validated {
		if err := m.Fit(ctx, split.Train, progress("validate")); err != nil {
			return fail(fmt.Errorf("fit on the validation split: %w", err))
		}
		res.Metrics = split.Evaluate(m, 10)
	}
	if !validated || !opts.SkipRefit {
		if validated {
			if m, err = newModel(); err != nil {
				return fail(err)
			}
		}
		if err := m.Fit(ctx, ds, progress("train")); err != nil {
			return fail(fmt.Errorf("fit: %w", err))
		}
	}
	res.TrainSeconds = time.Since(start).Seconds()
	art := &Artifact{Header: Header{Model: spec.Name, Params: spec.Params, ItemIDs: ds.ItemIDs, UserIDs: ds.UserIDs}, Model: m}
	blob, err := art.Bytes()
	if err != nil {
		return fail(err)
	}
	meta := store.ModelMeta{
		Name: spec.Name, Params: spec.Params, Metrics: res.Metrics,
		Users: ds.NumUsers(), Items: ds.NumItems(), Events: ds.NumInteractions(),
		TrainSecs: res.TrainSeconds, Status: "candidate", LossCurve: curve,
	}
	v, err := models.SaveModel(ctx, meta, blob)
	if err != nil {
		return fail(fmt.Errorf("store the model: %w", err))
	}
	res.Version = v
	res.Trained = true
	return res
}

// Split is a leave-last-out hold-out: each sampled user's newest
// interaction is removed from training and must be ranked.
type Split struct {
	Train   *model.Dataset
	Users   []int32 // sampled users
	Targets []int32 // held-out item of each sampled user
}

// holdout builds the split; users need at least 3 interactions to lend one.
func holdout(ds *model.Dataset, n int, seed uint64) *Split {
	if n < 0 || ds.NumUsers() == 0 {
		return nil
	}
	var eligible []int32
	for u := 0; u < ds.NumUsers(); u++ {
		if len(ds.Row(u)) >= 3 {
			eligible = append(eligible, int32(u))
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	rng.Shuffle(len(eligible), func(i, j int) { eligible[i], eligible[j] = eligible[j], eligible[i] })
	if len(eligible) > n {
		eligible = eligible[:n]
	}
	held := make(map[int32]bool, len(eligible))
	for _, u := range eligible {
		held[u] = true
	}
	tr := &model.Dataset{
		UserIDs: ds.UserIDs, ItemIDs: ds.ItemIDs, ItemText: ds.ItemText, ItemAttrs: ds.ItemAttrs, NumAttrs: ds.NumAttrs,
		UserPtr: make([]int, 1, ds.NumUsers()+1),
	}
	sp := &Split{Train: tr}
	for u := 0; u < ds.NumUsers(); u++ {
		lo, hi := ds.UserPtr[u], ds.UserPtr[u+1]
		if held[int32(u)] {
			hi--
			sp.Users = append(sp.Users, int32(u))
			sp.Targets = append(sp.Targets, ds.Items[hi])
		}
		tr.Items = append(tr.Items, ds.Items[lo:hi]...)
		if ds.Weights != nil {
			tr.Weights = append(tr.Weights, ds.Weights[lo:hi]...)
		}
		if ds.Times != nil {
			tr.Times = append(tr.Times, ds.Times[lo:hi]...)
		}
		if ds.Ratings != nil {
			tr.Ratings = append(tr.Ratings, ds.Ratings[lo:hi]...)
		}
		tr.UserPtr = append(tr.UserPtr, len(tr.Items))
	}
	return sp
}

// Evaluate ranks each held-out item among all items the user has not
// interacted with in training, and returns HR@k (= Recall@k, one target),
// NDCG@k and MRR, averaged over users. It uses every core.
func (sp *Split) Evaluate(m model.Model, k int) map[string]float64 {
	nItems := sp.Train.NumItems()
	workers := runtime.GOMAXPROCS(0)
	var mu sync.Mutex
	var hr, ndcg, mrr float64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			scores := make([]float32, nItems)
			seen := make([]bool, nItems)
			var lhr, lndcg, lmrr float64
			for i := w; i < len(sp.Users); i += workers {
				u := sp.Users[i]
				row := sp.Train.Row(int(u))
				m.Score(model.Query{User: u, History: row, HistoryWeights: sp.Train.RowWeights(int(u))}, scores)
				for _, it := range row {
					seen[it] = true
				}
				target := sp.Targets[i]
				ts := scores[target]
				rank := 0 // items strictly ahead of the target (ties count half)
				ties := 0
				for j, s := range scores {
					if seen[j] || int32(j) == target {
						continue
					}
					if s > ts || math.IsNaN(float64(ts)) {
						rank++
					} else if s == ts {
						ties++
					}
				}
				rank += ties / 2
				for _, it := range row {
					seen[it] = false
				}
				if rank < k {
					lhr++
					lndcg += 1 / math.Log2(float64(rank)+2)
				}
				lmrr += 1 / float64(rank+1)
			}
			mu.Lock()
			hr, ndcg, mrr = hr+lhr, ndcg+lndcg, mrr+lmrr
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	n := float64(len(sp.Users))
	if n == 0 {
		return nil
	}
	return map[string]float64{
		fmt.Sprintf("HR@%d", k):   hr / n,
		fmt.Sprintf("NDCG@%d", k): ndcg / n,
		"MRR":                     mrr / n,
	}
}
