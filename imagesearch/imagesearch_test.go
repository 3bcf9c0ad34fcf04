package imagesearch

import (
	"context"
	"errors"
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
