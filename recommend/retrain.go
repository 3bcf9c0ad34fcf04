package recommend

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/pipeline"
)

// Retrainer retrains the models in the background, on a schedule and/or
// after a number of new events, and swaps each new version in only if it
// is not worse than the serving one. Requests are never blocked.
type Retrainer struct {
	svc *Service
	// Every retrains on this schedule (0 = never on a schedule).
	Every time.Duration
	// AfterEvents retrains once this many new events arrived and the
	// event stream has been quiet for Quiet, or 10 minutes after they
	// arrived, quiet or not (0 = never). A shop that loads its history is
	// so trained seconds after the load, instead of serving fallbacks
	// until the schedule fires.
	AfterEvents int
	// Quiet is how long no event must arrive before an event-triggered
	// run starts, so a bulk load is trained on whole rather than in
	// pieces (0: 5s; negative: no wait).
	Quiet   time.Duration
	Options pipeline.Options
	// Turn, when set, is waited for before a run loads and trains, and
	// released after it: the shop host's queue, so that the shops of one
	// process train one at a time, in turn.
	Turn func(ctx context.Context) (release func(), err error)

	mu      sync.Mutex // held while a run is under way
	lastMu  sync.Mutex
	last    []pipeline.Result
	lastErr error
	lastAt  time.Time
	ctx     context.Context
	// pendingSince is when AfterEvents new events had arrived (Run's
	// goroutine only).
	pendingSince time.Time

	bgMu sync.Mutex     // held while background training or tuning runs
	bgWG sync.WaitGroup // background goroutines
	// bgAdd orders a start of background work (bgGo) before the Wait at
	// the end of Run: work whose context already ended is not started, so
	// the WaitGroup never gains work while Run's Wait runs
	bgAdd sync.Mutex
	bg    backgroundState
}

// NewRetrainer returns a retrainer for svc.
func (s *Service) NewRetrainer(every time.Duration, afterEvents int, opts pipeline.Options) *Retrainer {
	return &Retrainer{svc: s, Every: every, AfterEvents: afterEvents, Options: opts}
}

// ErrBusy is returned when a retraining run is already under way.
var ErrBusy = errors.New("a training run is already under way")

// RunOnce trains every configured model on all current data and promotes
// each new version that is not worse than the serving one.
func (r *Retrainer) RunOnce(ctx context.Context) ([]pipeline.Result, error) {
	if !r.mu.TryLock() {
		return nil, ErrBusy
	}
	defer r.mu.Unlock()
	if r.Turn != nil {
		release, err := r.Turn(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	r.svc.newEvents.Store(0)
	start := time.Now()
	opts := r.Options
	opts.Models = r.fastSpecs()
	set := r.svc.models.Load()
	opts.Previous = func(name string) model.Model {
		if sm, ok := set.byName[name]; ok && !r.svc.priv.forgottenAfter(dataTime(sm.meta)) {
			return sm.m // no warm start from a version that learnt from users forgotten since
		}
		return nil
	}
	if opts.ExcludeUser == nil {
		opts.ExcludeUser = r.svc.excludeFromTraining
	}
	if opts.ExcludeEvent == nil {
		opts.ExcludeEvent = r.svc.sponsored
	}
	data, err := opts.Load(ctx, r.svc.st)
	var results []pipeline.Result
	if err == nil {
		r.svc.log.Info("retraining", "interactions", data.Report.Interactions, "users", data.Report.Users)
		results, err = pipeline.Train(ctx, r.svc.st, data, opts)
	}
	for _, res := range results {
		if !res.Trained {
			continue
		}
		if _, perr := r.svc.Promote(ctx, res.Model, res.Version); perr != nil && err == nil {
			err = perr
		}
	}
	// The item relations (similar, bought together) learn from the same
	// log and use the serving factor model's vectors: relearn them with
	// every run, so a shop that loaded its history is not left with the
	// relations built before it arrived.
	if _, rerr := r.svc.LearnRelated(ctx); rerr != nil && ctx.Err() == nil {
		r.svc.log.Error("relearning item relations failed; the previous ones serve", "error", rerr)
	}
	for _, l := range r.svc.allLearners() {
		res, lerr := l.RunOnce(ctx)
		if res.Model != "" {
			results = append(results, res)
		}
		if lerr != nil {
			r.svc.log.Error("retraining failed", "model", l.Name(), "error", lerr)
			if err == nil {
				err = fmt.Errorf("%s: %w", l.Name(), lerr)
			}
		}
	}
	r.lastMu.Lock()
	r.last, r.lastErr, r.lastAt = results, err, time.Now()
	r.lastMu.Unlock()
	r.svc.log.Info("retraining done", "seconds", time.Since(start).Seconds(), "error", err)
	if data != nil && ctx.Err() == nil {
		// the second phase: the slower models, on the same data, in the
		// background (requests were never blocked; neither is the caller)
		r.startBackground(r.Context(), data)
	}
	return results, err
}

// Last returns the results of the last completed run (fast models, then
// the latest background training and hyper-parameter search, whose
// results carry their Phase) and when the newest of them ended.
func (r *Retrainer) Last() ([]pipeline.Result, error, time.Time) {
	r.lastMu.Lock()
	defer r.lastMu.Unlock()
	if len(r.bg.last) == 0 && r.bg.at.IsZero() {
		return r.last, r.lastErr, r.lastAt
	}
	out := append(append([]pipeline.Result(nil), r.last...), r.bg.last...)
	err, at := r.lastErr, r.lastAt
	if err == nil {
		err = r.bg.err
	}
	if r.bg.at.After(at) {
		at = r.bg.at
	}
	return out, err, at
}

// Busy reports whether a run is under way: the fast models', or the
// background work that follows it (the background models, the
// hyper-parameter search). A run RunOnce starts is not held back by
// background work; requests for one are refused while Busy.
func (r *Retrainer) Busy() bool {
	if r.mu.TryLock() {
		r.mu.Unlock()
		return r.BackgroundBusy()
	}
	return true
}

// Run retrains whenever the schedule or the event count says so, until
// ctx ends.
func (r *Retrainer) Run(ctx context.Context) {
	r.lastMu.Lock()
	r.ctx = ctx
	r.lastMu.Unlock()
	if r.startupDue() {
		// history imported while the server was down and never trained:
		// train now rather than serve fallbacks until the schedule fires
		if _, err := r.RunOnce(ctx); err != nil && !errors.Is(err, ErrBusy) && ctx.Err() == nil {
			r.svc.log.Error("first training failed", "error", err)
		}
	}
	if r.backgroundDueAtStart(ctx) {
		// the fast models serve (or there is too little data for any):
		// train the slower ones once, in the background
		r.startBackground(ctx, nil)
	}
	defer func() { // background work stops with ctx
		r.bgAdd.Lock() // ctx has ended: bgGo starts nothing from here on
		r.bgAdd.Unlock()
		r.bgWG.Wait()
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	next := time.Now().Add(r.Every)
	tuneEvery := r.Options.Background.TuneEvery
	nextTune := time.Now().Add(tuneEvery)
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if tuneEvery > 0 && now.After(nextTune) && r.startTuning(ctx) {
				nextTune = now.Add(tuneEvery)
			}
			if !r.due(now, next) {
				continue
			}
			if _, err := r.RunOnce(ctx); err != nil && !errors.Is(err, ErrBusy) && ctx.Err() == nil {
				r.svc.log.Error("background retraining failed", "error", err)
			}
			next = time.Now().Add(r.Every)
		}
	}
}

// due reports whether a run should start now: the schedule (next) has
// come, or AfterEvents new events arrived and the stream has been quiet
// for Quiet, or they arrived more than maxPending ago (a steady stream
// cannot postpone training for ever).
func (r *Retrainer) due(now, next time.Time) bool {
	if r.Every > 0 && now.After(next) {
		return true
	}
	n, after := r.svc.newEvents.Load(), int64(r.AfterEvents)
	if after <= 0 || n < after {
		r.pendingSince = time.Time{}
		return false
	}
	if r.pendingSince.IsZero() {
		r.pendingSince = now
	}
	quiet := r.Quiet
	if quiet == 0 {
		quiet = 5 * time.Second
	}
	return now.Sub(r.pendingSince) >= maxPending || now.Sub(time.Unix(0, r.svc.lastEventAt.Load())) >= quiet
}

// startupDue reports whether a run should start as the server starts: no
// model serves, yet the log already holds AfterEvents item events (they
// were imported while it was down).
func (r *Retrainer) startupDue() bool {
	return r.AfterEvents > 0 && r.svc.models.Load().primary == nil && r.svc.ledger.count() >= r.AfterEvents
}

// maxPending is the longest an event-triggered run waits for quiet.
const maxPending = 10 * time.Minute

// Context is the context background runs started by requests use: the
// one Run was given, so that they stop with the server.
func (r *Retrainer) Context() context.Context {
	r.lastMu.Lock()
	defer r.lastMu.Unlock()
	if r.ctx == nil {
		return context.Background()
	}
	return r.ctx
}
