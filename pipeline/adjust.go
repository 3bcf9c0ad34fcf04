package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/adjust"
)

// adjustUsers is the default bound (Options.AdjustUsers) of the hold-out users a model's query-time settings are
// chosen on (the first hold-out's first users: a random sample, half of
// them newest-half users): each setting costs one scoring of each, and
// the grid is up to adjust.MaxGrid settings (docs/benchmarks.md, "One
// chooser for query-time settings (session 8)").
const adjustUsers = 2000

// adjustBudget stops the search of query-time settings after this much
// wall time; the settings scored by then decide.
const adjustBudget = 60 * time.Second

// chooseAdjusted chooses the fitted m's query-time settings on the
// hold-out sample sp (adjust.Choose with the random-half veto: a setting may help what
// users do next only without losing the taste their whole history
// shows). The settings params fixes are not searched. m is left with the
// fitted settings in force.
func chooseAdjusted(ctx context.Context, m model.Model, params model.Params, sample *Split, w Weighting) (adjust.Offer, adjust.Choice, error) {
	offer := adjust.OfferOf(m, params)
	am, ok := m.(model.Adjustable)
	if !ok || len(offer.Names) == 0 {
		return offer, adjust.Choice{}, nil
	}
	score := func(context.Context) (adjust.Score, error) {
		mt, users := sample.evaluateUsers(m, w)
		return adjust.Score{Users: users, Metrics: mt}, nil
	}
	ch, err := adjust.Choose(ctx, am, offer, score, adjust.Options{Budget: adjustBudget, Veto: randomHalfVeto})
	return offer, ch, err
}

// randomHalfVeto rejects a setting that costs the random half of the
// hold-out (preferWeighting's rule for a boost).
func randomHalfVeto(cand, fitted adjust.Score) string {
	if !preferWeighting(cand.Metrics, map[string]float64{"NDCG@10": -1}, fitted.Metrics, 1) {
		return "costs the random half"
	}
	return ""
}

// sample is sp restricted to its first n users (sp itself when it has no
// more); the users are in random order.
func (sp *Split) sample(n int) *Split {
	if len(sp.Users) <= n {
		return sp
	}
	out := *sp
	out.Users, out.Targets, out.Newest = sp.Users[:n], sp.Targets[:n], sp.Newest[:n]
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
