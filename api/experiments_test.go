package api

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/experiment"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/pipeline"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/store"
)

// experimentsFor opens an impression log and an experiment manager in a
// temporary directory, runs their writers until the test ends and adds
// the experiment routes to srv.
func experimentsFor(t testing.TB, srv *Server, st store.Store) *experiment.Manager {
	t.Helper()
	dir := t.TempDir()
	imp, err := impressions.Open(filepath.Join(dir, "impressions.db"), impressions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// the first position fit an hour after the start, as in steady state:
	// BenchmarkImpressionOverhead's minute or two of answers must not have
	// one fall among them (it is not the log's cost, and it comes hourly)
	m, err := experiment.Open(experiment.Options{Path: filepath.Join(dir, "experiments.db"), Impressions: imp, FitAfter: time.Hour,
		Price: func(ctx context.Context, id string) (float64, bool) {
			it, err := st.GetItem(ctx, id)
			if err != nil || it.Price == nil {
				return 0, false
			}
			return *it.Price, true
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- imp.Run(ctx) }()
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		m.Close()
		imp.Close()
	})
	srv.AddExperimentRoutes(m)
	return m
}

// quantile is the p-quantile of xs (the order statistic at ⌊p·n⌋).
func quantile(xs []float64, p float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// p99Overhead is 100·(p99(w)/p99(n) − 1) and its 95% percentile-bootstrap
// interval: w[i] and n[i] are adjacent answers, so pairs are resampled
// together, in blocks of consecutive pairs (the machine's load drifts).
func p99Overhead(w, n []float64) (est, lo, hi float64) {
	const block, reps = 256, 400
	est = 100 * (quantile(w, 0.99)/quantile(n, 0.99) - 1)
	blocks := (len(w) + block - 1) / block
	rng := rand.New(rand.NewPCG(15, 99))
	rw, rn := make([]float64, 0, blocks*block), make([]float64, 0, blocks*block)
	out := make([]float64, reps)
	for r := range reps {
		rw, rn = rw[:0], rn[:0]
		for range blocks {
			s := rng.IntN(blocks) * block
			e := min(s+block, len(w))
			rw, rn = append(rw, w[s:e]...), append(rn, n[s:e]...)
		}
		out[r] = 100 * (quantile(rw, 0.99)/quantile(rn, 0.99) - 1)
	}
	return est, quantile(out, 0.025), quantile(out, 0.975)
}

// catalogueServer is a recommendation server over 2,400 items and 3,000
// shoppers (u00…u2999) with 20 purchases each, drawn from 40 taste groups
// so that item-to-item similarity means something, served by the models
// given (nil: pipeline.DefaultModels); with the impression log and
// experiments or without them.
func catalogueServer(b *testing.B, withExperiments bool, models []pipeline.Spec) *Server {
	b.Helper()
	ctx := context.Background()
	st, eng := testEngine(b)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	items := make([]catalog.Item, 2400)
	for i := range items {
		p := 2.5 + float64(i%50)
		items[i] = catalog.Item{ID: fmt.Sprintf("i%04d", i), Title: fmt.Sprintf("item %d", i), Categories: []string{fmt.Sprintf("Shop/C%d", i%40)},
			Price: &p, Available: true, CreatedAt: t0}
	}
	if err := eng.AddItems(ctx, items); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var evs []events.Event
	for u := range 3000 {
		g := u % 40
		for k := range 20 {
			it := g + 40*rng.IntN(60) // the shopper's taste group
			if rng.IntN(4) == 0 {
				it = rng.IntN(len(items))
			}
			evs = append(evs, events.Event{UserID: fmt.Sprintf("u%02d", u), ItemID: items[it].ID, Type: events.Purchase,
				Timestamp: t0.Add(time.Duration(u*20+k) * time.Minute)})
		}
	}
	if err := eng.AddEvents(ctx, evs); err != nil {
		b.Fatal(err)
	}
	opts := pipeline.Options{Preprocess: pipeline.DefaultPreprocess(), ValidationUsers: 100, Models: models}
	data, err := opts.Load(ctx, st)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := pipeline.Train(ctx, st, data, opts); err != nil {
		b.Fatal(err)
	}
	srv, err := New(Options{Engine: eng})
	if err != nil {
		b.Fatal(err)
	}
	svc := recommend.New(st, recommend.Config{}, nil)
	srv.AddRecommendRoutes(svc, svc.NewRetrainer(0, 0, opts))
	if withExperiments {
		eng.Subscribe(experimentsFor(b, srv, st))
	}
	if err := svc.Load(ctx); err != nil {
		b.Fatal(err)
	}
	eng.Subscribe(svc)
	srv.SetReady(true)
	return srv
}

// With experiments.explore_share at 1 every recommendation answer is an
// explored one: the same items as without exploration, the leading ones
// in another order, and its impression flagged for the position-bias fit.
func TestExploredAnswersAreShuffledAndFlagged(t *testing.T) {
	plain, explored := shopServerWith(t, false), shopServerWith(t, false)
	dir := t.TempDir()
	imp, err := impressions.Open(filepath.Join(dir, "impressions.db"), impressions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := experiment.Open(experiment.Options{Path: filepath.Join(dir, "experiments.db"), Impressions: imp, ExploreShare: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- imp.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		m.Close()
		imp.Close()
	})
	explored.AddExperimentRoutes(m)
	get := func(srv *Server, path string) (ids []string, scores []float64, requestID string) {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		var ans struct {
			RequestID string `json:"request_id"`
			Items     []struct {
				ID    string  `json:"id"`
				Score float64 `json:"score"`
			} `json:"items"`
		}
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &ans) != nil {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		for _, it := range ans.Items {
			ids = append(ids, it.ID)
			scores = append(scores, it.Score)
		}
		return ids, scores, ans.RequestID
	}
	for _, path := range []string{"/api/recommend/u01?n=10", "/api/popular?n=10"} {
		want, wantScores, _ := get(plain, path)
		got, gotScores, id := get(explored, path)
		// the scores stay with the positions (a re-sorting rule keeps the shuffle)
		if !slices.Equal(gotScores, wantScores) {
			t.Fatalf("GET %s explored scores %v, plain %v: want the positions' scores unchanged", path, gotScores, wantScores)
		}
		if len(want) < 5 {
			t.Fatalf("GET %s: %d items, too few to tell", path, len(want))
		}
		if slices.Equal(got, want) || !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
			t.Fatalf("GET %s explored %v, plain %v: want the same items in another order", path, got, want)
		}
		wantOrder := make([]string, len(want))
		for i, j := range impressions.ExploreOrder(id, len(want)) {
			wantOrder[i] = want[j]
		}
		if !slices.Equal(got, wantOrder) {
			t.Fatalf("GET %s explored %v, want ExploreOrder of the plain answer %v", path, got, wantOrder)
		}
		var logged impressions.Impression
		for range 200 { // the writer batches every 50 ms
			if l, ok, err := imp.Get(id); err == nil && ok {
				logged = l
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if !logged.Explored || !slices.Equal(logged.Items, got) {
			t.Fatalf("impression of %s: %+v, want flagged explored with the shown order %v", id, logged, got)
		}
	}
}

// A variant whose model does not serve (here ease, never trained: the
// shop serves popular) is answered by the primary; its results say how
// many of its answers another model served, and the variant whose model
// serves says nothing. Before, the results gave no sign of it.
func TestVariantWhoseModelDoesNotServeSaysSo(t *testing.T) {
	srv := shopServerWith(t, true)
	do := func(method, path, body string, out any) {
		t.Helper()
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
		if rec.Code/100 != 2 || json.Unmarshal(rec.Body.Bytes(), out) != nil {
			t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
	}
	var exp experiment.Experiment
	do("POST", "/api/experiments", `{"name":"models","surface":"recommend","variants":[{"name":"a","weight":50,"overrides":{"model":"popular"}},{"name":"b","weight":50,"overrides":{"model":"ease"}}]}`, &exp)
	answers := map[string]int64{}
	for u := range 40 {
		var ans struct {
			Variant string `json:"variant"`
			Model   string `json:"model"`
		}
		do("GET", fmt.Sprintf("/api/recommend/u%02d?n=3", u), "", &ans)
		if !strings.HasPrefix(ans.Model, "popular@") {
			t.Fatalf("u%02d (variant %s) served by %q, want popular", u, ans.Variant, ans.Model)
		}
		answers[ans.Variant]++
	}
	var res struct {
		Variants []struct {
			Name           string `json:"name"`
			ModelFallbacks *int64 `json:"model_fallbacks"`
		} `json:"variants"`
	}
	do("GET", "/api/experiments/"+exp.ID+"/results", "", &res)
	for _, v := range res.Variants {
		switch {
		case v.Name == "a" && (v.ModelFallbacks == nil || *v.ModelFallbacks != 0):
			t.Errorf("variant a (popular serves): model_fallbacks %v, want 0", v.ModelFallbacks)
		case v.Name == "b" && (v.ModelFallbacks == nil || *v.ModelFallbacks != answers["b"] || answers["b"] == 0):
			t.Errorf("variant b (ease does not serve): model_fallbacks %v, want its %d answers", v.ModelFallbacks, answers["b"])
		}
	}
}

// A variant may override the fallback chain of recommendation answers
// (what fills the answer of a shopper the model does not know): over
// HTTP, the shoppers of variant b get only the newest items, those of
// variant a the default chain; a chain naming an unknown step is a 400.
func TestFallbackChainIsAnExperimentOverride(t *testing.T) {
	if !slices.Equal(experiment.FallbackSteps, recommend.FallbackSteps) {
		t.Fatalf("experiment accepts the fallback steps %v, recommend has %v", experiment.FallbackSteps, recommend.FallbackSteps)
	}
	srv := shopServerWith(t, true)
	do := func(method, path, body string, want int, out any) {
		t.Helper()
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
		if rec.Code != want || (out != nil && json.Unmarshal(rec.Body.Bytes(), out) != nil) {
			t.Fatalf("%s %s: %d %s, want %d", method, path, rec.Code, rec.Body, want)
		}
	}
	do("POST", "/api/experiments", `{"name":"bad","surface":"recommend","variants":[{"name":"a","weight":50},{"name":"b","weight":50,"overrides":{"fallback":["new","bestsellers"]}}]}`, 400, nil)
	do("POST", "/api/experiments", `{"name":"bad","surface":"recommend","variants":[{"name":"a","weight":50},{"name":"b","weight":50,"overrides":{"fallback":["new","new"]}}]}`, 400, nil)
	var exp experiment.Experiment
	do("POST", "/api/experiments", `{"name":"fallbacks","surface":"recommend","variants":[{"name":"a","weight":50},{"name":"b","weight":50,"overrides":{"fallback":["new"]}}]}`, 201, &exp)
	reasons := map[string]map[string]int{"a": {}, "b": {}}
	for u := range 40 {
		var ans struct {
			Variant string `json:"variant"`
			Items   []struct {
				Reason string `json:"reason"`
			} `json:"items"`
		}
		do("GET", fmt.Sprintf("/api/recommend/stranger%02d?n=5", u), "", 200, &ans) // unknown to the model: all fallbacks
		if len(ans.Items) != 5 || reasons[ans.Variant] == nil {
			t.Fatalf("stranger%02d: variant %q, %d items", u, ans.Variant, len(ans.Items))
		}
		for _, it := range ans.Items {
			reasons[ans.Variant][it.Reason]++
		}
	}
	if len(reasons["b"]) != 1 || reasons["b"]["new in catalogue"] == 0 {
		t.Errorf("variant b (fallback: new) answered with reasons %v", reasons["b"])
	}
	if len(reasons["a"]) == 0 || reasons["a"]["new in catalogue"] > 0 {
		t.Errorf("variant a (default chain, popular items exist) answered with reasons %v", reasons["a"])
	}
}
