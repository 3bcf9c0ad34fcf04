package search

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// weighted is a linear Ranker over named features, for tests.
type weighted struct {
	names []string
	w     map[string]float64
}

func (r weighted) Score(x []float32) float64 {
	var s float64
	for i, n := range r.names {
		s += r.w[n] * float64(x[i])
	}
	return s
}

func (r weighted) Check(names []string) error {
	if !slices.Equal(names, r.names) {
		return errors.New("schema differs")
	}
	return nil
}

func feature(t *testing.T, c Candidate, name string) float32 {
	t.Helper()
	i := slices.Index(featureNames, name)
	if i < 0 {
		t.Fatalf("no feature %q", name)
	}
	return c.Features[i]
}

func TestFeatureSchema(t *testing.T) {
	names := FeatureNames()
	if len(names) != numFeatures {
		t.Fatalf("%d names for %d features", len(names), numFeatures)
	}
	for i, n := range names {
		if slices.Index(names, n) != i {
			t.Errorf("feature %q named twice", n)
		}
	}
	// the positions of stored models' features do not move
	for _, tc := range []struct {
		pos  int
		name string
	}{{0, "bm25_title"}, {4, "bm25_description"}, {18, "semantic_rrank"}, {25, "clicks"}, {27, "log_desc_len"}} {
		if names[tc.pos] != tc.name {
			t.Errorf("position %d is %q, want %q", tc.pos, names[tc.pos], tc.name)
		}
	}
}

func TestCandidateFeatures(t *testing.T) {
	ix := newTestIndex(t, DefaultConfig(), nil, fixture())
	clicks := NewClicks()
	t0 := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	clicks.Record(events.Event{Type: events.Search, SessionID: "s", Query: "running shoes", Timestamp: t0})
	clicks.Record(events.Event{Type: events.Purchase, SessionID: "s", ItemID: "8", Timestamp: t0.Add(time.Minute)})
	ix.SetSignals(Signals{Popularity: func(id string) float64 { return map[string]float64{"3": 0.5, "8": 7}[id] }, Clicks: clicks})
	cands, err := ix.Candidates(context.Background(), Request{Query: "running shoes", Boost: func(id string) float64 {
		if id == "3" {
			return 0.25
		}
		return math.NaN()
	}})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Candidate{}
	for _, c := range cands {
		byID[c.ID] = c
		if len(c.Features) != numFeatures {
			t.Fatalf("%s: %d features", c.ID, len(c.Features))
		}
	}
	if len(byID) < 2 {
		t.Fatalf("candidates %v, want items 3 and 8 among them", cands)
	}
	tests := []struct {
		id, name string
		want     float32
	}{
		{"3", "coverage", 1},
		{"3", "exact_coverage", 1},
		{"3", "title_coverage", 1},
		{"3", "all_in_title", 1},
		{"3", "all_exact_in_title", 1},
		{"3", "title_proximity", 1},
		{"3", "query_words", 2},
		{"3", "has_price", 1},
		{"3", "log_price", float32(math.Log1p(80))},
		{"3", "price_rel", 0}, // 80 is the median of the priced candidates (80, 60)
		{"4", "price_rel", float32(math.Log(61.0 / 81))},
		{"4", "all_in_title", 0}, // matched through its category
		{"3", "popularity", 0.5},
		{"8", "popularity", 1}, // clamped
		{"3", "affinity", 0.25},
		{"8", "affinity", 0}, // NaN → 0
		{"8", "has_price", 0},
		{"8", "clicks", float32(3.0 / (3 + 3))},
		{"3", "clicks", 0},
		{"3", "semantic_cos", 0}, // no embedder
		{"3", "keyword_rrank", 1},
		{"8", "keyword_rrank", 0.5},
		{"3", "keyword_score_rel", 1},
	}
	for _, tc := range tests {
		c, ok := byID[tc.id]
		if !ok {
			t.Fatalf("item %s not a candidate", tc.id)
		}
		if got := feature(t, c, tc.name); math.Abs(float64(got-tc.want)) > 1e-6 {
			t.Errorf("item %s %s = %g, want %g", tc.id, tc.name, got, tc.want)
		}
	}
	for _, c := range []Candidate{byID["3"], byID["8"]} {
		if feature(t, c, "bm25_title") <= 0 || feature(t, c, "bm25f") <= 0 || feature(t, c, "log_title_len") <= 0 {
			t.Errorf("item %s: title BM25 or length not positive: %v", c.ID, c.Features)
		}
		if feature(t, c, "bm25_description") != 0 {
			t.Errorf("item %s: description BM25 without a description", c.ID)
		}
	}
	if r := feature(t, byID["8"], "bm25f_rel"); r <= 0 || r > 1 {
		t.Errorf("bm25f_rel %g, want (0,1]", r)
	}
}

func TestLTRMode(t *testing.T) {
	items := fixture()
	items = append(items,
		catalog.Item{ID: "10", Title: "Printer Ink Refill Kit", Brand: "Generic", Categories: []string{"Office/Printer Supplies/Ink"}, Price: price(15), Available: true},
		catalog.Item{ID: "11", Title: "Ink", Brand: "Generic", Categories: []string{"Office/Printer Supplies/Ink"}, Price: price(1), Available: true},
	)
	ix := newTestIndex(t, DefaultConfig(), nil, items)
	ctx := context.Background()
	// without a ranker: the default mode
	r := search(t, ix, Request{Query: "printer ink", Mode: ModeLTR})
	if r.Mode != ModeKeyword {
		t.Fatalf("mode %q without a ranker, want keyword", r.Mode)
	}
	kw := ids(r)
	if err := ix.SetRanker(weighted{names: []string{"x"}}); err == nil {
		t.Fatal("a ranker of another schema was accepted")
	}
	// cheapest first
	if err := ix.SetRanker(weighted{names: FeatureNames(), w: map[string]float64{"log_price": -1, "has_price": 10}}); err != nil {
		t.Fatal(err)
	}
	r = search(t, ix, Request{Query: "printer ink", Mode: ModeLTR, Facets: []string{FacetCategory}})
	if r.Mode != ModeLTR {
		t.Fatalf("mode %q with a ranker", r.Mode)
	}
	got := ids(r)
	if !sameSet(got, kw) {
		t.Errorf("ltr results %v, keyword %v: not the same items", got, kw)
	}
	// exact matches (all words in the title: items 2 and 10) as a class
	// are never lower than in the keyword list
	isExact := func(id string) bool { return id == "2" || id == "10" }
	ke, le := 0, 0
	for r := range kw {
		if isExact(kw[r]) {
			ke++
		}
		if isExact(got[r]) {
			le++
		}
		if le < ke {
			t.Errorf("ltr %v has fewer exact matches in its top %d than keyword %v", got, r+1, kw)
		}
	}
	if slices.Index(got, "11") > slices.Index(got, "7") {
		t.Errorf("cheapest-first ranker put 11 ($1) after 7 ($9): %v", got)
	}
	if r.Total != len(kw) || r.Facets == nil || len(r.Facets.Category) == 0 {
		t.Errorf("total %d facets %+v", r.Total, r.Facets)
	}
	// filters apply
	r = search(t, ix, Request{Query: "printer ink", Mode: ModeLTR, Categories: []string{"Office/Paper"}})
	if g := ids(r); !slices.Equal(g, []string{"7"}) {
		t.Errorf("category filter: %v", g)
	}
	// pagination agrees with the full list
	full := ids(search(t, ix, Request{Query: "printer ink", Mode: ModeLTR, N: 10}))
	p2 := ids(search(t, ix, Request{Query: "printer ink", Mode: ModeLTR, N: 2, Offset: 2}))
	if !slices.Equal(p2, full[2:min(4, len(full))]) {
		t.Errorf("page 2 %v, full %v", p2, full)
	}
	// another order than relevance: keyword retrieval, sorted
	r = search(t, ix, Request{Query: "printer ink", Mode: ModeLTR, Sort: SortPriceDesc})
	if r.Mode != ModeKeyword || len(r.Items) == 0 {
		t.Errorf("price sort in ltr mode: mode %q, %d items", r.Mode, len(r.Items))
	}
	// removing the ranker falls back again
	if err := ix.SetRanker(nil); err != nil {
		t.Fatal(err)
	}
	if r := search(t, ix, Request{Query: "ink", Mode: ModeLTR}); r.Mode != ModeKeyword {
		t.Errorf("mode %q after removing the ranker", r.Mode)
	}
	if _, err := ix.Candidates(ctx, Request{Query: ""}); err != nil {
		t.Errorf("empty query: %v", err)
	}
}

func TestLTRWithEmbedderUsesSemanticCandidates(t *testing.T) {
	emb := &hashEmbedder{dim: 64}
	ix := newTestIndex(t, DefaultConfig(), emb, fixture())
	cands, err := ix.Candidates(context.Background(), Request{Query: "printer"})
	if err != nil {
		t.Fatal(err)
	}
	sem := 0
	for _, c := range cands {
		if feature(t, c, "semantic_rrank") > 0 {
			sem++
		}
		if feature(t, c, "semantic_cos_rel") > 0 {
			t.Errorf("%s: cosine above the candidates' largest", c.ID)
		}
	}
	if sem == 0 || len(cands) <= 2 {
		t.Errorf("%d candidates, %d from the semantic list", len(cands), sem)
	}
	if err := ix.SetRanker(weighted{names: FeatureNames(), w: map[string]float64{"semantic_cos": 1}}); err != nil {
		t.Fatal(err)
	}
	r := search(t, ix, Request{Query: "printer", Mode: ModeLTR})
	if r.Mode != ModeLTR || len(r.Items) != min(10, len(cands)) {
		t.Errorf("mode %q, %d items for %d candidates", r.Mode, len(r.Items), len(cands))
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestGuardExactClassProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 500; trial++ {
		n := 1 + rng.IntN(12)
		kw := make([]scored, n)
		for i := range kw {
			kw[i] = scored{doc: uint32(i), score: float64(n - i), exact: rng.IntN(3) == 0}
		}
		ranked := slices.Clone(kw)
		for i := range ranked {
			ranked[i].score = rng.Float64()
		}
		sortScored(ranked)
		out := guardExactClass(slices.Clone(ranked), kw)
		if len(out) != n {
			t.Fatalf("%d items out of %d", len(out), n)
		}
		var ke, oe int
		satisfied := true
		for r := 0; r < n; r++ {
			if kw[r].exact {
				ke++
			}
			if out[r].exact {
				oe++
			}
			if oe < ke {
				t.Fatalf("trial %d: %d exact matches in the top %d, keyword had %d", trial, oe, r+1, ke)
			}
			if r > 0 && out[r].score > out[r-1].score {
				t.Fatalf("trial %d: scores increase at %d", trial, r)
			}
		}
		// each class keeps the ranker's order; an already valid order is kept
		sub := func(l []scored, exact bool) []uint32 {
			var d []uint32
			for _, s := range l {
				if s.exact == exact {
					d = append(d, s.doc)
				}
			}
			return d
		}
		for _, e := range []bool{true, false} {
			if !slices.Equal(sub(out, e), sub(ranked, e)) {
				t.Fatalf("trial %d: class exact=%v reordered", trial, e)
			}
		}
		ke, oe = 0, 0
		for r := 0; r < n; r++ {
			if kw[r].exact {
				ke++
			}
			if ranked[r].exact {
				oe++
			}
			satisfied = satisfied && oe >= ke
		}
		if satisfied {
			for r := range out {
				if out[r].doc != ranked[r].doc {
					t.Fatalf("trial %d: a valid order was changed", trial)
				}
			}
		}
	}
}

func TestSetRankerWhileSearching(t *testing.T) {
	ix := newTestIndex(t, DefaultConfig(), nil, fixture())
	r := weighted{names: FeatureNames(), w: map[string]float64{"log_price": -1}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			if i%2 == 0 {
				_ = ix.SetRanker(r)
			} else {
				_ = ix.SetRanker(nil)
			}
		}
	}()
	for i := 0; i < 200; i++ {
		res, err := ix.Search(context.Background(), Request{Query: "printer", Mode: ModeLTR})
		if err != nil {
			t.Fatal(err)
		}
		if res.Mode != ModeLTR && res.Mode != ModeKeyword || len(res.Items) == 0 {
			t.Fatalf("mode %q, %d items", res.Mode, len(res.Items))
		}
	}
	<-done
}

// scopedWeighted is a click-scoped test ranker.
type scopedWeighted struct{ weighted }

func (scopedWeighted) ClickScoped() bool { return true }

// A ranker learned from clicks ranks only queries shoppers acted on; the
// others search in the default mode.
func TestClickScopedRanker(t *testing.T) {
	ix := newTestIndex(t, DefaultConfig(), nil, []catalog.Item{
		{ID: "a", Title: "red stapler", Available: true},
		{ID: "b", Title: "red stapler deluxe", Available: true},
		{ID: "c", Title: "blue pen", Available: true},
		{ID: "d", Title: "blue pen fine", Available: true},
	})
	clicks := NewClicks()
	t0 := time.Now()
	clicks.Record(events.Event{SessionID: "s", Type: events.Search, Query: "red stapler", Timestamp: t0})
	clicks.Record(events.Event{SessionID: "s", ItemID: "b", Type: events.Click, Timestamp: t0.Add(time.Second)})
	ix.SetSignals(Signals{Clicks: clicks})
	r := scopedWeighted{weighted{names: FeatureNames(), w: map[string]float64{"log_title_len": 1}}}
	if err := ix.SetRanker(r); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		q, mode string
	}{{"red stapler", "ltr"}, {"blue pen", "keyword"}} {
		res := search(t, ix, Request{Query: c.q, Mode: ModeLTR})
		if string(res.Mode) != c.mode {
			t.Errorf("%q ran in mode %s, want %s", c.q, res.Mode, c.mode)
		}
	}
	// an unscoped ranker ranks every query
	if err := ix.SetRanker(r.weighted); err != nil {
		t.Fatal(err)
	}
	if res := search(t, ix, Request{Query: "blue pen", Mode: ModeLTR}); res.Mode != ModeLTR {
		t.Errorf("unscoped ranker: mode %s", res.Mode)
	}
	// without a click model, a scoped ranker ranks nothing
	ix.SetSignals(Signals{})
	ix.SetRanker(r)
	if res := search(t, ix, Request{Query: "red stapler", Mode: ModeLTR}); res.Mode != ModeKeyword {
		t.Errorf("scoped ranker without clicks: mode %s", res.Mode)
	}
}

// In ModeLTR the shopper's affinity lifts an item by at most BoostWeight
// times the spread of the ranker's scores: close calls flip, clear ones
// do not.
func TestLTRPersonalisationIsBounded(t *testing.T) {
	items := []catalog.Item{
		{ID: "a", Title: "blue pen", Available: true},
		{ID: "b", Title: "blue pen fine", Available: true},
		{ID: "c", Title: "blue pen fine point with a very long title indeed", Available: true},
	}
	shortFirst := weighted{names: FeatureNames(), w: map[string]float64{"log_title_len": -1}}
	likesB := func(id string) float64 {
		if id == "b" {
			return 1
		}
		return 0
	}
	for _, c := range []struct {
		weight float64
		boost  func(string) float64
		first  string
	}{
		{0.1, nil, "a"},
		{0.1, likesB, "a"}, // b is too far behind for a lift of 10% of the spread
		{1, likesB, "b"},   // a full-spread lift is
	} {
		cfg := DefaultConfig()
		cfg.BoostWeight = c.weight
		ix := newTestIndex(t, cfg, nil, items)
		if err := ix.SetRanker(shortFirst); err != nil {
			t.Fatal(err)
		}
		res := search(t, ix, Request{Query: "blue pen", Mode: ModeLTR, Boost: c.boost})
		if res.Mode != ModeLTR || res.Items[0].ID != c.first {
			t.Errorf("weight %v, boost %v: first %s in mode %s, want %s", c.weight, c.boost != nil, res.Items[0].ID, res.Mode, c.first)
		}
	}
}

// A shopper's affinity enters learned ranking only as the affinity
// feature (and rerank's bounded lift): the keyword features are those the
// ranker was trained on, where no shopper's boost applies.
func TestLTRKeywordFeaturesIgnoreTheBoost(t *testing.T) {
	ix := newTestIndex(t, DefaultConfig(), nil, fixture())
	ctx := context.Background()
	for _, q := range []string{"running shoes", "shoes", "black marker", "printer"} {
		plain, err := ix.Candidates(ctx, Request{Query: q, N: 20})
		if err != nil {
			t.Fatal(err)
		}
		if len(plain) < 2 {
			t.Fatalf("%q: %d candidates", q, len(plain))
		}
		// the shopper likes the last candidate
		liked := plain[len(plain)-1].ID
		boosted, err := ix.Candidates(ctx, Request{Query: q, N: 20, Boost: func(id string) float64 {
			if id == liked {
				return 1
			}
			return 0
		}})
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string][]float32{}
		for _, c := range plain {
			byID[c.ID] = c.Features
		}
		if len(boosted) != len(plain) {
			t.Fatalf("%q: %d candidates with the boost, %d without", q, len(boosted), len(plain))
		}
		for _, c := range boosted {
			for i, name := range featureNames {
				if i == fAffinity {
					continue
				}
				if want := byID[c.ID]; want == nil || c.Features[i] != want[i] {
					t.Fatalf("%q item %s: %s %v with the boost, %v without", q, c.ID, name, c.Features[i], want)
				}
			}
		}
	}
}
