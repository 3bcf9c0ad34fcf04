package wire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/search"
)

// TestReadCatalogueAsTwoScans: a start's single read of the catalogue
// gives the recommender every stored item as the store's own scan does,
// and the search index it builds from the same read answers every query
// as an index that scanned the store itself (IndexCatalogue, the load
// path before decision 0068); a failed read fails the indexing too.
func TestReadCatalogueAsTwoScans(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.Search.Embedder = "hash"
	cfg.Search.Mode = "hybrid"
	learn := false
	cfg.Search.LearnRanking = &learn
	log := slog.New(slog.DiscardHandler)
	eng, st, err := OpenEngine(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := 2*catalogueBatch + 300 // three batches
	items := make([]catalog.Item, n)
	for i := range items {
		price := float64(i%50) + 0.5
		items[i] = catalog.Item{ID: fmt.Sprintf("p%05d", i), Title: fmt.Sprintf("%s widget \"%d\" <b>&co</b>", []string{"blue", "red", "green"}[i%3], i),
			Brand: []string{"Acme", "Zed"}[i%2], Categories: []string{fmt.Sprintf("Home/c%d", i%7)}, Price: &price,
			Attributes: map[string]any{"size": float64(i % 5), "colour": "x\u00e9"}, Available: i%97 != 0}
	}
	if err := eng.AddItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	var want []catalog.Item
	if err := st.ScanItems(ctx, func(it catalog.Item) error { want = append(want, it); return nil }); err != nil {
		t.Fatal(err)
	}

	ix, _, err := NewSearchIndex(ctx, cfg, log, st)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	got, indexed, err := ReadCatalogue(ctx, ix, eng)
	if err != nil {
		t.Fatal(err)
	}
	if err := indexed(); err != nil {
		t.Fatal(err)
	}
	if len(got) != n || !reflect.DeepEqual(got, want) {
		t.Fatalf("read %d items, the store's scan %d: not the same", len(got), len(want))
	}

	noDir := cfg
	noDir.Data = "" // no saved keyword index: analysed from the scan
	ref, _, err := NewSearchIndex(ctx, noDir, log, st)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if err := IndexCatalogue(ctx, ref, eng); err != nil {
		t.Fatal(err)
	}
	if err := ix.WaitVectors(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ref.WaitVectors(ctx); err != nil {
		t.Fatal(err)
	}
	answers := func(x *search.Index) string {
		var out []any
		for _, q := range []string{"", "blue widget", "red", "acme", "co", "widget 1234", "green 7"} {
			for _, mode := range []search.Mode{search.ModeKeyword, search.ModeSemantic, search.ModeHybrid} {
				res, err := x.Search(ctx, search.Request{Query: q, Mode: mode, N: 20, Facets: []string{"category", "brand", "price"}})
				if err != nil {
					t.Fatal(err)
				}
				res.TookMS = 0
				out = append(out, res)
			}
		}
		b, err := json.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if a, b := answers(ix), answers(ref); a != b {
		t.Fatal("the index built from the single read answers differently from one that scanned the store")
	}

	// a read that fails: the error, and the indexing ends with it
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	ix2, _, err := NewSearchIndex(ctx, noDir, log, st)
	if err != nil {
		t.Fatal(err)
	}
	defer ix2.Close()
	if _, indexed, err := ReadCatalogue(cancelled, ix2, eng); !errors.Is(err, context.Canceled) || !errors.Is(indexed(), context.Canceled) {
		t.Fatalf("a cancelled read: %v, indexing %v; want both cancelled", err, indexed())
	}
}
