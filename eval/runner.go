package eval

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/adjust"
	"github.com/aisle-dev/aisle/model/zoo"
)

// RecommendOptions configure RunRecommend.
type RecommendOptions struct {
	Format string   // one of Formats
	Path   string   // file or folder of the data set
	Models []string // model names known to model/zoo; empty means all of zoo.Names()
	Ks     []int    // cut-offs; empty means the format's published ones
	Seed   uint64   // shuffling seed (movielens-100k folds, interactions split)
	Folds  string   // movielens-100k: "" (5 random folds) or "official"
	Split  string   // interactions: "random:F" or "last"
	// OnlySplit, when set, fits and scores the split of that name alone
	// (e.g. "u1" of the official folds) instead of every split; the
	// validation split, used for tuning and query-time settings, stays.
	OnlySplit string
	Rating    bool // report RMSE/MAE of rating prediction instead of ranking
	Tune      bool // search hyper-parameters on the validation split first
	// NoAdjust skips the choice of query-time settings (model.Adjustable)
	// on the validation split that RunRecommend otherwise makes.
	NoAdjust bool
	// NoRescore scores every query-time setting with a full Score of
	// each case even when the model prepares cases once for all of them
	// (model.Rescorer): the slow path, to compare with.
	NoRescore bool
	// TuneTrials bounds the fits --tune may spend per model (default 16).
	TuneTrials int
	// Params are per-model hyper-parameters (model name → params), applied
	// before tuning; missing ones take the model's defaults.
	Params map[string]model.Params
	// Workers scoring users in parallel; 0 means GOMAXPROCS.
	Workers int
	// New builds a model by name; nil means zoo.New.
	New func(name string, p model.Params) (model.Model, error)
	// Progress receives progress; it may be nil. It is called from one
	// goroutine at a time.
	Progress func(Progress)
}

// Progress is one step of an evaluation run, for progress bars.
type Progress struct {
	Model string
	Split string // split name, e.g. "fold 2", "validation"
	Stage string // "tune", "fit" or "score"
	// Step counts finished (model, split) fits out of Steps, the fits the
	// run will do (tuning trials included once known).
	Step, Steps int
	// Fraction of the current step done, 0..1.
	Fraction float64
	Status   model.Status // the model's last training status during "fit"
}

// Report is the result of RunRecommend, in the JSON shape of issue 3.
type Report struct {
	Format  string   `json:"format"`
	Path    string   `json:"path"`
	Results []Result `json:"results"`
}

// Result is one model's evaluation.
type Result struct {
	Model   string             `json:"model"`
	Metrics map[string]float64 `json:"metrics"`
	// TrainSeconds is the mean wall time of one fit (per fold).
	TrainSeconds float64 `json:"train_seconds"`
	// Params are the hyper-parameters used (after tuning).
	Params model.Params `json:"params"`
	// PeakHeapMB is the largest live Go heap seen while fitting and scoring
	// this model (data set included), in MiB.
	PeakHeapMB float64 `json:"peak_heap_mb"`
	// EvalSeconds is the mean wall time of scoring one split.
	EvalSeconds float64 `json:"eval_seconds"`
	// Tuning lists the validation metric of each tried parameter set.
	Tuning []Trial `json:"tuning,omitempty"`
	// Adjusted lists the validation metric of each query-time setting
	// tried on one fit (model.Adjustable); the best went into Params.
	Adjusted []Trial `json:"adjusted,omitempty"`
	// Splits holds each split's own metrics when there are several (the
	// folds), e.g. to compare u1 alone with a published u1 number.
	Splits []SplitResult `json:"splits,omitempty"`
	// Error says why the model could not be evaluated (e.g. it does not
	// predict ratings); Metrics is then empty.
	Error string `json:"error,omitempty"`
}

// SplitResult is one split's metrics.
type SplitResult struct {
	Split        string             `json:"split"`
	Metrics      map[string]float64 `json:"metrics"`
	TrainSeconds float64            `json:"train_seconds"`
}

// Trial is one tuning fit on the validation split, or one query-time
// setting tried on one fit.
type Trial struct {
	Params model.Params `json:"params"`
	Metric float64      `json:"metric"`
	// Gain and SE are a query-time setting's mean per-case gain over the
	// fitted settings and its standard error (adjust's noise rule: chosen
	// only beyond two).
	Gain *float64 `json:"gain,omitempty"`
	SE   *float64 `json:"se,omitempty"`
}

// Tunable is implemented by models that offer a search grid for --tune:
// parameter name → candidate values.
type Tunable interface {
	TuneGrid() map[string][]float64
}

// ParamReporter is implemented by models that report their effective
// hyper-parameters (defaults filled in).
type ParamReporter interface {
	Params() model.Params
}

// RunRecommend loads the data set, then for each model: optionally tunes it
// on the validation split, chooses its query-time settings there when it is
// a model.Adjustable (unless NoAdjust), fits it on every split's training
// set and reports the split-averaged metrics.
func RunRecommend(ctx context.Context, opt RecommendOptions) (*Report, error) {
	data, err := Load(ctx, opt.Format, opt.Path, LoadOptions{Seed: opt.Seed, Folds: opt.Folds, Split: opt.Split, Rating: opt.Rating})
	if err != nil {
		return nil, err
	}
	if opt.OnlySplit != "" {
		if err := keepSplit(data, opt.OnlySplit); err != nil {
			return nil, err
		}
	}
	names := opt.Models
	if len(names) == 0 {
		names = zoo.Names()
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no models to evaluate: none are registered in model/zoo")
	}
	if opt.New == nil {
		opt.New = zoo.New
	}
	for _, n := range names {
		if _, err := opt.New(n, opt.Params[n]); err != nil {
			return nil, err
		}
	}
	ks := opt.Ks
	if len(ks) == 0 {
		ks = data.DefaultKs
	}
	for _, k := range ks {
		if k <= 0 {
			return nil, fmt.Errorf("cut-off k must be positive, got %d", k)
		}
	}
	r := &runner{opt: opt, data: data, ks: ks}
	r.steps = len(names) * len(data.Splits)
	rep := &Report{Format: opt.Format, Path: opt.Path}
	for _, n := range names {
		res, err := r.evalModel(ctx, n)
		if err != nil {
			return nil, err
		}
		rep.Results = append(rep.Results, res)
	}
	return rep, nil
}

// keepSplit drops every split of data but the one named name.
func keepSplit(data *Data, name string) error {
	have := make([]string, 0, len(data.Splits))
	for _, sp := range data.Splits {
		if sp.Name == name {
			data.Splits = []Split{sp}
			return nil
		}
		have = append(have, sp.Name)
	}
	return fmt.Errorf("no split %q (have %s)", name, strings.Join(have, ", "))
}

type runner struct {
	opt         RecommendOptions
	data        *Data
	ks          []int
	step, steps int
}

func (r *runner) progress(p Progress) {
	if r.opt.Progress == nil {
		return
	}
	p.Step, p.Steps = r.step, r.steps
	r.opt.Progress(p)
}

// primary names the metric tuning optimises and whether higher is better.
func (r *runner) primary() (string, bool) {
	if r.opt.Rating {
		return "RMSE", false
	}
	return "NDCG@" + strconv.Itoa(r.ks[0]), true
}

func (r *runner) evalModel(ctx context.Context, name string) (Result, error) {
	res := Result{Model: name, Metrics: map[string]float64{}}
	params := model.Params{}
	for k, v := range r.opt.Params[name] {
		params[k] = v
	}
	mem := startMemSampler()
	defer mem.stop()
	if r.opt.Tune {
		best, trials, err := r.tune(ctx, name, params)
		if err != nil {
			return res, err
		}
		params, res.Tuning = best, trials
	}
	if !r.opt.NoAdjust {
		best, trials, err := r.adjust(ctx, name, params)
		if err != nil {
			return res, err
		}
		params, res.Adjusted = best, trials
	}
	sums := map[string]float64{}
	var trainSec, evalSec float64
	for _, sp := range r.data.Splits {
		m, err := r.opt.New(name, params)
		if err != nil {
			return res, err
		}
		if r.opt.Rating {
			if _, ok := m.(model.RatingPredictor); !ok {
				res.Error = "does not predict ratings (no model.RatingPredictor)"
				r.step += len(r.data.Splits)
				res.Params = effectiveParams(m, params)
				return res, nil
			}
		}
		sec, err := r.fit(ctx, m, name, &sp)
		if err != nil {
			return res, fmt.Errorf("fit %s on %s: %w", name, sp.Name, err)
		}
		trainSec += sec
		t0 := time.Now()
		ms, err := r.score(ctx, m, name, &sp, nil)
		if err != nil {
			return res, err
		}
		evalSec += time.Since(t0).Seconds()
		for k, v := range ms {
			sums[k] += v
		}
		if len(r.data.Splits) > 1 {
			res.Splits = append(res.Splits, SplitResult{Split: sp.Name, Metrics: ms, TrainSeconds: sec})
		}
		res.Params = effectiveParams(m, params)
		r.step++
	}
	n := float64(len(r.data.Splits))
	for k, v := range sums {
		res.Metrics[k] = v / n
	}
	res.TrainSeconds = trainSec / n
	res.EvalSeconds = evalSec / n
	res.PeakHeapMB = float64(mem.stop()) / (1 << 20)
	return res, nil
}

func effectiveParams(m model.Model, given model.Params) model.Params {
	if pr, ok := m.(ParamReporter); ok {
		if p := pr.Params(); p != nil {
			return p
		}
	}
	if given == nil {
		return model.Params{}
	}
	return given
}

// fit trains m on the split and returns the wall seconds.
func (r *runner) fit(ctx context.Context, m model.Model, name string, sp *Split) (float64, error) {
	stage := "fit"
	r.progress(Progress{Model: name, Split: sp.Name, Stage: stage})
	var mu sync.Mutex
	t0 := time.Now()
	err := m.Fit(ctx, sp.Train, func(s model.Status) {
		frac := 0.0
		if s.Of > 0 {
			frac = float64(s.Epoch) / float64(s.Of)
		}
		mu.Lock()
		defer mu.Unlock()
		r.progress(Progress{Model: name, Split: sp.Name, Stage: stage, Fraction: 0.9 * frac, Status: s})
	})
	if err == nil {
		err = ctx.Err()
	}
	return time.Since(t0).Seconds(), err
}

// tune does a bounded coordinate search over the model's grid, fitting on
// the validation split's training set and scoring its held-out cases.
func (r *runner) tune(ctx context.Context, name string, start model.Params) (model.Params, []Trial, error) {
	m0, err := r.opt.New(name, start)
	if err != nil {
		return nil, nil, err
	}
	tb, ok := m0.(Tunable)
	if !ok || r.data.Validation == nil {
		return start, nil, nil
	}
	grid := tb.TuneGrid()
	budget := r.opt.TuneTrials
	if budget <= 0 {
		budget = 16
	}
	metric, higher := r.primary()
	val := r.data.Validation
	better := func(a, b float64) bool {
		if math.IsNaN(b) {
			return !math.IsNaN(a)
		}
		if higher {
			return a > b
		}
		return a < b
	}
	var trials []Trial
	tried := map[string]float64{}
	eval := func(p model.Params) (float64, error) {
		key := paramsKey(p)
		if v, ok := tried[key]; ok {
			return v, nil
		}
		m, err := r.opt.New(name, p)
		if err != nil {
			return math.NaN(), err
		}
		r.steps++
		if _, err := r.fit(ctx, m, name+" (tune)", val); err != nil {
			return math.NaN(), fmt.Errorf("tune %s: %w", name, err)
		}
		ms, err := r.score(ctx, m, name+" (tune)", val, nil)
		if err != nil {
			return math.NaN(), err
		}
		r.step++
		v, ok := ms[metric]
		if !ok {
			v = math.NaN()
		}
		tried[key] = v
		trials = append(trials, Trial{Params: clone(p), Metric: v})
		return v, nil
	}
	best := clone(start)
	bestV, err := eval(best)
	if err != nil {
		return nil, nil, err
	}
	names := make([]string, 0, len(grid))
	for n := range grid {
		names = append(names, n)
	}
	sort.Strings(names)
	// Coordinate descent: vary one parameter at a time around the best so
	// far, two passes, within the budget of fits.
	for pass := 0; pass < 2; pass++ {
		improved := false
		for _, pn := range names {
			for _, v := range grid[pn] {
				if len(trials) >= budget {
					return best, trials, nil
				}
				p := clone(best)
				p[pn] = v
				if _, done := tried[paramsKey(p)]; done {
					continue
				}
				got, err := eval(p)
				if err != nil {
					return nil, nil, err
				}
				if better(got, bestV) {
					best, bestV, improved = p, got, true
				}
			}
		}
		if !improved {
			break
		}
	}
	return best, trials, nil
}

// adjust fits the model once on the validation split and, when it is a
// model.Adjustable, chooses its query-time settings on the validation
// cases with adjust.Choose (the served pipeline's chooser, decision
// 0062), scoring without refitting: NDCG at the first cut-off per case
// (over all items when the format measures it), every combination up to
// adjust.MaxGrid (else greedily), and the best only if it gains beyond
// the noise. Settings given explicitly (RecommendOptions.Params) stay as
// given. It returns params with the chosen settings added, and the
// trials (the first is the model as fitted).
func (r *runner) adjust(ctx context.Context, name string, params model.Params) (model.Params, []Trial, error) {
	val := r.data.Validation
	if val == nil || r.opt.Rating {
		return params, nil, nil
	}
	m, err := r.opt.New(name, params)
	if err != nil {
		return nil, nil, err
	}
	am, ok := m.(model.Adjustable)
	if !ok || len(adjust.OfferOf(m, r.opt.Params[name]).Names) == 0 {
		return params, nil, nil
	}
	r.steps++
	if _, err := r.fit(ctx, m, name+" (adjust)", val); err != nil {
		return nil, nil, fmt.Errorf("adjust %s: %w", name, err)
	}
	r.step++
	offer := adjust.OfferOf(m, r.opt.Params[name]) // with the fitted values
	score := func(ctx context.Context) (adjust.Score, error) {
		perCase := make([]float64, len(val.Cases))
		ms, err := r.score(ctx, m, name+" (adjust)", val, perCase)
		return adjust.Score{Users: perCase, Metrics: ms}, err
	}
	opt := adjust.Options{}
	if rm, ok := m.(model.Rescorer); ok && !r.opt.NoRescore {
		opt.ScoreAll = func(ctx context.Context, settings []model.Params) ([]adjust.Score, error) {
			return r.scoreSettings(ctx, rm, name+" (adjust)", val, settings)
		}
	}
	ch, err := adjust.Choose(ctx, am, offer, score, opt)
	if err != nil {
		return nil, nil, fmt.Errorf("adjust %s: %w", name, err)
	}
	trials := make([]Trial, len(ch.Trials))
	for k, t := range ch.Trials {
		trials[k] = Trial{Params: t.Params, Metric: t.Score.Mean()}
		if k > 0 {
			trials[k].Gain, trials[k].SE = &t.Gain, &t.SE
		}
	}
	out := clone(params)
	for k, v := range ch.Settings {
		out[k] = v
	}
	return out, trials, nil
}

func clone(p model.Params) model.Params {
	out := make(model.Params, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

func paramsKey(p model.Params) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%g;", k, p[k])
	}
	return b.String()
}

// accum sums per-case metrics in one worker.
type accum struct {
	sums   map[string]float64
	counts map[string]float64
	// recommended marks items in some top-maxK list (coverage).
	recommended []bool
	recAll      []bool
	pred        []float32
	truth       []float32
}

func (a *accum) add(key string, v float64) {
	if math.IsNaN(v) {
		return
	}
	a.sums[key] += v
	a.counts[key]++
}

// score evaluates m on every case of the split, in parallel. When perCase
// is not nil (len(sp.Cases)), it receives each case's NDCG at the first
// cut-off, over all items when the split measures both (the metric
// adjust chooses by), and the full ranking's AUC is left out.
func (r *runner) score(ctx context.Context, m model.Model, name string, sp *Split, perCase []float64) (map[string]float64, error) {
	workers := r.workers()
	accs := r.newAccums(sp, workers)
	bufs := make([]*caseWork, workers)
	for w := range bufs {
		bufs[w] = r.newCaseWork(sp)
	}
	err := r.forCases(ctx, name, sp, workers, func(w, i int) {
		a, b, c := accs[w], bufs[w], &sp.Cases[i]
		if r.opt.Rating {
			rp := m.(model.RatingPredictor)
			for j, it := range c.Targets {
				a.pred = append(a.pred, rp.PredictRating(c.User, it))
				a.truth = append(a.truth, c.Ratings[j])
			}
			return
		}
		m.Score(query(sp.Train, c), b.scores)
		nd := r.measure(a, b, sp, c, perCase == nil)
		if perCase != nil {
			perCase[i] = nd
		}
	})
	if err != nil {
		return nil, err
	}
	return r.summarise(sp, accs), nil
}

// scoreSettings scores the fitted rm under each of settings on every case
// of the split, preparing each case once (model.Rescorer), and returns
// each setting's metrics and per-case NDCG as score would with the
// setting adjusted on rm.
func (r *runner) scoreSettings(ctx context.Context, rm model.Rescorer, name string, sp *Split, settings []model.Params) ([]adjust.Score, error) {
	workers := r.workers()
	accs := make([][]*accum, len(settings))
	out := make([]adjust.Score, len(settings))
	for v := range settings {
		accs[v] = r.newAccums(sp, workers)
		out[v].Users = make([]float64, len(sp.Cases))
	}
	bufs := make([]*caseWork, workers)
	for w := range bufs {
		bufs[w] = r.newCaseWork(sp)
	}
	var mu sync.Mutex
	var failed error
	err := r.forCases(ctx, name, sp, workers, func(w, i int) {
		b, c := bufs[w], &sp.Cases[i]
		prep := rm.Prepare(query(sp.Train, c))
		defer prep.Release()
		for v, p := range settings {
			if err := prep.Score(p, b.scores); err != nil {
				mu.Lock()
				failed = cmp.Or(failed, fmt.Errorf("query-time settings %v: %w", p, err))
				mu.Unlock()
				return
			}
			out[v].Users[i] = r.measure(accs[v][w], b, sp, c, false)
		}
	})
	if err = cmp.Or(err, failed); err != nil {
		return nil, err
	}
	for v := range settings {
		out[v].Metrics = r.summarise(sp, accs[v])
	}
	return out, nil
}

func (r *runner) workers() int {
	if r.opt.Workers > 0 {
		return r.opt.Workers
	}
	return runtime.GOMAXPROCS(0)
}

func (r *runner) maxK() int {
	maxK := 0
	for _, k := range r.ks {
		maxK = max(maxK, k)
	}
	return maxK
}

func (r *runner) newAccums(sp *Split, workers int) []*accum {
	nItems := sp.Train.NumItems()
	accs := make([]*accum, workers)
	for w := range accs {
		accs[w] = &accum{sums: map[string]float64{}, counts: map[string]float64{}, recommended: make([]bool, nItems), recAll: make([]bool, nItems)}
	}
	return accs
}

// caseWork is one worker's buffers for scoring and measuring cases.
type caseWork struct {
	scores             []float32
	excluded, isTarget []bool
	top                []int32
	hits               []bool
	pos, neg           []float32
}

func (r *runner) newCaseWork(sp *Split) *caseWork {
	nItems, maxK := sp.Train.NumItems(), r.maxK()
	return &caseWork{scores: make([]float32, nItems), excluded: make([]bool, nItems), isTarget: make([]bool, nItems),
		top: make([]int32, 0, maxK), hits: make([]bool, maxK)}
}

// forCases runs do(worker, case index) for every case of the split on
// workers goroutines, reporting progress, and returns ctx's error when
// it ended early. Worker w takes cases w, w+workers, …, so each worker's
// sums, and the split's metrics, are the same on every run.
func (r *runner) forCases(ctx context.Context, name string, sp *Split, workers int, do func(w, i int)) error {
	var done int
	var mu sync.Mutex
	total := len(sp.Cases)
	var wg sync.WaitGroup
	lastReport := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < total && ctx.Err() == nil; i += workers {
				do(w, i)
				mu.Lock()
				done++
				d := done
				report := r.opt.Progress != nil && (time.Since(lastReport) > 100*time.Millisecond || d == total)
				if report {
					lastReport = time.Now()
					r.progress(Progress{Model: name, Split: sp.Name, Stage: "score", Fraction: 0.9 + 0.1*float64(d)/float64(max(total, 1))})
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// measure adds the ranking metrics of case c, scored into b.scores, to a
// and returns its NDCG at the first cut-off, over all items when the
// split measures both. auc false leaves out the full ranking's AUC (a
// pass over the catalogue per target, or a sort of it): the chooser of
// query-time settings reads the NDCG alone.
func (r *runner) measure(a *accum, b *caseWork, sp *Split, c *Case, auc bool) float64 {
	scores := b.scores
	var first float64
	for _, t := range c.Targets {
		b.isTarget[t] = true
	}
	if c.Candidates != nil {
		first = r.scoreSampled(a, c, scores)
	}
	if c.Candidates == nil || sp.AlsoFull {
		suffix := ""
		if c.Candidates != nil {
			suffix = ":all"
		}
		for _, it := range c.Exclude {
			b.excluded[it] = true
		}
		b.top = topK(scores, nil, b.excluded, r.maxK(), b.top)
		hits := b.hits[:len(b.top)]
		for j, it := range b.top {
			hits[j] = b.isTarget[it]
		}
		nRel := len(c.Targets)
		for _, k := range r.ks {
			ks := strconv.Itoa(k)
			if c.Candidates == nil {
				a.add("Precision@"+ks, Precision(hits, k))
				a.add("Recall@"+ks, Recall(hits, k, nRel))
				a.add("MAP@"+ks, AP(hits, k, nRel))
			}
			a.add("HR@"+ks+suffix, HR(hits, k))
			nd := NDCG(hits, k, nRel)
			a.add("NDCG@"+ks+suffix, nd)
			if k == r.ks[0] {
				first = nd
			}
		}
		rec := a.recommended
		if suffix != "" {
			rec = a.recAll
		}
		for _, it := range b.top {
			rec[it] = true
		}
		if c.Candidates == nil && auc {
			b.pos, b.neg = b.pos[:0], b.neg[:0]
			for it, s := range scores {
				switch {
				case b.isTarget[it]:
					b.pos = append(b.pos, s)
				case !b.excluded[it]:
					b.neg = append(b.neg, s)
				}
			}
			a.add("AUC", AUC(b.pos, b.neg))
		}
		for _, it := range c.Exclude {
			b.excluded[it] = false
		}
	}
	for _, t := range c.Targets {
		b.isTarget[t] = false
	}
	return first
}

// summarise merges the workers' sums into the split's metrics.
func (r *runner) summarise(sp *Split, accs []*accum) map[string]float64 {
	nItems := sp.Train.NumItems()
	out := map[string]float64{}
	sums, counts := map[string]float64{}, map[string]float64{}
	recommended, recAll := make([]bool, nItems), make([]bool, nItems)
	var pred, truth []float32
	for _, a := range accs {
		for k, v := range a.sums {
			sums[k] += v
			counts[k] += a.counts[k]
		}
		for i := range recommended {
			recommended[i] = recommended[i] || a.recommended[i]
			recAll[i] = recAll[i] || a.recAll[i]
		}
		pred = append(pred, a.pred...)
		truth = append(truth, a.truth...)
	}
	for k, v := range sums {
		out[k] = v / counts[k]
	}
	if r.opt.Rating {
		out["RMSE"] = RMSE(pred, truth)
		out["MAE"] = MAE(pred, truth)
		return out
	}
	mk := strconv.Itoa(r.maxK())
	if len(sp.Cases) > 0 {
		if sp.Full {
			out["Coverage@"+mk] = Coverage(recommended, nItems)
		} else if sp.AlsoFull {
			out["Coverage@"+mk+":all"] = Coverage(recAll, nItems)
		}
	}
	return out
}

// scoreSampled ranks the single target among the case's candidates. Ties
// count against the target (pessimistic, as ReChorus does); repeated
// negatives count each time they appear. It returns the case's NDCG at the
// first cut-off (the mean over its targets).
func (r *runner) scoreSampled(a *accum, c *Case, scores []float32) float64 {
	var first float64
	for _, t := range c.Targets {
		ts := scores[t]
		rank := 0
		var wins float64
		for _, n := range c.Candidates {
			if n == t {
				continue
			}
			ns := scores[n]
			if ns >= ts || ts != ts {
				rank++
			}
			if ts > ns {
				wins++
			} else if ts == ns {
				wins += 0.5
			}
		}
		nNeg := 0
		for _, n := range c.Candidates {
			if n != t {
				nNeg++
			}
		}
		for _, k := range r.ks {
			ks := strconv.Itoa(k)
			hr, ndcg := 0.0, 0.0
			if rank < k {
				hr, ndcg = 1, 1/math.Log2(float64(rank+2))
			}
			a.add("HR@"+ks, hr)
			a.add("NDCG@"+ks, ndcg)
			if k == r.ks[0] {
				first += ndcg / float64(len(c.Targets))
			}
		}
		if nNeg > 0 {
			a.add("AUC", wins/float64(nNeg))
		}
	}
	return first
}

// query builds the model query of a case. When the case's history is just
// the user's training row, History is left empty: the models' convention is
// that a known user with no history is scored from what it was fitted on
// (factor models then use their learned user vector instead of folding in).
// History is passed when the protocol adds items after the training row
// (s3rec and rechorus test cases carry the validation item).
func query(train *model.Dataset, c *Case) model.Query {
	q := model.Query{User: c.User, History: c.History}
	if c.User >= 0 && int(c.User) < train.NumUsers() && slices.Equal(c.History, train.Row(int(c.User))) {
		q.History = nil
	}
	return q
}
