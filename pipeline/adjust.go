package pipeline

import (
	"fmt"
	"maps"
	"slices"

	"github.com/aisle-dev/aisle/model"
)

// maxAdjustCombos bounds the combinations of a model's query-time
// settings the validation scores exhaustively; a larger offer is searched
// one setting at a time around the fitted values (each scoring costs one
// pass over the validation users, never a fit).
const maxAdjustCombos = 64

// adjustMinSE is how many standard errors of the per-user paired
// difference a query-time setting's NDCG@10 gain over the fitted settings
// must exceed (as a blend's over its partner, blendMinSE): a gain a new
// draw of the hold-out could reverse does not change what is served.
const adjustMinSE = 2

// adjustments are the query-time settings (model.Adjustable) validation
// tries on a fitted model: every combination of the offered values of
// the settings the spec does not fix, except the fitted one.
type adjustments struct {
	fitted model.Params   // the settings as the model fits them
	combos []model.Params // the alternatives to score
}

// paramReporter is a model that reports its effective hyper-parameters.
type paramReporter interface {
	Params() model.Params
}

// adjustmentsOf lists the alternatives the fitted m offers (none when it
// is not a model.Adjustable that reports its parameters). Settings given in
// params stay as given: a shop that configures one gets it. The offer
// comes from the model (Adjustments), so a model that widens it is
// searched wider without a change here.
func adjustmentsOf(m model.Model, params model.Params) adjustments {
	am, ok := m.(model.Adjustable)
	pr, ok2 := m.(paramReporter)
	if !ok || !ok2 {
		return adjustments{}
	}
	offer := am.Adjustments()
	reported := pr.Params()
	var names []string
	for _, name := range slices.Sorted(maps.Keys(offer)) {
		_, given := params[name]
		_, known := reported[name]
		if !given && known && len(offer[name]) > 0 {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return adjustments{}
	}
	a := adjustments{fitted: model.Params{}}
	for _, name := range names {
		a.fitted[name] = reported[name]
	}
	combos := 1
	for _, name := range names {
		combos *= len(offer[name])
	}
	add := func(p model.Params) {
		if !maps.Equal(p, a.fitted) && !slices.ContainsFunc(a.combos, func(q model.Params) bool { return maps.Equal(p, q) }) {
			a.combos = append(a.combos, p)
		}
	}
	if combos <= maxAdjustCombos {
		// every combination: one setting's best value may depend on
		// another's (a history bonus and the share of a factor part)
		for c := range combos {
			p := model.Params{}
			for _, name := range names {
				vs := offer[name]
				p[name] = vs[c%len(vs)]
				c /= len(vs)
			}
			add(p)
		}
		return a
	}
	for _, name := range names {
		for _, v := range offer[name] {
			p := maps.Clone(a.fitted)
			p[name] = v
			add(p)
		}
	}
	return a
}

// adjust sets query-time settings p on the fitted m.
func adjust(m model.Model, p model.Params) error {
	am, ok := m.(model.Adjustable)
	if !ok {
		return fmt.Errorf("%s has no query-time settings (%v)", m.Name(), p)
	}
	if err := am.Adjust(p); err != nil {
		return fmt.Errorf("query-time settings %v: %w", p, err)
	}
	return nil
}
