package recommend

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/pipeline"
	"github.com/aisle-dev/aisle/store"
)

// A background model serves once trained, and becomes primary only when it
// validates better than the fast models.
func TestBackgroundModelPrimaryOnlyWhenBetter(t *testing.T) {
	for _, tc := range []struct {
		fast, background string
		wantPrimary      string
		note             string
	}{
		{"popular", "itemknn", "itemknn", "serving, primary"},
		{"itemknn", "popular", "itemknn", "serving, not primary"},
	} {
		t.Run(tc.background+" after "+tc.fast, func(t *testing.T) {
			st, _ := fixture(t)
			ctx := context.Background()
			svc := New(st, Config{}, nil)
			if err := svc.Load(ctx); err != nil {
				t.Fatal(err)
			}
			opts := pipeline.Options{Preprocess: pipeline.DefaultPreprocess(), Models: []pipeline.Spec{{Name: tc.fast}},
				Background: pipeline.Background{Budget: time.Minute, Models: []pipeline.Spec{{Name: tc.background}}}}
			r := svc.NewRetrainer(0, 0, opts)
			if _, err := r.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			r.WaitBackground()
			if r.Busy() {
				t.Fatal("busy after the background work ended")
			}
			if p := svc.models.Load().primary; p == nil || p.meta.Name != tc.wantPrimary {
				t.Fatalf("primary %v, want %s", p, tc.wantPrimary)
			}
			if _, ok := svc.models.Load().byName[tc.background]; !ok {
				t.Fatalf("%s does not serve", tc.background)
			}
			results, err, at := r.Last()
			if err != nil || at.IsZero() || len(results) != 2 {
				t.Fatalf("last results %+v %v %v", results, err, at)
			}
			bg := results[1]
			if bg.Phase != "background" || bg.Model != tc.background || !bg.Trained || !strings.Contains(bg.Reason, tc.note) {
				t.Fatalf("background result %+v", bg)
			}
			infos, _ := svc.Models(ctx)
			for _, in := range infos {
				if in.Name == tc.background && (!in.Serving || in.Primary != (tc.background == tc.wantPrimary) || in.Metrics[pipeline.ServedValidationKey] != 1) {
					t.Fatalf("listed as %+v", in)
				}
			}
		})
	}
}

// The sequence model trains within its budget with one thread, and is
// checked for sequential data first.
func TestBackgroundSequenceModelBudget(t *testing.T) {
	st, _ := fixture(t)
	ctx := context.Background()
	svc := New(st, Config{}, nil)
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	req := pipeline.DefaultRequirements("sasrec")
	req.MinInteractions, req.MinOrderSignal = 1000, 0.01 // the fixture is small and its order is synthetic
	budget := 2 * time.Second
	opts := pipeline.Options{Preprocess: pipeline.DefaultPreprocess(),
		Background: pipeline.Background{Budget: budget, Models: []pipeline.Spec{{Name: "sasrec", Params: model.Params{"dim": 16, "ffn": 32, "negatives": 0}, Requirements: &req}}}}
	r := svc.NewRetrainer(0, 0, opts)
	res, err := r.RunBackground(ctx)
	if err != nil || len(res) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	s := res[0]
	if !s.Trained || s.Sequence == nil || s.Sequence.Users == 0 || !strings.Contains(s.Reason, "sequential:") {
		t.Fatalf("result %+v", s)
	}
	// the budget bounds the fit; validation of 120 users adds little
	if s.TrainSeconds > budget.Seconds()+5 {
		t.Fatalf("trained for %.1fs with a budget of %s", s.TrainSeconds, budget)
	}
	metas, _ := st.ListModels(ctx, "sasrec")
	if len(metas) != 1 || metas[0].Params["threads"] != 1 || metas[0].Params["time_budget"] != budget.Seconds() {
		t.Fatalf("stored %+v", metas)
	}
}

// Background work starts as the server starts when no background model is
// stored yet, and not again once one is.
func TestBackgroundAtStart(t *testing.T) {
	st, _ := fixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc := New(st, Config{}, nil)
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	opts := pipeline.Options{Preprocess: pipeline.DefaultPreprocess(),
		Background: pipeline.Background{Budget: time.Minute, Models: []pipeline.Spec{{Name: "itemknn"}}}}
	r := svc.NewRetrainer(0, 0, opts)
	if !r.backgroundDueAtStart(ctx) {
		t.Fatal("not due with nothing stored")
	}
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	deadline := time.Now().Add(time.Minute)
	for {
		if metas, _ := st.ListModels(ctx, "itemknn"); len(metas) == 1 && metas[0].Status == store.StatusServing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background model was not trained at start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if r.backgroundDueAtStart(context.Background()) {
		t.Fatal("still due once a version is stored")
	}
	off := svc.NewRetrainer(0, 0, pipeline.Options{})
	if off.backgroundDueAtStart(context.Background()) || off.startBackground(context.Background(), nil) {
		t.Fatal("background work with no budget")
	}
}

// Parameters a search chose are kept by later retrainings, under the
// config's own.
func TestTunedParamsAreKept(t *testing.T) {
	st, _ := fixture(t)
	ctx := context.Background()
	svc := New(st, Config{}, nil)
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	opts := pipeline.Options{Preprocess: pipeline.DefaultPreprocess(), Models: []pipeline.Spec{
		{Name: "itemknn", Params: model.Params{"k": 20, "shrink": 5, "use_weights": 0}, Tuned: true},
	}}
	data, err := opts.Load(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	res, err := pipeline.Train(ctx, st, data, opts)
	if err != nil || !res[0].Trained {
		t.Fatalf("%+v %v", res, err)
	}
	if ok, err := svc.Promote(ctx, "itemknn", res[0].Version); !ok || err != nil {
		t.Fatal(ok, err)
	}
	r := svc.NewRetrainer(0, 0, pipeline.Options{Models: []pipeline.Spec{{Name: "itemknn", Params: model.Params{"shrink": 50}}, {Name: "popular"}}})
	specs := r.fastSpecs()
	want := model.Params{"k": 20, "shrink": 50, "use_weights": 0}
	if len(specs) != 2 || !specs[0].Tuned || len(specs[0].Params) != 3 || specs[0].Params["k"] != want["k"] || specs[0].Params["shrink"] != 50 || specs[1].Tuned {
		t.Fatalf("specs %+v", specs)
	}
	meta, _, _ := st.LoadModel(ctx, "itemknn", res[0].Version)
	if meta.Note != pipeline.TunedNote {
		t.Fatalf("note %q", meta.Note)
	}
}

// The scheduled search measures on validation, within its budget, and
// records its account in the retrainer's results.
func TestRunTuning(t *testing.T) {
	st, _ := fixture(t)
	ctx := context.Background()
	svc := New(st, Config{}, nil)
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	trainAndPromote(t, st, svc, "itemknn")
	r := svc.NewRetrainer(0, 0, pipeline.Options{Preprocess: pipeline.DefaultPreprocess(),
		Models:     []pipeline.Spec{{Name: "popular"}, {Name: "itemknn"}},
		Background: pipeline.Background{TuneBudget: time.Minute}})
	res, err := r.RunTuning(ctx)
	if err != nil || len(res) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	tr := res[0]
	if tr.Phase != "" || tr.Model != "itemknn" || tr.Tuning == nil || tr.Tuning.Trials < 2 || tr.Tuning.Seconds > 60 {
		t.Fatalf("%+v", tr)
	}
	last, _, _ := r.Last()
	if len(last) != 1 || last[0].Phase != "tune" {
		t.Fatalf("last %+v", last)
	}
	metas, _ := st.ListModels(ctx, "itemknn")
	if tr.Tuning.Improved != (len(metas) == 2) {
		t.Fatalf("improved %v, versions %d", tr.Tuning.Improved, len(metas))
	}
	if tr.Tuning.Improved && (metas[1].Note != pipeline.TunedNote && metas[1].Status != StatusRejected) {
		t.Fatalf("tuned version %+v", metas[1])
	}
}

// Background work asked for while Run ends (a retrain request finishing
// its first phase as the lease or the server stops) is not started once
// Run's context ended: Run's last Wait must not race with an Add (the race
// detector caught it in TestCloseJoinsBackgroundWork), and what started
// before is waited for.
func TestBackgroundNotStartedAfterRunEnds(t *testing.T) {
	st, _ := fixture(t)
	svc := New(st, Config{}, nil)
	if err := svc.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	opts := pipeline.Options{Preprocess: pipeline.DefaultPreprocess(),
		Background: pipeline.Background{Budget: time.Minute, Models: []pipeline.Spec{{Name: "itemknn"}}}}
	for range 20 {
		r := svc.NewRetrainer(0, 0, opts)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { r.Run(ctx); close(done) }()
		var starts sync.WaitGroup
		for range 4 {
			starts.Go(func() { r.startBackground(r.Context(), nil) })
		}
		cancel()
		<-done
		starts.Wait()
		if r.bgGo(ctx, func() { t.Error("work started after Run's context ended") }) {
			t.Fatal("bgGo accepted work after Run's context ended")
		}
		r.WaitBackground()
	}
}

// TestTuningRunsOnTheSchedule (issue 19 item 5): Run starts the
// hyper-parameter search every TuneEvery by itself, with no request and
// no retraining due, and records it as the "tune" phase. The deadline is
// a safety net for a loaded machine, not a timing check.
func TestTuningRunsOnTheSchedule(t *testing.T) {
	st, _ := fixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc := New(st, Config{}, nil)
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	trainAndPromote(t, st, svc, "itemknn")
	r := svc.NewRetrainer(0, 0, pipeline.Options{Preprocess: pipeline.DefaultPreprocess(),
		Models:     []pipeline.Spec{{Name: "popular"}, {Name: "itemknn"}},
		Background: pipeline.Background{TuneEvery: time.Second, TuneBudget: 30 * time.Second}})
	tuned := func() bool {
		last, _, _ := r.Last()
		for _, res := range last {
			if res.Phase == "tune" && res.Model == "itemknn" && res.Tuning != nil && res.Tuning.Trials > 0 {
				return true
			}
		}
		return false
	}
	if tuned() {
		t.Fatal("a search recorded before Run started")
	}
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	deadline := time.Now().Add(time.Minute)
	for !tuned() {
		if time.Now().After(deadline) {
			last, err, _ := r.Last()
			t.Fatalf("no scheduled search ran: last results %+v, %v", last, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	if last, _, _ := r.Last(); len(last) == 0 {
		t.Fatal("results lost")
	}
}
