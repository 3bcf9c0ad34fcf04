// Package adjust chooses a fitted model.Adjustable's query-time settings
// on a validation sample. It is the one chooser the evaluator (package
// eval, `aisle eval recommend`) and the served pipeline (package
// pipeline) share (decision 0062): the same search over Adjustments()
// and the same noise rule, with a caller's extra rule (the pipeline's
// random half) passed in as a veto.
package adjust

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/aisle-dev/aisle/model"
)

// MaxGrid bounds the combinations of offered values scored exhaustively;
// a larger offer is searched greedily (one setting at a time around the
// best so far, two passes).
const MaxGrid = 64

// DefaultMinSE is how many standard errors of the per-user paired
// difference the best settings' gain over the fitted ones must exceed to
// be chosen: a gain a new draw of the sample could reverse does not
// change the defaults.
const DefaultMinSE = 2

// Offer is what a fitted model offers to adjust: the names searched (in
// order), their candidate values and the values the model was fitted
// with.
type Offer struct {
	Names  []string
	Values map[string][]float64
	Fitted model.Params // one value per name
}

// Combos is how many combinations of the offered values there are.
func (o Offer) Combos() int {
	if len(o.Names) == 0 {
		return 0
	}
	n := 1
	for _, name := range o.Names {
		n *= len(o.Values[name])
	}
	return n
}

// paramReporter is a model that reports its effective hyper-parameters.
type paramReporter interface {
	Params() model.Params
}

// OfferOf lists what the fitted m offers: every setting of Adjustments()
// with at least one value that m reports and given does not fix (a
// setting given by the caller stays as given). The zero Offer when m is
// not a model.Adjustable that reports its parameters, or offers nothing.
func OfferOf(m model.Model, given model.Params) Offer {
	am, ok := m.(model.Adjustable)
	pr, ok2 := m.(paramReporter)
	if !ok || !ok2 {
		return Offer{}
	}
	values := am.Adjustments()
	reported := pr.Params()
	o := Offer{Values: map[string][]float64{}, Fitted: model.Params{}}
	for _, name := range slices.Sorted(maps.Keys(values)) {
		_, fixed := given[name]
		v, known := reported[name]
		if fixed || !known || len(values[name]) == 0 {
			continue
		}
		o.Names = append(o.Names, name)
		o.Values[name] = values[name]
		o.Fitted[name] = v
	}
	if len(o.Names) == 0 {
		return Offer{}
	}
	return o
}

// Score is the validation of one setting on the caller's sample.
type Score struct {
	// Users is the metric of each sampled user, in the same order on
	// every call; the choice compares settings by its mean.
	Users []float64
	// Metrics are the caller's summary (e.g. a half of the sample), read
	// by a Veto and reported.
	Metrics map[string]float64
}

// Mean is the mean of Users (NaN when there are none).
func (s Score) Mean() float64 {
	if len(s.Users) == 0 {
		return math.NaN()
	}
	var sum float64
	for _, v := range s.Users {
		sum += v
	}
	return sum / float64(len(s.Users))
}

// Options tune Choose.
type Options struct {
	// MinSE is the noise rule's multiple of the standard error (0:
	// DefaultMinSE).
	MinSE float64
	// Budget stops the search once this much time has passed since it
	// began (0: no limit): the alternatives not yet scored are not tried.
	// The fitted settings are always scored.
	Budget time.Duration
	// Veto, when set, rejects a candidate against the fitted settings
	// with a reason (empty: accepted); a vetoed candidate cannot be
	// chosen or lead the greedy search.
	Veto func(cand, fitted Score) string
	// Now is the clock of Budget (nil: time.Now).
	Now func() time.Time
}

// Trial is one scored setting.
type Trial struct {
	Params model.Params
	Score  Score
	// Gain and SE are the mean per-user paired difference to the fitted
	// settings and its standard error.
	Gain, SE float64
	Veto     string // why a Veto rejected it, or empty
}

// Choice is what Choose decided.
type Choice struct {
	// Settings are the chosen settings, nil when the fitted ones stay.
	Settings model.Params
	// Trials are the scored settings in order; the first is the fitted.
	Trials []Trial
	// Best indexes the best-scoring alternative not vetoed (into Trials;
	// 0 when none scored above the fitted settings). When Settings is nil
	// and Best > 0, its gain was within the noise.
	Best int
	// Stopped reports that Budget ended the search before every
	// alternative was scored.
	Stopped bool
}

// Choose scores am's fitted settings and the alternatives offer spans
// (every combination up to MaxGrid, else greedily), each with score
// after setting it on am, and chooses the best by mean that no Veto
// rejects, if its gain over the fitted settings exceeds MinSE standard
// errors of the per-user paired difference; otherwise the fitted
// settings stay. am is left with the fitted settings in force; the
// caller sets the chosen ones.
func Choose(ctx context.Context, am model.Adjustable, offer Offer, score func(context.Context) (Score, error), opt Options) (Choice, error) {
	var ch Choice
	if len(offer.Names) == 0 {
		return ch, nil
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	minSE := opt.MinSE
	if minSE <= 0 {
		minSE = DefaultMinSE
	}
	start := now()
	tried := map[string]bool{}
	set := func(p model.Params) error {
		if err := am.Adjust(p); err != nil {
			return fmt.Errorf("query-time settings %v: %w", p, err)
		}
		return nil
	}
	run := func(p model.Params) (int, error) {
		tried[key(p)] = true
		if err := set(p); err != nil {
			return 0, err
		}
		s, err := score(ctx)
		if err != nil {
			return 0, fmt.Errorf("score query-time settings %v: %w", p, err)
		}
		t := Trial{Params: maps.Clone(p), Score: s}
		if len(ch.Trials) > 0 {
			fitted := ch.Trials[0].Score
			t.Gain, t.SE = PairedChange(s.Users, fitted.Users)
			if opt.Veto != nil {
				t.Veto = opt.Veto(s, fitted)
			}
		}
		ch.Trials = append(ch.Trials, t)
		return len(ch.Trials) - 1, nil
	}
	if _, err := run(offer.Fitted); err != nil {
		return ch, err
	}
	// try scores p unless tried or out of time, and reports whether it
	// became the best so far.
	try := func(p model.Params) (bool, error) {
		if tried[key(p)] {
			return false, nil
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if opt.Budget > 0 && now().Sub(start) > opt.Budget {
			ch.Stopped = true
			return false, nil
		}
		i, err := run(p)
		if err != nil {
			return false, err
		}
		t, best := ch.Trials[i], ch.Trials[ch.Best]
		// a gain within summation-order noise is no gain: the earlier
		// setting stays
		if t.Veto != "" || !(t.Score.Mean()-best.Score.Mean() > 1e-9*math.Abs(best.Score.Mean())) {
			return false, nil
		}
		ch.Best = i
		return true, nil
	}
	if n := offer.Combos(); n <= MaxGrid {
		// every combination: one setting's best value may depend on
		// another's (a history bonus and the share of a factor part)
		for c := range n {
			p := model.Params{}
			for _, name := range offer.Names {
				vs := offer.Values[name]
				p[name] = vs[c%len(vs)]
				c /= len(vs)
			}
			if _, err := try(p); err != nil {
				return ch, err
			}
			if ch.Stopped {
				break
			}
		}
	} else {
		for pass := 0; pass < 2 && !ch.Stopped; pass++ {
			improved := false
			for _, name := range offer.Names {
				for _, v := range offer.Values[name] {
					p := maps.Clone(ch.Trials[ch.Best].Params)
					p[name] = v
					ok, err := try(p)
					if err != nil {
						return ch, err
					}
					improved = improved || ok
				}
			}
			if !improved {
				break
			}
		}
	}
	if err := set(offer.Fitted); err != nil {
		return ch, err
	}
	if best := ch.Trials[ch.Best]; ch.Best > 0 && best.Gain > minSE*best.SE {
		ch.Settings = maps.Clone(best.Params)
	}
	return ch, nil
}

// PairedChange returns how much cand's per-user metric changes base's
// (the same users in the same order): the mean difference over the users
// and its standard error. Both are 0 with fewer than two users.
func PairedChange(cand, base []float64) (mean, se float64) {
	n := min(len(cand), len(base))
	if n < 2 {
		return 0, 0
	}
	for i := 0; i < n; i++ {
		mean += cand[i] - base[i]
	}
	mean /= float64(n)
	var sq float64
	for i := 0; i < n; i++ {
		d := cand[i] - base[i] - mean
		sq += d * d
	}
	return mean, math.Sqrt(sq/float64(n-1)) / math.Sqrt(float64(n))
}

func key(p model.Params) string {
	s := ""
	for _, k := range slices.Sorted(maps.Keys(p)) {
		s += fmt.Sprintf("%s=%g;", k, p[k])
	}
	return s
}
