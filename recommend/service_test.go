package recommend

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/pipeline"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/boltstore"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// fixture: 4 categories of 20 items; user u of group g buys items of group g.
func fixture(t *testing.T) (*boltstore.Store, []catalog.Item) {
	t.Helper()
	ctx := context.Background()
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var its []catalog.Item
	for i := 0; i < 80; i++ {
		p := float64(i)
		its = append(its, catalog.Item{ID: fmt.Sprintf("i%02d", i), Title: fmt.Sprintf("thing %d group%d", i, i%4), Categories: []string{fmt.Sprintf("Shop/G%d", i%4)}, Price: &p, Available: true, Brand: fmt.Sprintf("brand%d", i%3)})
	}
	if err := st.PutItems(ctx, its); err != nil {
		t.Fatal(err)
	}
	var evs []events.Event
	for u := 0; u < 120; u++ {
		g := u % 4
		for k := 0; k < 10; k++ {
			item := g + 4*((u*3+k*7)%20)
			evs = append(evs, events.Event{UserID: fmt.Sprintf("u%03d", u), ItemID: its[item].ID, Type: events.Purchase, Timestamp: t0.Add(time.Duration(u*10+k) * time.Minute), SessionID: fmt.Sprintf("s%d", u)})
		}
	}
	if err := st.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	return st, its
}

func trainAndPromote(t *testing.T, st *boltstore.Store, svc *Service, models ...string) {
	t.Helper()
	ctx := context.Background()
	opts := pipeline.Options{Preprocess: pipeline.DefaultPreprocess()}
	for _, m := range models {
		opts.Models = append(opts.Models, pipeline.Spec{Name: m})
	}
	data, err := opts.Load(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	res, err := pipeline.Train(ctx, st, data, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !r.Trained {
			t.Fatalf("%s not trained: %s %s", r.Model, r.Reason, r.Error)
		}
		if _, err := svc.Promote(ctx, r.Model, r.Version); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFallbacksWithoutModels(t *testing.T) {
	st, _ := fixture(t)
	svc := New(st, Config{}, nil)
	if err := svc.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ans, err := svc.Recommend(context.Background(), "stranger", Request{N: 5})
	if err != nil || len(ans.Items) != 5 || ans.Model != "" {
		t.Fatalf("stranger: %+v %v", ans, err)
	}
	for _, it := range ans.Items {
		if it.Reason != "trending" && !strings.HasPrefix(it.Reason, "popular") {
			t.Fatalf("reason %q", it.Reason)
		}
	}
	// A known user without a model: fallbacks, never their purchases.
	ans, _ = svc.Recommend(context.Background(), "u000", Request{N: 80})
	hist, _ := st.UserEvents(context.Background(), "u000", 0)
	bought := map[string]bool{}
	for _, e := range hist {
		bought[e.ItemID] = true
	}
	for _, it := range ans.Items {
		if bought[it.ID] {
			t.Fatalf("bought item %s recommended", it.ID)
		}
	}
	if len(ans.Items) != 80-len(bought) {
		t.Fatalf("fallback chain did not fill the catalogue: %d items, %d bought", len(ans.Items), len(bought))
	}
	// Bought together: items of the same sessions.
	bt, err := svc.BoughtTogether(context.Background(), "i00", Request{N: 5})
	if err != nil || len(bt.Items) == 0 {
		t.Fatalf("bought together: %+v %v", bt, err)
	}
	for _, it := range bt.Items {
		if !strings.HasSuffix(catOf(t, st, it.ID), "G0") {
			t.Fatalf("bought together across groups: %s", it.ID)
		}
	}
}

func catOf(t *testing.T, st *boltstore.Store, id string) string {
	it, err := st.GetItem(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return it.Categories[0]
}

func TestFiltersAndModels(t *testing.T) {
	st, _ := fixture(t)
	svc := New(st, Config{}, nil)
	ctx := context.Background()
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	trainAndPromote(t, st, svc, "itemknn", "ials")
	ans, err := svc.Recommend(ctx, "u001", Request{N: 10})
	if err != nil || ans.Model == "" || len(ans.Items) != 10 {
		t.Fatalf("u001: %+v %v", ans, err)
	}
	inGroup := 0
	for _, it := range ans.Items {
		if strings.HasSuffix(catOf(t, st, it.ID), "G1") {
			inGroup++
		}
	}
	if inGroup < 8 {
		t.Fatalf("only %d of 10 recommendations in the user's group", inGroup)
	}
	lo, hi := 10.0, 30.0
	ans, _ = svc.Recommend(ctx, "u001", Request{N: 50, Filter: Filter{MinPrice: &lo, MaxPrice: &hi, Categories: []string{"Shop/G2"}, Exclude: []string{"i14"}}})
	if len(ans.Items) == 0 {
		t.Fatal("filtered answer empty")
	}
	for _, it := range ans.Items {
		got, _ := st.GetItem(ctx, it.ID)
		if *got.Price < lo || *got.Price > hi || got.Categories[0] != "Shop/G2" || it.ID == "i14" {
			t.Fatalf("filter let %+v through", got)
		}
	}
	// Similar items of a G3 item are G3 items.
	sim, err := svc.Similar(ctx, "i03", Request{N: 5})
	if err != nil || len(sim.Items) != 5 {
		t.Fatalf("similar: %+v %v", sim, err)
	}
	for _, it := range sim.Items {
		if !strings.HasSuffix(catOf(t, st, it.ID), "G3") || it.ID == "i03" {
			t.Fatalf("similar to i03: %v", sim.Items)
		}
	}
	// A deleted item disappears at once.
	svc.ItemsDeleted([]string{sim.Items[0].ID})
	sim2, _ := svc.Similar(ctx, "i03", Request{N: 5})
	for _, it := range sim2.Items {
		if it.ID == sim.Items[0].ID {
			t.Fatal("deleted item still similar")
		}
	}
	// A new item without interactions is reachable through its text.
	svc.ItemsUpserted([]catalog.Item{{ID: "new1", Title: "thing 999 group3", Categories: []string{"Shop/G3"}, Available: true}})
	sim3, err := svc.Similar(ctx, "new1", Request{N: 3})
	if err != nil || len(sim3.Items) == 0 || sim3.Items[0].Reason != "similar text" {
		t.Fatalf("cold item similar: %+v %v", sim3, err)
	}
}

// Models are swapped while requests run: no request may fail, see an
// empty answer or a half-loaded model (run with -race).
func TestModelSwapUnderLoad(t *testing.T) {
	st, _ := fixture(t)
	svc := New(st, Config{}, nil)
	ctx := context.Background()
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	trainAndPromote(t, st, svc, "itemknn")
	trainAndPromote(t, st, svc, "itemknn") // version 2 serves, 1 is retired
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ans, err := svc.Recommend(ctx, fmt.Sprintf("u%03d", (w*31+i)%120), Request{N: 5})
				if err == nil && (len(ans.Items) != 5 || (ans.Model != "itemknn@1" && ans.Model != "itemknn@2")) {
					err = fmt.Errorf("bad answer during swap: %+v", ans)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	for i := 0; i < 10; i++ {
		if _, err := svc.Rollback(ctx, "itemknn"); err != nil {
			t.Fatal(err)
		}
		if ok, err := svc.Promote(ctx, "itemknn", 2); err != nil || !ok {
			t.Fatalf("promote back: %v %v", ok, err)
		}
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	list, _ := svc.Models(ctx)
	serving := 0
	for _, m := range list {
		if m.Serving {
			serving++
		}
	}
	if serving != 1 {
		t.Fatalf("%d serving versions: %+v", serving, list)
	}
}

func TestPromoteRejectsWorse(t *testing.T) {
	st, _ := fixture(t)
	svc := New(st, Config{}, nil)
	ctx := context.Background()
	svc.Load(ctx)
	trainAndPromote(t, st, svc, "itemknn")
	metas, _ := st.ListModels(ctx, "itemknn")
	worse := metas[0]
	worse.Metrics = map[string]float64{"NDCG@10": metas[0].Metrics["NDCG@10"] / 2}
	worse.Status = StatusCandidate
	_, art, _ := st.LoadModel(ctx, "itemknn", 1)
	v, _ := st.SaveModel(ctx, worse, art)
	ok, err := svc.Promote(ctx, "itemknn", v)
	if err != nil || ok {
		t.Fatalf("worse version promoted: %v %v", ok, err)
	}
	m, _, _ := st.LoadModel(ctx, "itemknn", v)
	if m.Status != StatusRejected || m.Note == "" {
		t.Fatalf("rejected version: %+v", m)
	}
}

// Factor models answer through the nearest-neighbour index when the
// catalogue is large; force it on the small fixture.
//
// ials is trained once, on a fixture of its own, and each storage
// setting's service promotes a copy of that stored candidate in a fresh
// fixture: what training on the same fixture in every subtest stored,
// without three of the four fits (most of the test's CPU under -race).
func TestIndexPath(t *testing.T) {
	ctx := context.Background()
	trained, _ := fixture(t)
	opts := pipeline.Options{Preprocess: pipeline.DefaultPreprocess(), Models: []pipeline.Spec{{Name: "ials"}}}
	data, err := opts.Load(ctx, trained)
	if err != nil {
		t.Fatal(err)
	}
	res, err := pipeline.Train(ctx, trained, data, opts)
	if err != nil || len(res) != 1 || !res[0].Trained {
		t.Fatalf("train ials: %+v %v", res, err)
	}
	meta, blob, err := trained.LoadModel(ctx, "ials", res[0].Version)
	if err != nil {
		t.Fatal(err)
	}
	for _, vectors := range []string{"", "int8dim", "float32", "pq"} {
		t.Run("vectors="+vectors, func(t *testing.T) { testIndexPath(t, vectors, meta, blob) })
	}
}

func testIndexPath(t *testing.T, vectors string, meta store.ModelMeta, blob []byte) {
	st, _ := fixture(t)
	svc := New(st, Config{ANNThreshold: 1, Vectors: vectors}, nil)
	ctx := context.Background()
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := st.SaveModel(ctx, meta, blob)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Promote(ctx, "ials", v); err != nil {
		t.Fatal(err)
	}
	if sm := svc.models.Load().primary; sm == nil || sm.index == nil {
		t.Fatal("no index built")
	}
	ans, err := svc.Recommend(ctx, "u002", Request{N: 10})
	if err != nil || len(ans.Items) != 10 || ans.Model != "ials@1" {
		t.Fatalf("answer %+v %v", ans, err)
	}
	in := 0
	for _, it := range ans.Items {
		if strings.HasSuffix(catOf(t, st, it.ID), "G2") {
			in++
		}
	}
	if in < 8 {
		t.Fatalf("only %d of 10 in the user's group via the index", in)
	}
	ans, _ = svc.Recommend(ctx, "u002", Request{N: 10, Filter: Filter{Categories: []string{"Shop/G1"}}})
	for _, it := range ans.Items {
		if !strings.HasSuffix(catOf(t, st, it.ID), "G1") {
			t.Fatalf("filter ignored on the index path: %v", ans.Items)
		}
	}
	// A stranger with a history folds in through the index too.
	ans, _ = svc.Session(ctx, []string{"i03", "i07", "i11"}, Request{N: 5})
	if ans.Model != "ials@1" {
		t.Fatalf("session did not use the model: %+v", ans)
	}
}

// A saved index is loaded, not built again, by a restarted service (or a
// replica) serving the same model version; a new version builds its own.
func TestIndexSavedAndLoaded(t *testing.T) {
	st, _ := fixture(t)
	dir := t.TempDir()
	ctx := context.Background()
	first := New(st, Config{ANNThreshold: 1, IndexDir: dir}, nil)
	if err := first.Load(ctx); err != nil {
		t.Fatal(err)
	}
	trainAndPromote(t, st, first, "ials")
	if built, loaded := first.IndexStats(); built != 1 || loaded != 0 {
		t.Fatalf("first start: built %d, loaded %d; want 1, 0", built, loaded)
	}
	want, err := first.Recommend(ctx, "u002", Request{N: 10})
	if err != nil {
		t.Fatal(err)
	}

	restarted := New(st, Config{ANNThreshold: 1, IndexDir: dir}, nil)
	if err := restarted.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if built, loaded := restarted.IndexStats(); built != 0 || loaded != 1 {
		t.Fatalf("restart: built %d, loaded %d; want 0, 1", built, loaded)
	}
	got, err := restarted.Recommend(ctx, "u002", Request{N: 10})
	if err != nil || got.Model != want.Model || len(got.Items) != len(want.Items) {
		t.Fatalf("restart answered %+v, %v; want %+v", got, err, want)
	}
	for i := range got.Items {
		if got.Items[i].ID != want.Items[i].ID {
			t.Fatalf("restart answers %v, first start %v", got.Items, want.Items)
		}
	}

	// Another storage setting makes the saved index stale: built again.
	other := New(st, Config{ANNThreshold: 1, IndexDir: dir, Vectors: "float32"}, nil)
	if err := other.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if built, loaded := other.IndexStats(); built != 1 || loaded != 0 {
		t.Fatalf("other settings: built %d, loaded %d; want 1, 0", built, loaded)
	}
	// A new version of the model is stale too.
	trainAndPromote(t, st, restarted, "ials")
	if built, loaded := restarted.IndexStats(); built != 1 || loaded != 1 {
		t.Fatalf("new version: built %d, loaded %d; want 1, 1", built, loaded)
	}
}

func TestAffinity(t *testing.T) {
	st, _ := fixture(t)
	svc := New(st, Config{}, nil)
	ctx := context.Background()
	svc.Load(ctx)
	aff, err := svc.Affinity(ctx, "u001") // group 1 buyer
	if err != nil || aff == nil {
		t.Fatalf("affinity: %v", err)
	}
	if aff("i01") <= aff("i02") || aff("i01") > 1 || aff("nope") != 0 {
		t.Fatalf("affinity i01 %v i02 %v", aff("i01"), aff("i02"))
	}
	if a, _ := svc.Affinity(ctx, "nobody"); a != nil {
		t.Fatal("affinity for a user without history")
	}
}

func TestPopularity(t *testing.T) {
	st, its := fixture(t)
	svc := New(st, Config{}, nil)
	ctx := context.Background()
	if svc.Popularity(its[0].ID) != 0 || svc.popularity.Load() != nil {
		t.Fatal("a popularity snapshot before the log was read")
	}
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	st.ScanEvents(ctx, 0, func(e events.Event) error { counts[e.ItemID]++; return nil })
	best, never := "", ""
	for _, it := range its {
		if counts[it.ID] > counts[best] {
			best = it.ID
		}
		if counts[it.ID] == 0 {
			never = it.ID
		}
	}
	if got := svc.Popularity(best); math.Abs(got-1) > 1e-9 {
		t.Fatalf("most popular item %s: %v, want 1", best, got)
	}
	for id, n := range counts {
		p := svc.Popularity(id)
		if p <= 0 || p > 1 || (n < counts[best] && p >= 1) {
			t.Fatalf("item %s with %d events: popularity %v", id, n, p)
		}
	}
	if never != "" && svc.Popularity(never) != 0 {
		t.Fatalf("item %s without events: %v", never, svc.Popularity(never))
	}
	if svc.Popularity("unknown") != 0 {
		t.Fatal("unknown item has a popularity")
	}
}

// With a serving factor model, affinity also comes from the user's and
// the item's vectors: a group's buyer is closer to the group's items.
func TestEmbeddingAffinity(t *testing.T) {
	st, its := fixture(t)
	svc := New(st, Config{}, nil)
	ctx := context.Background()
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	h, _ := svc.userHistory(ctx, "u001")
	if svc.embeddingAffinity("u001", h) != nil {
		t.Fatal("embedding affinity without a factor model")
	}
	trainAndPromote(t, st, svc, "ials")
	emb := svc.embeddingAffinity("u001", h) // group 1 buyer
	if emb == nil {
		t.Fatal("no embedding affinity with ials serving")
	}
	var in, out float64
	for _, it := range its {
		i, _ := svc.items.lookup(it.ID)
		a := emb(i)
		if a < 0 || a > 1 {
			t.Fatalf("affinity %v outside [0,1]", a)
		}
		if it.Categories[0] == "Shop/G1" {
			in += a
		} else {
			out += a / 3
		}
	}
	if in <= out {
		t.Fatalf("group 1 items %.3f not closer than the others %.3f", in/20, out/20)
	}
	// a user the model never saw is folded in from their history
	if svc.embeddingAffinity("stranger", h) == nil {
		t.Fatal("no fold-in for an unknown user with a history")
	}
	aff, _ := svc.Affinity(ctx, "u001")
	if i, _ := svc.items.lookup("i05"); aff("i05") < emb(i) {
		t.Fatalf("Affinity %v below the embedding part %v", aff("i05"), emb(i))
	}
}

// fakeLearner is a Learner whose serving version the test sets.
type fakeLearner struct{ version int }

func (f *fakeLearner) Name() string { return "search-ltr" }
func (f *fakeLearner) RunOnce(context.Context) (pipeline.Result, error) {
	return pipeline.Result{Model: "search-ltr"}, nil
}
func (f *fakeLearner) Rollback(context.Context) (store.ModelMeta, error) {
	return store.ModelMeta{}, store.ErrNoRollback
}
func (f *fakeLearner) ServingVersion() int { return f.version }

// Models lists a learner's version as serving only when the learner uses
// it (a stored serving version may have failed to load), and never as the
// primary recommendation model.
func TestModelsListsWhatALearnerServes(t *testing.T) {
	st, _ := fixture(t)
	ctx := context.Background()
	if _, err := st.SaveModel(ctx, store.ModelMeta{Name: "search-ltr", Status: StatusServing, CreatedAt: t0}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	fl := &fakeLearner{}
	svc := New(st, Config{}, nil)
	svc.AddLearner(fl)
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		version int
		serving bool
	}{{0, false}, {2, false}, {1, true}} {
		fl.version = tc.version
		list, err := svc.Models(ctx)
		if err != nil || len(list) != 1 {
			t.Fatalf("models: %+v %v", list, err)
		}
		if list[0].Serving != tc.serving || list[0].Primary {
			t.Fatalf("learner serving version %d: listed %+v", tc.version, list[0])
		}
	}
}
