package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/adjust"
)

// adjustUsers is the default bound (Options.AdjustUsers) of the hold-out users a model's query-time settings are
// chosen on (users of the first hold-out drawn at random, half of them
// newest-half users: Split.sample): each setting costs one scoring of each, and
// the grid is up to adjust.MaxGrid settings (docs/benchmarks.md, "One
// chooser for query-time settings (session 8)").
const adjustUsers = 2000

// adjustBudget stops the search of query-time settings after this much
// wall time; the settings scored by then decide.
const adjustBudget = 60 * time.Second

// adjustMinUsers is the fewest users a sample shrinks to when the grid
// would not fit adjustBudget on all of them (fitBudget).
const adjustMinUsers = 200

// adjustBounds bound a search of query-time settings: its wall time, the
// clock that measures it and the fewest users its sample shrinks to.
type adjustBounds struct {
	budget   time.Duration
	minUsers int
	now      func() time.Time
}

// chooseAdjusted chooses the fitted m's query-time settings on the
// hold-out sample sp (adjust.Choose with the random-half veto: a setting may help what
// users do next only without losing the taste their whole history
// shows), within adjustBudget. The settings params fixes are not
// searched. m is left with the fitted settings in force.
func chooseAdjusted(ctx context.Context, m model.Model, params model.Params, sample *Split, w Weighting) (adjust.Offer, adjust.Choice, error) {
	return chooseAdjustedWithin(ctx, m, params, sample, w, adjustBounds{budget: adjustBudget, minUsers: adjustMinUsers, now: time.Now})
}

// chooseAdjustedWithin is chooseAdjusted within bounds b.
func chooseAdjustedWithin(ctx context.Context, m model.Model, params model.Params, sample *Split, w Weighting, b adjustBounds) (adjust.Offer, adjust.Choice, error) {
	offer := adjust.OfferOf(m, params)
	am, ok := m.(model.Adjustable)
	if !ok || len(offer.Names) == 0 {
		return offer, adjust.Choice{}, nil
	}
	opt := adjust.Options{Budget: b.budget, Now: b.now, Veto: randomHalfVeto}
	scorings := min(offer.Combos(), adjust.MaxGrid) + 1
	timed := func(sp *Split) { sp.evaluateUsers(m, w) }
	if rm, ok := m.(model.Rescorer); ok {
		// each user's costly parts once for a chunk of settings: the
		// budget is a chunk's pace (timed on the fitted settings)
		opt.ScoreAll = func(_ context.Context, ps []model.Params) ([]adjust.Score, error) {
			return sample.evaluateSettings(rm, w, ps)
		}
		scorings = (scorings + adjust.ScoreChunk - 1) / adjust.ScoreChunk
		timed = func(sp *Split) {
			_, _ = sp.evaluateSettings(rm, w, slices.Repeat([]model.Params{offer.Fitted}, adjust.ScoreChunk))
		}
	}
	sample = sample.fitBudget(scorings, b, timed)
	score := func(context.Context) (adjust.Score, error) {
		mt, users := sample.evaluateUsers(m, w)
		return adjust.Score{Users: users, Metrics: mt}, nil
	}
	ch, err := adjust.Choose(ctx, am, offer, score, opt)
	return offer, ch, err
}

// evaluateSettings scores the fitted rm under each of settings on the
// sample, each user's query prepared once (model.Rescorer), as
// evaluateUsers would with the setting adjusted on rm.
func (sp *Split) evaluateSettings(rm model.Rescorer, w Weighting, settings []model.Params) ([]adjust.Score, error) {
	var mu sync.Mutex
	var failed error
	met, users := sp.evaluate(10, w, len(settings), func(q model.Query, out [][]float32) {
		prep := rm.Prepare(q)
		defer prep.Release()
		for v, p := range settings {
			if err := prep.Score(p, out[v]); err != nil {
				mu.Lock()
				failed = cmp.Or(failed, fmt.Errorf("query-time settings %v: %w", p, err))
				mu.Unlock()
				return
			}
		}
	})
	if failed != nil {
		return nil, failed
	}
	out := make([]adjust.Score, len(settings))
	for v := range out {
		out[v] = adjust.Score{Users: users[v], Metrics: met[v]}
	}
	return out, nil
}

// fitBudget returns the sample a search of `scorings` scorings runs on:
// sp itself when they all fit b.budget at the pace of one timed scoring of
// sp (score), else a sample of sp's users (Split.sample), as many as fit
// with a fifth to spare, but no fewer than b.minUsers. On a loaded machine the search
// then scores every setting on fewer users, and the noise rule asks a
// larger gain of a smaller sample, rather than stopping after the first
// settings of the grid on all of them: at load 25 the served searches
// stopped after 3–22 of 64 settings and never reached the history bonus,
// the grid's last setting (docs/benchmarks.md, "Served quality
// re-measured (session 9)").
func (sp *Split) fitBudget(scorings int, b adjustBounds, score func(*Split)) *Split {
	if b.budget <= 0 || b.now == nil || len(sp.Users) <= b.minUsers {
		return sp
	}
	start := b.now()
	score(sp)
	took := b.now().Sub(start)
	need := took * time.Duration(scorings)
	if took <= 0 || need <= b.budget {
		return sp
	}
	n := int(0.8 * float64(len(sp.Users)) * float64(b.budget) / float64(need))
	return sp.sample(max(n, b.minUsers))
}

// randomHalfVeto rejects a setting that costs the random half of the
// hold-out (preferWeighting's rule for a boost).
func randomHalfVeto(cand, fitted adjust.Score) string {
	if !preferWeighting(cand.Metrics, map[string]float64{"NDCG@10": -1}, fitted.Metrics, 1) {
		return "costs the random half"
	}
	return ""
}

// sample is sp restricted to n of its users drawn at random (the same n
// users on every call), in sp's order; sp itself when it has no more.
// sp's users are in user-index order (holdout appends them so), and a
// prefix of them is not a sample of the shop's users (ML-100k u1 through
// the server: its first 336 scored NDCG@10 0.123 where all 943 score
// 0.248).
func (sp *Split) sample(n int) *Split {
	if len(sp.Users) <= n {
		return sp
	}
	pick := rand.New(rand.NewPCG(uint64(len(sp.Users)), uint64(n))).Perm(len(sp.Users))[:n]
	slices.Sort(pick)
	out := *sp
	out.Users, out.Targets, out.Newest = make([]int32, n), make([][]int32, n), make([]bool, n)
	for k, i := range pick {
		out.Users[k], out.Targets[k], out.Newest[k] = sp.Users[i], sp.Targets[i], sp.Newest[i]
	}
	return &out
}

// setAdjusted sets query-time settings p on the fitted m.
func setAdjusted(m model.Model, p model.Params) error {
	am, ok := m.(model.Adjustable)
	if !ok {
		return fmt.Errorf("%s has no query-time settings (%v)", m.Name(), p)
	}
	if err := am.Adjust(p); err != nil {
		return fmt.Errorf("query-time settings %v: %w", p, err)
	}
	return nil
}
