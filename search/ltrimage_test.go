package search

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/embed/openai"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/imagesearch"
	"github.com/aisle-dev/aisle/internal/fakeembed"
	"github.com/aisle-dev/aisle/search/ltr"
)

// imageCatalogue is a small catalogue of office items in colours the fake
// image embedder knows; every third has no image.
func imageCatalogue() []catalog.Item {
	colours := []string{"red", "blue", "green", "black"}
	nouns := []string{"stapler", "notebook", "pen", "folder", "tape"}
	var items []catalog.Item
	for i := range 60 {
		c, n := colours[i%len(colours)], nouns[(i/len(colours))%len(nouns)]
		it := catalog.Item{
			ID:         fmt.Sprintf("i%02d", i),
			Title:      fmt.Sprintf("%s office %s model %d", c, n, i%7),
			Brand:      []string{"Acme", "Mead", "Bic"}[i%3],
			Categories: []string{"Office/" + n},
			Price:      price(float64(3 + i%11)),
			Available:  true,
		}
		if i%3 != 2 {
			it.ImageURL = fmt.Sprintf("https://img.test/%s-%s-%d.png", c, n, i)
		}
		items = append(items, it)
	}
	return items
}

// imageIndex builds an imagesearch.Index over items through the fake
// OpenAI-compatible image embedder (a real HTTP server).
func imageIndex(t *testing.T, items []catalog.Item) *imagesearch.Index {
	t.Helper()
	srv := fakeembed.Start()
	t.Cleanup(srv.Close)
	client, err := openai.New(openai.Config{URL: srv.Base(), Model: "clip"})
	if err != nil {
		t.Fatal(err)
	}
	im := imagesearch.New(client, nil)
	err = im.Build(context.Background(), func(_ context.Context, cursor string, _ int) ([]catalog.Item, string, error) {
		if cursor != "" {
			return nil, "", nil
		}
		return items, "", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return im
}

var imageQueries = []string{"stapler", "office notebook", "pen", "folder", "tape", "office", "model 3", "red pen", "blue folder", "notebook model 2"}

// candidatesOf returns every query's candidates in the index's current
// setup, with each request's Recent set by recent.
func candidatesOf(t *testing.T, ix *Index, recent func(q string) []string) map[string][]Candidate {
	t.Helper()
	out := map[string][]Candidate{}
	for _, q := range imageQueries {
		cands, err := ix.Candidates(context.Background(), Request{Query: q, Recent: recent(q)})
		if err != nil {
			t.Fatal(err)
		}
		out[q] = cands
	}
	return out
}

func noRecent(string) []string { return nil }

// TestImageFeaturesNeutralWithoutImages proves that ranking without image
// vectors is unchanged by the image features: the vectors are the old ones
// followed by two zeros, a model trained before the features were appended
// is accepted and ranks as before, and a model trained with them on data
// without images scores every candidate exactly as one trained without.
func TestImageFeaturesNeutralWithoutImages(t *testing.T) {
	const old = 32 // features before image_sim was appended
	if featureNames[old] != "image_sim" || featureNames[old+1] != "has_image_sim" || numFeatures != old+2 {
		t.Fatalf("features %v: image_sim and has_image_sim must be appended last", featureNames[old:])
	}
	items := imageCatalogue()
	var bare []catalog.Item // the same catalogue, no images
	for _, it := range items {
		it.ImageURL = ""
		bare = append(bare, it)
	}
	ix := newTestIndex(t, DefaultConfig(), nil, items)
	clicks := NewClicks()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for k, q := range imageQueries {
		s := fmt.Sprintf("s%d", k)
		clicks.Record(events.Event{Type: events.Search, SessionID: s, Query: q, Timestamp: t0})
		clicks.Record(events.Event{Type: events.Click, SessionID: s, ItemID: fmt.Sprintf("i%02d", 4*k), Timestamp: t0.Add(time.Second)})
	}
	ix.SetSignals(Signals{Clicks: clicks})
	recent := func(string) []string { return []string{"i00", "i05", "i13"} }

	base := candidatesOf(t, ix, recent) // no image closeness set
	setups := []struct {
		name   string
		images ImageCloseness
		recent func(string) []string
	}{
		{"image index without vectors", imageIndex(t, bare), recent},
		{"vectors but no anchors", imageIndex(t, items), noRecent},
	}
	for _, s := range setups {
		if s.name == "vectors but no anchors" {
			ix.SetSignals(Signals{}) // no clicked items either
			base = candidatesOf(t, ix, noRecent)
		}
		ix.SetImageCloseness(s.images)
		got := candidatesOf(t, ix, s.recent)
		ix.SetImageCloseness(nil)
		for q, cands := range base {
			if len(got[q]) != len(cands) {
				t.Fatalf("%s: %q has %d candidates, %d without images", s.name, q, len(got[q]), len(cands))
			}
			for i, c := range cands {
				g := got[q][i]
				if g.ID != c.ID || !slices.Equal(g.Features, c.Features) || g.Features[old] != 0 || g.Features[old+1] != 0 {
					t.Fatalf("%s: %q candidate %d: %s %v, without images %s %v", s.name, q, i, g.ID, g.Features[old:], c.ID, c.Features[old:])
				}
			}
		}
	}
	ix.SetSignals(Signals{Clicks: clicks})
	base = candidatesOf(t, ix, recent)

	// training data: labels from the catalogue (a made-up but learnable
	// preference: cheap items of brand Acme), features without images
	var train, valid []ltr.Query
	var trainOld, validOld []ltr.Query
	byID := map[string]catalog.Item{}
	for _, it := range items {
		byID[it.ID] = it
	}
	for k, q := range imageQueries {
		var full, short ltr.Query
		for _, c := range base[q] {
			it := byID[c.ID]
			label := 0.0
			if it.Brand == "Acme" {
				label++
			}
			if *it.Price < 8 {
				label++
			}
			full.Features = append(full.Features, c.Features)
			full.Labels = append(full.Labels, label)
			short.Features = append(short.Features, c.Features[:old])
			short.Labels = append(short.Labels, label)
		}
		if k%4 == 3 {
			valid, validOld = append(valid, full), append(validOld, short)
		} else {
			train, trainOld = append(train, full), append(trainOld, short)
		}
	}
	for _, algo := range []ltr.Algorithm{ltr.AlgorithmLambdaMART, ltr.AlgorithmLinear} {
		p := ltr.DefaultParams(FeatureNames())
		p.Algorithm, p.Trees, p.MinDocsPerLeaf, p.MaxLeaves, p.BaseFeature = algo, 40, 3, 4, LTRBaseFeature
		pOld := p
		pOld.Features = FeatureNames()[:old]
		withImg, err := ltr.Train(context.Background(), train, valid, p)
		if err != nil {
			t.Fatal(err)
		}
		without, err := ltr.Train(context.Background(), trainOld, validOld, pOld)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range imageQueries {
			for _, c := range base[q] {
				if a, b := withImg.Score(c.Features), without.Score(c.Features); a != b {
					t.Fatalf("%s: %q %s scores %v with the image features, %v without", algo, q, c.ID, a, b)
				}
			}
		}
		// the model trained before the features were appended is accepted
		// and ranks as the one trained with them, with or without an image
		// index that has no vectors
		if err := ix.SetRanker(without); err != nil {
			t.Fatalf("%s: a model trained on the features before image_sim: %v", algo, err)
		}
		for _, q := range imageQueries {
			r := search(t, ix, Request{Query: q, Mode: ModeLTR, N: 50, Recent: recent(q)})
			ix.SetImageCloseness(imageIndex(t, bare))
			r2 := search(t, ix, Request{Query: q, Mode: ModeLTR, N: 50, Recent: recent(q)})
			ix.SetImageCloseness(nil)
			if !slices.Equal(ids(r), ids(r2)) {
				t.Fatalf("%s: %q ranks %v, with an image index without vectors %v", algo, q, ids(r), ids(r2))
			}
			if err := ix.SetRanker(withImg); err != nil {
				t.Fatal(err)
			}
			r3 := search(t, ix, Request{Query: q, Mode: ModeLTR, N: 50, Recent: recent(q)})
			if err := ix.SetRanker(without); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(r), ids(r3)) {
				t.Fatalf("%s: %q ranks %v with the model trained without image features, %v with the one trained with them", algo, q, ids(r), ids(r3))
			}
			if len(r.Items) < 2 {
				t.Fatalf("%q: %d results", q, len(r.Items))
			}
		}
		ix.SetRanker(nil)
	}
}

// TestImageFeatureEndToEnd runs the image feature through a real
// imagesearch.Index over the fake image embedder: candidates that look
// like the session's recent items or the query's clicked items get a
// higher image_sim, items without an image have no presence flag, and a
// ranker that weighs the feature puts the look-alike first.
func TestImageFeatureEndToEnd(t *testing.T) {
	items := imageCatalogue()
	ix := newTestIndex(t, DefaultConfig(), nil, items)
	ix.SetImageCloseness(imageIndex(t, items))
	byID := map[string]catalog.Item{}
	for _, it := range items {
		byID[it.ID] = it
	}
	colour := func(id string) string { return strings.Fields(byID[id].Title)[0] }

	check := func(name string, cands []Candidate, anchorColour string, anchors []string) {
		t.Helper()
		n := 0
		for _, c := range cands {
			sim, has := feature(t, c, "image_sim"), feature(t, c, "has_image_sim")
			switch {
			case byID[c.ID].ImageURL == "" || (len(anchors) == 1 && c.ID == anchors[0]):
				if has != 0 || sim != 0 {
					t.Errorf("%s: %s (no image, or the only anchor) has image_sim %g, flag %g", name, c.ID, sim, has)
				}
			case colour(c.ID) == anchorColour:
				n++
				if has != 1 || sim < 0.5 {
					t.Errorf("%s: %s looks like the anchor, image_sim %g, flag %g", name, c.ID, sim, has)
				}
			default:
				if has != 1 || sim != 0 {
					t.Errorf("%s: %s looks unlike the anchor, image_sim %g, flag %g", name, c.ID, sim, has)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no candidate in the anchor's colour among %d", name, len(cands))
		}
	}
	// the session's recent item: i01, a blue stapler with an image
	cands, err := ix.Candidates(context.Background(), Request{Query: "office", N: 60, Recent: []string{"i01"}})
	if err != nil {
		t.Fatal(err)
	}
	check("recent", cands, "blue", []string{"i01"})

	// the query's clicked items: shoppers searching "office" bought i06, green
	clicks := NewClicks()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clicks.Record(events.Event{Type: events.Search, SessionID: "s", Query: "office", Timestamp: t0})
	clicks.Record(events.Event{Type: events.Purchase, SessionID: "s", ItemID: "i06", Timestamp: t0.Add(time.Minute)})
	ix.SetSignals(Signals{Clicks: clicks})
	cands, err = ix.Candidates(context.Background(), Request{Query: "office", N: 60})
	if err != nil {
		t.Fatal(err)
	}
	check("clicked", cands, "green", []string{"i06"})
	ix.SetSignals(Signals{})

	// a ranker weighing image_sim: the blue items first after a blue
	// stapler, the red ones after a red stapler
	if err := ix.SetRanker(weighted{names: FeatureNames(), w: map[string]float64{"image_sim": 10, "keyword_score_rel": 1}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ recent, colour string }{{"i01", "blue"}, {"i04", "red"}} {
		r := search(t, ix, Request{Query: "office", Mode: ModeLTR, N: 5, Recent: []string{tc.recent}})
		if len(r.Items) == 0 {
			t.Fatal("no results")
		}
		for _, h := range r.Items {
			if colour(h.ID) != tc.colour {
				t.Errorf("after %s (%s) the first results are %v: %s is not %s", tc.recent, tc.colour, ids(r), h.ID, tc.colour)
			}
		}
	}
}
