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
	// ScoreAll, when set, scores several settings at once, in order (e.g.
	// each user's costly parts once for all of them: model.Rescorer);
	// Choose then asks it, instead of Adjust and score per setting, for the
	// fitted settings with the grid (in chunks of ScoreChunk under a
	// Budget) or for one setting's values at a time in the greedy search.
	// It must score as Adjust then score would: the choice is the same.
	ScoreAll func(ctx context.Context, settings []model.Params) ([]Score, error)
}

// ScoreChunk is how many settings one ScoreAll call scores when a Budget
// may stop the search between calls.
const ScoreChunk = 16

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
// caller sets the chosen ones. With Options.ScoreAll the settings are
// scored in batches instead (decision 0081), with the same trials.
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
	set := func(p model.Params) error {
		if err := am.Adjust(p); err != nil {
			return fmt.Errorf("query-time settings %v: %w", p, err)
		}
		return nil
	}
	// scoreAll scores ps in order: at once with opt.ScoreAll, else one
	// after the other set on am.
	scoreAll := func(ps []model.Params) ([]Score, error) {
		if opt.ScoreAll == nil {
			out := make([]Score, 0, len(ps))
			for _, p := range ps {
				if err := set(p); err != nil {
					return nil, err
				}
				s, err := score(ctx)
				if err != nil {
					return nil, fmt.Errorf("score query-time settings %v: %w", p, err)
				}
				out = append(out, s)
			}
			return out, nil
		}
		for _, p := range ps {
			if err := set(p); err != nil { // rejected as Adjust rejects it
				return nil, err
			}
		}
		ss, err := opt.ScoreAll(ctx, ps)
		if err != nil {
			return nil, fmt.Errorf("score %d query-time settings: %w", len(ps), err)
		}
		if len(ss) != len(ps) {
			return nil, fmt.Errorf("scored %d query-time settings of %d", len(ss), len(ps))
		}
		return ss, nil
	}
	// record adds a scored setting to the trials and reports whether it
	// became the best so far.
	record := func(p model.Params, s Score) bool {
		t := Trial{Params: maps.Clone(p), Score: s}
		if len(ch.Trials) == 0 {
			ch.Trials = append(ch.Trials, t)
			return false
		}
		fitted := ch.Trials[0].Score
		t.Gain, t.SE = PairedChange(s.Users, fitted.Users)
		if opt.Veto != nil {
			t.Veto = opt.Veto(s, fitted)
		}
		ch.Trials = append(ch.Trials, t)
		best := ch.Trials[ch.Best]
		// a gain within summation-order noise is no gain: the earlier
		// setting stays
		if t.Veto != "" || !(s.Mean()-best.Score.Mean() > 1e-9*math.Abs(best.Score.Mean())) {
			return false
		}
		ch.Best = len(ch.Trials) - 1
		return true
	}
	tried := map[string]bool{}
	// try scores the settings of ps not tried yet, in order, in chunks
	// (the fitted settings first when none is scored yet) until out of
	// time, and reports whether one became the best so far.
	try := func(ps []model.Params) (bool, error) {
		var todo []model.Params
		for _, p := range ps {
			if k := key(p); !tried[k] {
				tried[k] = true
				todo = append(todo, p)
			}
		}
		chunk := 1
		if opt.ScoreAll != nil {
			chunk = len(todo)
			if opt.Budget > 0 {
				chunk = ScoreChunk
			}
		}
		improved := false
		for len(todo) > 0 {
			if len(ch.Trials) > 0 {
				if err := ctx.Err(); err != nil {
					return improved, err
				}
				if opt.Budget > 0 && now().Sub(start) > opt.Budget {
					ch.Stopped = true
					return improved, nil
				}
			}
			c := todo[:min(chunk, len(todo))]
			todo = todo[len(c):]
			ss, err := scoreAll(c)
			if err != nil {
				return improved, err
			}
			for i, s := range ss {
				improved = record(c[i], s) || improved
			}
		}
		return improved, nil
	}
	if n := offer.Combos(); n <= MaxGrid {
		// every combination: one setting's best value may depend on
		// another's (a history bonus and the share of a factor part)
		ps := []model.Params{offer.Fitted}
		for c := range n {
			p := model.Params{}
			for _, name := range offer.Names {
				vs := offer.Values[name]
				p[name] = vs[c%len(vs)]
				c /= len(vs)
			}
			ps = append(ps, p)
		}
		if _, err := try(ps); err != nil {
			return ch, err
		}
	} else {
		if _, err := try([]model.Params{offer.Fitted}); err != nil {
			return ch, err
		}
		for pass := 0; pass < 2 && !ch.Stopped; pass++ {
			improved := false
			for _, name := range offer.Names {
				// the best so far changes within a name only in that
				// name, so its values are the same settings one by one
				ps := make([]model.Params, 0, len(offer.Values[name]))
				for _, v := range offer.Values[name] {
					p := maps.Clone(ch.Trials[ch.Best].Params)
					p[name] = v
					ps = append(ps, p)
				}
				ok, err := try(ps)
				if err != nil {
					return ch, err
				}
				improved = improved || ok
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
