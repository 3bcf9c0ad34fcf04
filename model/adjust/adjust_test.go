package adjust

import (
	"context"
	"maps"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/model"
)

// settings is an Adjustable whose scores per setting are given: the
// chooser's input reduced to what it decides on.
type settings struct {
	offer map[string][]float64
	cur   model.Params
}

func (s *settings) Adjustments() map[string][]float64 { return s.offer }
func (s *settings) Adjust(p model.Params) error {
	maps.Copy(s.cur, p)
	return nil
}

// users returns n per-user scores around mean with spread noise (seeded).
func users(n int, mean, noise float64, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]float64, n)
	for i := range out {
		out[i] = mean + noise*(rng.Float64()-0.5)
	}
	return out
}

func TestChooseRules(t *testing.T) {
	const n = 400
	base := users(n, 0.30, 0.4, 1)
	// shift moves every user by d, plus or minus noise in turn: a gain of
	// exactly d with a standard error of about noise/√n
	shift := func(d float64, noise float64, _ uint64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = base[i] + d + noise*float64(1-2*(i%2))
		}
		return out
	}
	randomHalf := func(cand, fitted Score) string {
		if cand.Metrics["random"] < fitted.Metrics["random"] {
			return "costs the random half"
		}
		return ""
	}
	for _, tc := range []struct {
		name   string
		scores map[float64]Score // by the value of "x" (fitted: 0)
		veto   func(cand, fitted Score) string
		want   model.Params // nil: the fitted stay
		best   float64      // x of the best alternative not vetoed (0: none)
	}{
		{"noise keeps the fitted settings",
			map[float64]Score{0: {Users: base}, 1: {Users: shift(0.002, 0.4, 2)}, 2: {Users: shift(-0.05, 0.4, 3)}},
			nil, nil, 1},
		{"a clear win moves",
			map[float64]Score{0: {Users: base}, 1: {Users: shift(0.002, 0.4, 2)}, 2: {Users: shift(0.05, 0.05, 3)}},
			nil, model.Params{"x": 2}, 2},
		{"the best within the noise keeps the fitted even when a lesser clear gain exists",
			map[float64]Score{0: {Users: base}, 1: {Users: shift(0.03, 0.01, 2)}, 2: {Users: shift(0.04, 0.6, 3)}},
			nil, nil, 2},
		{"random-half veto",
			map[float64]Score{0: {Users: base, Metrics: map[string]float64{"random": 0.3}},
				1: {Users: shift(0.02, 0.02, 2), Metrics: map[string]float64{"random": 0.31}},
				2: {Users: shift(0.06, 0.02, 3), Metrics: map[string]float64{"random": 0.29}}},
			randomHalf, model.Params{"x": 1}, 1},
		{"all vetoed",
			map[float64]Score{0: {Users: base, Metrics: map[string]float64{"random": 0.3}},
				1: {Users: shift(0.06, 0.02, 3), Metrics: map[string]float64{"random": 0.29}},
				2: {Users: shift(0.06, 0.02, 4), Metrics: map[string]float64{"random": 0.2}}},
			randomHalf, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			am := &settings{offer: map[string][]float64{"x": {0, 1, 2}}, cur: model.Params{"x": 0}}
			offer := Offer{Names: []string{"x"}, Values: am.offer, Fitted: model.Params{"x": 0}}
			score := func(context.Context) (Score, error) { return tc.scores[am.cur["x"]], nil }
			ch, err := Choose(context.Background(), am, offer, score, Options{Veto: tc.veto})
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(ch.Settings, tc.want) || (tc.want == nil) != (ch.Settings == nil) {
				t.Fatalf("chose %v, want %v (best %+v)", ch.Settings, tc.want, ch.Trials[ch.Best].Params)
			}
			if got := ch.Trials[ch.Best].Params["x"]; got != tc.best {
				t.Fatalf("best alternative x=%v, want %v", got, tc.best)
			}
			if len(ch.Trials) != 3 || ch.Trials[0].Params["x"] != 0 || ch.Stopped {
				t.Fatalf("%d trials, stopped %v: want the fitted first, then both alternatives", len(ch.Trials), ch.Stopped)
			}
			if am.cur["x"] != 0 {
				t.Fatalf("left with x=%v in force, want the fitted 0", am.cur["x"])
			}
		})
	}
}

// TestChooseBudget: once the budget has passed no further alternative is
// scored, and what was scored still decides.
func TestChooseBudget(t *testing.T) {
	am := &settings{offer: map[string][]float64{"x": {0, 1, 2, 3}}, cur: model.Params{"x": 0}}
	offer := Offer{Names: []string{"x"}, Values: am.offer, Fitted: model.Params{"x": 0}}
	clock := time.Unix(0, 0)
	base := users(200, 0.3, 0.2, 1)
	score := func(context.Context) (Score, error) {
		clock = clock.Add(time.Second) // each scoring takes a second
		out := make([]float64, len(base))
		for i := range out {
			out[i] = base[i] + 0.05*am.cur["x"]
		}
		return Score{Users: out}, nil
	}
	ch, err := Choose(context.Background(), am, offer, score, Options{Budget: 2500 * time.Millisecond, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	if !ch.Stopped || len(ch.Trials) != 3 {
		t.Fatalf("stopped %v after %d trials, want stopped after the fitted and two alternatives", ch.Stopped, len(ch.Trials))
	}
	if ch.Settings["x"] != 2 {
		t.Fatalf("chose %v, want the best scored (x=2)", ch.Settings)
	}
}

// TestChooseGreedy: an offer beyond MaxGrid is searched one setting at a
// time and still finds a separable optimum.
func TestChooseGreedy(t *testing.T) {
	vals := []float64{0, 1, 2, 3, 4, 5, 6, 7, 8}
	am := &settings{offer: map[string][]float64{"a": vals, "b": vals}, cur: model.Params{"a": 0, "b": 0}}
	offer := Offer{Names: []string{"a", "b"}, Values: am.offer, Fitted: model.Params{"a": 0, "b": 0}}
	base := users(300, 0.3, 0.2, 1)
	score := func(context.Context) (Score, error) {
		a, b := am.cur["a"], am.cur["b"]
		out := make([]float64, len(base))
		for i := range out {
			out[i] = base[i] - 0.01*((a-3)*(a-3)+(b-6)*(b-6))
		}
		return Score{Users: out}, nil
	}
	ch, err := Choose(context.Background(), am, offer, score, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ch.Settings["a"] != 3 || ch.Settings["b"] != 6 {
		t.Fatalf("chose %v, want a=3 b=6", ch.Settings)
	}
	if len(ch.Trials) >= 81 {
		t.Fatalf("%d trials: the greedy search scored the whole grid", len(ch.Trials))
	}
}

func TestPairedChange(t *testing.T) {
	tests := []struct {
		name             string
		cand, base       []float64
		wantMean, wantSE float64
	}{
		{"same", []float64{1, 0, 1}, []float64{1, 0, 1}, 0, 0},
		{"constant gain", []float64{0.5, 0.6, 0.7}, []float64{0.4, 0.5, 0.6}, 0.1, 0},
		{"mixed", []float64{1, 0}, []float64{0, 0}, 0.5, 0.5},
		{"too few", []float64{1}, []float64{0}, 0, 0},
	}
	for _, tc := range tests {
		m, se := PairedChange(tc.cand, tc.base)
		if math.Abs(m-tc.wantMean) > 1e-9 || math.Abs(se-tc.wantSE) > 1e-9 {
			t.Errorf("%s: PairedChange = %v ± %v, want %v ± %v", tc.name, m, se, tc.wantMean, tc.wantSE)
		}
	}
}

// TestChooseScoreAll: scoring several settings at once (Options.ScoreAll,
// each user's costly parts once) chooses as scoring them one by one: the
// same trials in the same order, the same gains, vetoes and choice, for
// the exhaustive grid and the greedy search; under a Budget it stops
// between chunks of ScoreChunk settings.
func TestChooseScoreAll(t *testing.T) {
	base := users(300, 0.3, 0.4, 7)
	// metric depends on every setting and on their interplay, with
	// per-user noise, so the greedy path depends on each step
	metric := func(p model.Params) Score {
		a, b, c := p["a"], p["b"], p["c"]
		rng := rand.New(rand.NewPCG(uint64(a*1000+b*100+c*10+1), 3))
		out := make([]float64, len(base))
		for i := range out {
			out[i] = base[i] - 0.004*((a-2)*(a-2)+(b-1-a/2)*(b-1-a/2)+(c-a*b/4)*(c-a*b/4)) + 0.02*(rng.Float64()-0.5)
		}
		return Score{Users: out, Metrics: map[string]float64{"half": out[0] + out[1]}}
	}
	// scoreAll scores a batch with metric after calling each
	scoreAll := func(each func()) func(context.Context, []model.Params) ([]Score, error) {
		return func(_ context.Context, ps []model.Params) ([]Score, error) {
			each()
			out := make([]Score, len(ps))
			for i, p := range ps {
				out[i] = metric(p)
			}
			return out, nil
		}
	}
	veto := func(cand, fitted Score) string {
		if cand.Metrics["half"] < fitted.Metrics["half"]-0.3 {
			return "costs the half"
		}
		return ""
	}
	for _, tc := range []struct {
		name   string
		values []float64
		fitted model.Params
		veto   func(cand, fitted Score) string
	}{
		{"exhaustive, fitted on the grid", []float64{0, 1, 2, 3}, model.Params{"a": 0, "b": 0, "c": 0}, nil},
		{"exhaustive, fitted off the grid, veto", []float64{0, 1, 2, 3}, model.Params{"a": 0.5, "b": 0, "c": 2}, veto},
		{"greedy", []float64{0, 1, 2, 3, 4, 5}, model.Params{"a": 0, "b": 5, "c": 0}, veto},
	} {
		t.Run(tc.name, func(t *testing.T) {
			offer := Offer{Names: []string{"a", "b", "c"}, Values: map[string][]float64{"a": tc.values, "b": tc.values, "c": tc.values}, Fitted: tc.fitted}
			am := &settings{offer: offer.Values, cur: maps.Clone(tc.fitted)}
			slow, err := Choose(context.Background(), am, offer, func(context.Context) (Score, error) { return metric(am.cur), nil }, Options{Veto: tc.veto})
			if err != nil {
				t.Fatal(err)
			}
			calls := 0
			fast, err := Choose(context.Background(), am, offer, func(context.Context) (Score, error) {
				t.Fatal("ScoreAll set, yet a setting was scored alone")
				return Score{}, nil
			}, Options{Veto: tc.veto, ScoreAll: scoreAll(func() { calls++ })})
			if err != nil {
				t.Fatal(err)
			}
			if len(fast.Trials) != len(slow.Trials) || fast.Best != slow.Best || !maps.Equal(fast.Settings, slow.Settings) || fast.Stopped != slow.Stopped {
				t.Fatalf("at once: %d trials, best %d, chose %v; one by one: %d, %d, %v", len(fast.Trials), fast.Best, fast.Settings, len(slow.Trials), slow.Best, slow.Settings)
			}
			for i, s := range slow.Trials {
				f := fast.Trials[i]
				if !maps.Equal(f.Params, s.Params) || f.Gain != s.Gain || f.SE != s.SE || f.Veto != s.Veto || f.Score.Mean() != s.Score.Mean() {
					t.Fatalf("trial %d: at once %+v, one by one %+v", i, f, s)
				}
			}
			if !maps.Equal(am.cur, tc.fitted) {
				t.Fatalf("left with %v in force, want the fitted %v", am.cur, tc.fitted)
			}
			greedy := offer.Combos() > MaxGrid
			if want := 1; !greedy && calls != want {
				t.Errorf("%d ScoreAll calls for the grid, want %d", calls, want)
			}
			if greedy && (calls < 1+len(offer.Names) || calls > 1+2*len(offer.Names)) {
				t.Errorf("%d ScoreAll calls for the greedy search, want one for the fitted and one a setting a pass", calls)
			}
			if tc.veto == nil && slow.Settings == nil {
				t.Errorf("nothing chosen: the case does not test a choice (trials %d)", len(slow.Trials))
			}
		})
	}
	t.Run("budget", func(t *testing.T) {
		vals := []float64{0, 1, 2, 3}
		offer := Offer{Names: []string{"a", "b", "c"}, Values: map[string][]float64{"a": vals, "b": vals, "c": vals}, Fitted: model.Params{"a": 0, "b": 0, "c": 0}}
		am := &settings{offer: offer.Values, cur: maps.Clone(offer.Fitted)}
		clock := time.Unix(0, 0)
		ch, err := Choose(context.Background(), am, offer, nil, Options{Budget: 1500 * time.Millisecond, Now: func() time.Time { return clock },
			ScoreAll: scoreAll(func() { clock = clock.Add(time.Second) })}) // each call takes a second
		if err != nil {
			t.Fatal(err)
		}
		if !ch.Stopped || len(ch.Trials) != 2*ScoreChunk {
			t.Fatalf("stopped %v after %d trials, want stopped after two chunks of %d", ch.Stopped, len(ch.Trials), ScoreChunk)
		}
	})
}
