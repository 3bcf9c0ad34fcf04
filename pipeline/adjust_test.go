package pipeline

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/adjust"
	"github.com/aisle-dev/aisle/model/zoo"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// driftEvents is a log of users who take old items of one group (of
// four), then cur newer items. Without noise the newer items are of
// another group (of four more), and what a user takes next is of it: the
// newest items say what they want. With noise the newer items are drawn
// at random from a pool as large as the groups': the newest items say
// nothing, the old ones say what the user likes.
func driftEvents(nUsers, groupSize, old, cur int, noise bool) ([]catalog.Item, []events.Event) {
	var its []catalog.Item
	for i := 0; i < 16*groupSize; i++ {
		its = append(its, catalog.Item{ID: fmt.Sprintf("i%03d", i), Title: fmt.Sprintf("item %d", i)})
	}
	var evs []events.Event
	for u := 0; u < nUsers; u++ {
		rng := rand.New(rand.NewPCG(uint64(u), 7))
		g, h := u%4, 4+(u/4)%4
		var row []int
		for k := 0; k < old; k++ {
			row = append(row, g*groupSize+(u*7+k*3)%groupSize)
		}
		for k := 0; k < cur; k++ {
			it := h*groupSize + (u*5+k*3)%groupSize
			if noise {
				it = 8*groupSize + rng.IntN(8*groupSize)
			}
			if !slices.Contains(row, it) {
				row = append(row, it)
			}
		}
		at := u * 10000
		for k, it := range row {
			evs = append(evs, ev(fmt.Sprintf("u%03d", u), its[it].ID, events.Purchase, at, ""))
			at += 60 + (k*37+u)%50 // a clock's gaps
		}
	}
	return its, evs
}

// trainAdjusted loads evs into a fresh store and trains itemfilter on it
// (small: no graph filter, an iALS part of 8 factors, one hold-out).
func trainAdjusted(t *testing.T, its []catalog.Item, evs []events.Event) (*boltstore.Store, *Data, Options, Result) {
	t.Helper()
	ctx := context.Background()
	st := filledStore(t, its, evs)
	opts := Options{Preprocess: DefaultPreprocess(), ValidationUsers: 300,
		Models: []Spec{{Name: "itemfilter", Params: model.Params{"gf_weight": 0, "ials_factors": 8}}}}
	data, err := opts.Load(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Train(ctx, st, data, opts)
	if err != nil || len(res) != 1 || !res[0].Trained {
		t.Fatalf("train: %+v %v", res, err)
	}
	return st, data, opts, res[0]
}

// TestTrainChoosesQueryTimeSettingsOnValidation: itemfilter is a
// model.Adjustable; the settings training stores are the ones that win
// the served-path validation, measured here again on the same hold-out:
// no setting the model offers scores more there without costing the
// random half or gaining within the noise, and the chosen one does
// neither. Where users' newest items say what they take next, that is a
// history bonus; where the newest items are noise, the large bonuses
// (which cost the random half) are not.
func TestTrainChoosesQueryTimeSettingsOnValidation(t *testing.T) {
	for _, noise := range []bool{false, true} {
		its, evs := driftEvents(300, 30, 8, 4, noise)
		_, data, opts, res := trainAdjusted(t, its, evs)
		if !noise && res.Adjusted["recency"] <= 0 {
			t.Fatalf("newest items predict the next ones, yet no history bonus was chosen: %+v", res)
		}
		if noise && res.Adjusted["recency"] >= 32 {
			t.Fatalf("the newest items are noise, yet a bonus of %v was chosen: %+v", res.Adjusted["recency"], res)
		}
		sp := holdouts(data.Implicit, opts.ValidationUsers, opts.Seed)
		if len(sp) != 1 {
			t.Fatalf("%d hold-outs, want 1", len(sp))
		}
		base := res.Weighting
		base.RecentBoost, base.RecentHalfLife = 0, 0
		m, err := newFitted(t, opts.Models[0], base.apply(sp[0].Train))
		if err != nil {
			t.Fatal(err)
		}
		offer, choice, err := chooseAdjusted(context.Background(), m, opts.Models[0].Params, sp[0].sample(adjustUsers), base)
		if err != nil {
			t.Fatal(err)
		}
		if offer.Combos() < 2 || len(choice.Trials) != offer.Combos() {
			t.Fatalf("itemfilter offers %d settings, %d scored", offer.Combos(), len(choice.Trials))
		}
		if !maps.Equal(choice.Settings, res.Adjusted) {
			t.Fatalf("noise %v: trained with %v, the chooser on the same hold-out chooses %v", noise, res.Adjusted, choice.Settings)
		}
		plain, plainUsers := sp[0].evaluateUsers(m, base)
		if err := setAdjusted(m, res.Adjusted); err != nil {
			t.Fatal(err)
		}
		chosen, chosenUsers := sp[0].evaluateUsers(m, base)
		if gain, se := adjust.PairedChange(chosenUsers, plainUsers); len(res.Adjusted) > 0 && gain <= adjust.DefaultMinSE*se {
			t.Fatalf("noise %v: chosen %v gains %v ± %v: within the noise", noise, res.Adjusted, gain, se)
		}
		if d := math.Abs(chosen["NDCG@10"] - res.Metrics["NDCG@10"]); len(res.Adjusted) > 0 && d > 1e-6 {
			t.Fatalf("noise %v: stored validation NDCG@10 %v, measured again %v", noise, res.Metrics["NDCG@10"], chosen["NDCG@10"])
		}
		if len(res.Adjusted) > 0 && (!(chosen["NDCG@10"] > plain["NDCG@10"]) || chosen["NDCG@10:random"] < plain["NDCG@10:random"]) {
			t.Fatalf("noise %v: chosen %v scores %v (random half %v), fitted settings %v (%v)", noise, res.Adjusted,
				chosen["NDCG@10"], chosen["NDCG@10:random"], plain["NDCG@10"], plain["NDCG@10:random"])
		}
	}
}

func newFitted(t *testing.T, spec Spec, ds *model.Dataset) (model.Model, error) {
	t.Helper()
	m, err := zoo.New(spec.Name, spec.Params)
	if err != nil {
		return nil, err
	}
	return m, m.Fit(context.Background(), ds, nil)
}

// TestAdjustedSettingsSurviveAReload: the chosen settings are stored with
// the version (metadata and artefact header) and a reload of the version
// (what a restarted server does) scores with them; a header whose
// settings the model refuses does not load.
func TestAdjustedSettingsSurviveAReload(t *testing.T) {
	ctx := context.Background()
	its, evs := driftEvents(300, 30, 8, 4, false)
	st, _, _, res := trainAdjusted(t, its, evs)
	if len(res.Adjusted) == 0 {
		t.Fatalf("no settings chosen: %+v", res)
	}
	meta, blob, err := st.LoadModel(ctx, res.Model, res.Version)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(meta.Adjusted, res.Adjusted) {
		t.Fatalf("stored settings %v, chosen %v", meta.Adjusted, res.Adjusted)
	}
	var streamed *Artifact
	if err := st.ReadModel(ctx, res.Model, res.Version, func(_ store.ModelMeta, r io.Reader) error {
		streamed, err = ReadArtifact(r)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	art, err := DecodeArtifact(blob)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []*Artifact{art, streamed} {
		if !maps.Equal(a.Adjusted, res.Adjusted) {
			t.Fatalf("artefact settings %v, chosen %v", a.Adjusted, res.Adjusted)
		}
		got := a.Model.(interface{ Params() model.Params }).Params()
		for k, v := range res.Adjusted {
			if got[k] != v {
				t.Fatalf("reloaded model has %s %v, chosen %v", k, got[k], v)
			}
		}
	}
	// the header is applied on load, whatever the model's own bytes say
	other := model.Params{"recency": 0}
	if res.Adjusted["recency"] == 0 {
		other["recency"] = 1
	}
	art.Adjusted = other
	b2, err := art.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	again, err := DecodeArtifact(b2)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Model.(interface{ Params() model.Params }).Params()["recency"]; got != other["recency"] {
		t.Fatalf("header says recency %v, the loaded model has %v", other["recency"], got)
	}
	q := model.Query{User: 0, History: []int32{1, 2, 3, 50}}
	a, b := make([]float32, len(art.ItemIDs)), make([]float32, len(art.ItemIDs))
	streamed.Model.Score(q, a)
	again.Model.Score(q, b)
	if slices.Equal(a, b) {
		t.Fatal("a different history bonus scores the same: the setting does not reach the model")
	}
	art.Adjusted = model.Params{"no_such_setting": 1}
	if b2, err = art.Bytes(); err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeArtifact(b2); err == nil {
		t.Fatal("an artefact with a setting the model refuses loaded")
	}
}

// BenchmarkTrainAdjustable measures what choosing itemfilter's query-time
// settings adds to its training on a shop of Office's size (2,400 items,
// 4,900 users, 12 interactions each): "given" fixes the settings (no
// search), "chosen" searches them. Run each alone under /usr/bin/time
// for CPU time: go test -run '^$' -bench 'TrainAdjustable/chosen' -benchtime 1x ./pipeline
func BenchmarkTrainAdjustable(b *testing.B) {
	ctx := context.Background()
	its, evs := driftEvents(4900, 150, 8, 4, false)
	st := filledStore(b, its, evs)
	for _, c := range []struct {
		name   string
		params model.Params
	}{{"given", model.Params{"recency": 0, "ials_weight": 0.4}}, {"chosen", nil}} {
		b.Run(c.name, func(b *testing.B) {
			opts := Options{Preprocess: DefaultPreprocess(), Models: []Spec{{Name: "itemfilter", Params: c.params}}}
			data, err := opts.Load(ctx, st)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				res, err := Train(ctx, st, data, opts)
				if err != nil || !res[0].Trained {
					b.Fatalf("%+v %v", res, err)
				}
				b.ReportMetric(float64(len(res[0].Adjusted)), "settings")
			}
		})
	}
}

// tickingModel counts its scorings (one a user): the clock of a test in
// which scoring a user takes a millisecond.
type tickingModel struct {
	model.Model
	calls *atomic.Int64
}

func (m tickingModel) Score(q model.Query, out []float32) { m.calls.Add(1); m.Model.Score(q, out) }
func (m tickingModel) Adjustments() map[string][]float64 {
	return m.Model.(model.Adjustable).Adjustments()
}
func (m tickingModel) Adjust(p model.Params) error { return m.Model.(model.Adjustable).Adjust(p) }
func (m tickingModel) Params() model.Params {
	return m.Model.(interface{ Params() model.Params }).Params()
}

// TestChoiceScoresEveryOfferOnABusyMachine: when the grid would not fit
// the budget on the whole sample (a loaded machine: at load 25 the served
// searches stopped after 9–22 of 64 settings), every setting is scored on
// fewer users, so the history bonus, the grid's last setting, is still
// found where the newest items predict the next. Scoring a user takes a
// millisecond of the test's clock; the budget is what scoring the whole
// sample 12 times takes.
//
// Under -race it skips: it scores 64 settings on 1,200 users three times
// (38 s of CPU under the race detector, half of the package's race run,
// against 2.5 s without), and what runs concurrently in it, the scoring
// workers of Split.evaluate, is race-checked through Train by
// TestTrainChoosesQueryTimeSettingsOnValidation and
// TestAdjustedSettingsSurviveAReload; the budget, the sample and
// adjust.Choose run on one goroutine. CI's run without -race checks it.
func TestChoiceScoresEveryOfferOnABusyMachine(t *testing.T) {
	if raceDetector {
		t.Skip("under -race: its concurrency is race-checked by TestTrainChoosesQueryTimeSettingsOnValidation; the run without -race checks its assertions")
	}
	ctx := context.Background()
	opts, sp, base, fitted := driftFitted(t, 1200, 30)
	var calls atomic.Int64
	m := tickingModel{fitted, &calls}
	users := len(sp.Users)
	if users < 1000 {
		t.Fatalf("%d hold-out users, want 1000 or more", users)
	}
	clock := func() time.Time { return time.Unix(0, 0).Add(time.Duration(calls.Load()) * time.Millisecond) }
	for _, tc := range []struct {
		name        string
		budget      time.Duration
		wantUsers   int // users of the fitted settings' trial; 0: fewer than all
		wantBonus   bool
		wantStopped bool
	}{
		{"no budget: the whole sample", 0, users, true, false},
		{"ample budget: the whole sample", time.Duration(100*users) * time.Millisecond, users, true, false},
		{"a twelfth of the grid: every setting on fewer users", time.Duration(12*users) * time.Millisecond, 0, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			offer, ch, err := chooseAdjustedWithin(ctx, m, opts.Models[0].Params, sp, base, adjustBounds{budget: tc.budget, minUsers: 100, now: clock})
			if err != nil {
				t.Fatal(err)
			}
			if offer.Combos() != 64 || ch.Stopped != tc.wantStopped || len(ch.Trials) != offer.Combos() {
				t.Fatalf("%d of %d settings scored, stopped %v", len(ch.Trials), offer.Combos(), ch.Stopped)
			}
			got := len(ch.Trials[0].Score.Users)
			if (tc.wantUsers > 0 && got != tc.wantUsers) || (tc.wantUsers == 0 && (got >= users || got < 100)) {
				t.Fatalf("scored on %d users (of %d), want %d (0: fewer, at least 100)", got, users, tc.wantUsers)
			}
			if bonus := ch.Settings["recency"] > 0; bonus != tc.wantBonus {
				t.Fatalf("chose %v, want a history bonus: %v", ch.Settings, tc.wantBonus)
			}
		})
	}
}

// TestSampleDrawsAcrossTheHoldout: the sample a choice is made on is drawn
// from the whole hold-out (whose users are in user-index order), keeps
// each user's targets and half, and is the same on every call.
func TestSampleDrawsAcrossTheHoldout(t *testing.T) {
	sp := &Split{}
	for u := range 1000 {
		sp.Users = append(sp.Users, int32(u))
		sp.Targets = append(sp.Targets, []int32{int32(u) * 2})
		sp.Newest = append(sp.Newest, u%3 == 0)
	}
	for _, tc := range []struct {
		n, want int
	}{
		{100, 100}, {500, 500}, {999, 999}, {1000, 1000}, {5000, 1000},
	} {
		got := sp.sample(tc.n)
		if len(got.Users) != tc.want || len(got.Targets) != tc.want || len(got.Newest) != tc.want {
			t.Fatalf("sample(%d): %d users, %d targets, %d halves, want %d", tc.n, len(got.Users), len(got.Targets), len(got.Newest), tc.want)
		}
		if !slices.IsSorted(got.Users) || !slices.Equal(got.Users, slices.Compact(slices.Clone(got.Users))) {
			t.Fatalf("sample(%d) is not in the hold-out's order, once each", tc.n)
		}
		upper := 0
		for k, u := range got.Users {
			if got.Targets[k][0] != u*2 || got.Newest[k] != (u%3 == 0) {
				t.Fatalf("sample(%d): user %d carries %v, newest %v", tc.n, u, got.Targets[k], got.Newest[k])
			}
			if u >= 500 {
				upper++
			}
		}
		if tc.want < 1000 && (upper < tc.want/4 || upper > tc.want*3/4) {
			t.Fatalf("sample(%d): %d of %d users from the upper half of the hold-out, want about half", tc.n, upper, tc.want)
		}
		if again := sp.sample(tc.n); !slices.Equal(again.Users, got.Users) {
			t.Fatalf("sample(%d) differs between calls", tc.n)
		}
	}
}

// driftFitted stores driftEvents of nUsers users and groups of groupSize
// items, loads them and returns the options, the first hold-out of all
// of them, its weighting and itemfilter (without its graph filter, 8
// iALS factors) fitted on it.
func driftFitted(t *testing.T, nUsers, groupSize int) (Options, *Split, Weighting, model.Model) {
	t.Helper()
	ctx := context.Background()
	its, evs := driftEvents(nUsers, groupSize, 8, 4, false)
	st := filledStore(t, its, evs)
	opts := Options{Preprocess: DefaultPreprocess(), ValidationUsers: nUsers,
		Models: []Spec{{Name: "itemfilter", Params: model.Params{"gf_weight": 0, "ials_factors": 8}}}}
	data, err := opts.Load(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	sp := holdouts(data.Implicit, opts.ValidationUsers, opts.Seed)[0]
	base := Weighting{Binary: true}
	fitted, err := newFitted(t, opts.Models[0], base.apply(sp.Train))
	if err != nil {
		t.Fatal(err)
	}
	return opts, sp, base, fitted
}

// TestChoiceRescoresAsScored: the served chooser, given itemfilter (a
// model.Rescorer: each sampled user's costly parts once for all settings),
// makes the choice that scoring each setting with a full Score makes: the
// same trials, per-user metrics and summaries to the last digit.
//
// Under -race it skips: the per-setting path costs 64 scorings under the
// race detector; the prepared path's workers are race-checked through
// Train by TestTrainChoosesQueryTimeSettingsOnValidation.
func TestChoiceRescoresAsScored(t *testing.T) {
	if raceDetector {
		t.Skip("under -race: the prepared path's concurrency is race-checked by TestTrainChoosesQueryTimeSettingsOnValidation")
	}
	ctx := context.Background()
	opts, sp, base, fitted := driftFitted(t, 400, 20)
	var calls atomic.Int64
	slowModel := tickingModel{fitted, &calls}
	if _, ok := fitted.(model.Rescorer); !ok {
		t.Fatal("itemfilter is not a model.Rescorer: the test compares nothing")
	}
	if _, ok := model.Model(slowModel).(model.Rescorer); ok {
		t.Fatal("the wrapped model is a model.Rescorer: the test compares nothing")
	}
	bounds := adjustBounds{minUsers: 100, now: time.Now}
	_, fast, err := chooseAdjustedWithin(ctx, fitted, opts.Models[0].Params, sp, base, bounds)
	if err != nil {
		t.Fatal(err)
	}
	_, slow, err := chooseAdjustedWithin(ctx, slowModel, opts.Models[0].Params, sp, base, bounds)
	if err != nil {
		t.Fatal(err)
	}
	if len(fast.Trials) != 64 || len(fast.Trials) != len(slow.Trials) || fast.Best != slow.Best || !maps.Equal(fast.Settings, slow.Settings) {
		t.Fatalf("prepared once: %d trials, best %d, chose %v; scored per setting: %d, %d, %v",
			len(fast.Trials), fast.Best, fast.Settings, len(slow.Trials), slow.Best, slow.Settings)
	}
	for i, f := range fast.Trials {
		s := slow.Trials[i]
		if !maps.Equal(f.Params, s.Params) || !slices.Equal(f.Score.Users, s.Score.Users) || !maps.Equal(f.Score.Metrics, s.Score.Metrics) || f.Veto != s.Veto {
			t.Fatalf("trial %d: prepared once %+v, scored per setting %+v", i, f, s)
		}
	}
	if fast.Settings == nil {
		t.Errorf("nothing chosen (best %+v): the drift should favour a history bonus", fast.Trials[fast.Best].Params)
	}
}
