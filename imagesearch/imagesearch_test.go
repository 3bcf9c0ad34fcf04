package imagesearch

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/embed"
	"github.com/aisle-dev/aisle/embed/openai"
	"github.com/aisle-dev/aisle/internal/fakeembed"
)

func lister(items []catalog.Item) ItemLister {
	return func(_ context.Context, cursor string, limit int) ([]catalog.Item, string, error) {
		if cursor != "" {
			return nil, "", nil
		}
		return items, "", nil
	}
}

func TestSearchByImage(t *testing.T) {
	srv := fakeembed.Start()
	defer srv.Close()
	client, err := openai.New(openai.Config{URL: srv.Base(), Model: "clip"})
	if err != nil {
		t.Fatal(err)
	}
	ix := New(embed.NewCache(client, 100), nil)
	items := []catalog.Item{
		{ID: "r1", Title: "red stapler", ImageURL: "https://img.test/red-stapler.png"},
		{ID: "b1", Title: "blue pen", ImageURL: "https://img.test/blue-pen.png"},
		{ID: "g1", Title: "green folder", ImageURL: "https://img.test/green-folder.png"},
		{ID: "n1", Title: "no picture"},
	}
	if _, err := ix.Search(context.Background(), "https://img.test/red.png", 3); !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("before the build: %v", err)
	}
	ix.ItemsUpserted([]catalog.Item{{ID: "r2", Title: "red and black tape", ImageURL: "https://img.test/red-black-tape.png"}}) // during the build
	if err := ix.Build(context.Background(), lister(items)); err != nil {
		t.Fatal(err)
	}
	if ix.Len() != 4 {
		t.Fatalf("%d image vectors, want 4 (the item without an image has none)", ix.Len())
	}
	hits, err := ix.Search(context.Background(), DataURI("image/png", []byte("a photo of something blue")), 2)
	if err != nil || len(hits) != 2 || hits[0].ID != "b1" {
		t.Fatalf("uploaded blue image: %+v %v", hits, err)
	}
	sim, err := ix.Similar("r1", 1)
	if err != nil || len(sim) != 1 || sim[0].ID != "r2" {
		t.Fatalf("visually similar to the red stapler: %+v %v", sim, err)
	}
	if _, err := ix.Similar("n1", 1); !errors.Is(err, ErrNoImage) {
		t.Fatalf("item without image: %v", err)
	}
	ix.ItemsDeleted([]string{"r2"})
	if sim, _ := ix.Similar("r1", 1); len(sim) == 1 && sim[0].ID == "r2" {
		t.Fatal("a deleted item is still found")
	}
	calls := srv.Calls.Load()
	ix.Search(context.Background(), "https://img.test/blue-pen.png", 1) // cached: the item's own image
	if srv.Calls.Load() != calls {
		t.Error("an image embedded before was embedded again (the cache)")
	}
}

// VisualNeighbours scores the neighbours of an image by how much closer
// they are than the image's mean cosine to the others: an identical image
// 1, one no closer than average left out; nothing before the build or for
// an item without a vector.
func TestVisualNeighbours(t *testing.T) {
	srv := fakeembed.Start()
	defer srv.Close()
	client, err := openai.New(openai.Config{URL: srv.Base(), Model: "clip"})
	if err != nil {
		t.Fatal(err)
	}
	ix := New(embed.NewCache(client, 100), nil)
	if got := ix.VisualNeighbours("r1", 5); got != nil {
		t.Fatalf("before the build: %v", got)
	}
	items := []catalog.Item{
		{ID: "r1", ImageURL: "https://img.test/red-stapler.png"},
		{ID: "r2", ImageURL: "https://img.test/red-mug.png"},
		{ID: "rb", ImageURL: "https://img.test/red-black-tape.png"},
		{ID: "b1", ImageURL: "https://img.test/blue-pen.png"},
		{ID: "g1", ImageURL: "https://img.test/green-folder.png"},
		{ID: "none"},
	}
	if err := ix.Build(context.Background(), lister(items)); err != nil {
		t.Fatal(err)
	}
	got := ix.VisualNeighbours("r1", 10)
	if got["r2"] < 0.999 || got["r2"] > 1 {
		t.Errorf("the identical image scores %v, want 1", got["r2"])
	}
	if v := got["rb"]; v <= 0 || v >= got["r2"] {
		t.Errorf("the half-alike image scores %v, want between 0 and 1", v)
	}
	for _, id := range []string{"b1", "g1", "r1", "none"} {
		if _, ok := got[id]; ok {
			t.Errorf("%s is among the neighbours: %v", id, got)
		}
	}
	if n := ix.VisualNeighbours("r1", 1); len(n) != 1 {
		t.Errorf("n=1 gives %v", n)
	}
	if n := ix.VisualNeighbours("none", 5); n != nil {
		t.Errorf("an item without an image vector has neighbours %v", n)
	}
}

// TestImageCloseness checks the search-ranker image feature against the
// definition computed by a scan, also after items change (the kept sum of
// vectors must follow replacements and deletions).
func TestImageCloseness(t *testing.T) {
	srv := fakeembed.Start()
	defer srv.Close()
	client, err := openai.New(openai.Config{URL: srv.Base(), Model: "clip"})
	if err != nil {
		t.Fatal(err)
	}
	ix := New(client, nil)
	items := []catalog.Item{
		{ID: "r1", ImageURL: "https://img.test/red-stapler.png"},
		{ID: "r2", ImageURL: "https://img.test/red-black-tape.png"},
		{ID: "b1", ImageURL: "https://img.test/blue-pen.png"},
		{ID: "g1", ImageURL: "https://img.test/green-folder.png"},
		{ID: "k1", ImageURL: "https://img.test/black-clip.png"},
		{ID: "n1"},
	}
	if c, ok := ix.ImageCloseness([]string{"r1"}, []string{"r2"}); c != nil || ok != nil {
		t.Errorf("before the build: %v %v, want nothing", c, ok)
	}
	if err := ix.Build(context.Background(), lister(items)); err != nil {
		t.Fatal(err)
	}
	// want computes the feature by its definition, scanning every image
	want := func(anchors []string, id string) (float64, bool) {
		e, ok := ix.items[id]
		if !ok {
			return 0, false
		}
		best, any := 0.0, false
		for _, a := range anchors {
			ae, ok := ix.items[a]
			if !ok || a == id {
				continue
			}
			var sum float64
			for o, oe := range ix.items {
				if o != a {
					sum += float64(embed.Dot(ae.vec, oe.vec))
				}
			}
			m := sum / float64(len(ix.items)-1)
			any = true
			best = max(best, (float64(embed.Dot(ae.vec, e.vec))-m)/(1-m))
		}
		return min(best, 1), any
	}
	ids := []string{"r1", "r2", "b1", "g1", "k1", "n1", "unknown"}
	check := func(step string, anchors []string) {
		t.Helper()
		got, ok := ix.ImageCloseness(anchors, ids)
		for i, id := range ids {
			w, wok := want(anchors, id)
			var g float64
			var gok bool
			if got != nil {
				g, gok = float64(got[i]), ok[i]
			}
			if gok != wok || g < w-1e-5 || g > w+1e-5 {
				t.Errorf("%s: anchors %v, %s: got %.5f %v, want %.5f %v", step, anchors, id, g, gok, w, wok)
			}
		}
	}
	for _, anchors := range [][]string{{"r1"}, {"b1", "k1"}, {"n1"}, {"r1", "r1"}, nil, {"unknown", "g1"}} {
		check("built", anchors)
	}
	if c, _ := ix.ImageCloseness([]string{"r1"}, []string{"r2", "b1"}); !(c[0] > 0.3 && c[1] == 0) {
		t.Errorf("red tape to the red stapler %.3f (want well above 0), blue pen %.3f (want 0)", c[0], c[1])
	}
	if c, ok := ix.ImageCloseness([]string{"n1"}, ids); c != nil || ok != nil {
		t.Errorf("an anchor without an image gives %v %v, want nothing", c, ok)
	}
	ix.add(context.Background(), []catalog.Item{{ID: "b1", ImageURL: "https://img.test/red-blue-pen.png"}}) // replaced
	check("replaced", []string{"r1", "g1"})
	ix.ItemsDeleted([]string{"r2", "k1"})
	check("deleted", []string{"r1", "b1"})
	ix.add(context.Background(), []catalog.Item{{ID: "g1"}}) // lost its image
	check("image removed", []string{"r1", "b1", "g1"})
}

// BenchmarkImageCloseness is the per-search cost of the search ranker's
// image feature: 10 anchors against 200 candidates, 512-dimensional
// vectors, in a 20k-item index (vectors from embed.Hashing of the URLs:
// the cost does not depend on what the vectors mean).
func BenchmarkImageCloseness(b *testing.B) {
	ix := New(embed.NewHashing(512), nil)
	items := make([]catalog.Item, 20000)
	for i := range items {
		items[i] = catalog.Item{ID: fmt.Sprintf("i%d", i), ImageURL: fmt.Sprintf("https://img.test/%d-%d.png", i, i%97)}
	}
	if err := ix.Build(context.Background(), lister(items)); err != nil {
		b.Fatal(err)
	}
	anchors, ids := make([]string, 10), make([]string, 200)
	for i := range anchors {
		anchors[i] = items[i*1000].ID
	}
	for i := range ids {
		ids[i] = items[i*97].ID
	}
	b.ResetTimer()
	for b.Loop() {
		if c, _ := ix.ImageCloseness(anchors, ids); len(c) != len(ids) {
			b.Fatal("no closeness")
		}
	}
}
