package wire

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/search"
)

// TestServeKeepsItemVectors checks the server's wiring: item vectors are
// stored in the data directory, and a restart attaches them while loading
// the catalogue instead of embedding again.
func TestServeKeepsItemVectors(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.Search.Embedder = "hash"
	cfg.Search.Mode = "hybrid"
	learn := false
	cfg.Search.LearnRanking = &learn
	log := slog.New(slog.DiscardHandler)
	items := make([]catalog.Item, 50)
	for i := range items {
		items[i] = catalog.Item{ID: fmt.Sprint("i", i), Title: fmt.Sprintf("product %d blue widget", i), Available: true}
	}
	start := func() (*search.Index, *engine.Engine, func()) {
		eng, st, err := OpenEngine(cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		ix, mode, err := NewSearchIndex(ctx, cfg, log, st)
		if err != nil {
			t.Fatal(err)
		}
		if mode != search.ModeHybrid {
			t.Fatalf("mode %s", mode)
		}
		if err := LoadSearch(ctx, ix, search.NewClicks(), eng); err != nil {
			t.Fatal(err)
		}
		return ix, eng, func() { ix.Close(); st.Close() }
	}

	ix, eng, stop := start()
	if s := ix.VectorStats(); s.WithVector+s.Pending != 0 {
		t.Fatalf("empty catalogue: %+v", s)
	}
	if err := eng.AddItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	if err := ix.WaitVectors(ctx); err != nil {
		t.Fatal(err)
	}
	if s := ix.VectorStats(); s.WithVector != len(items) {
		t.Fatalf("after ingest: %+v", s)
	}
	if err := eng.DeleteItem(ctx, "i0"); err != nil {
		t.Fatal(err)
	}
	stop()

	ix, _, stop = start()
	defer stop()
	// right after loading, before any background work could finish
	if s := ix.VectorStats(); s.WithVector != len(items)-1 || s.Pending != 0 {
		t.Errorf("after restart: %+v, want %d vectors and nothing to embed", s, len(items)-1)
	}
}

func TestSearchFusionConfig(t *testing.T) {
	ex, err := config.Load(filepath.Join("..", "..", "docs", "aisle.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	half, bad := 0.5, 2.0
	tests := []struct {
		name    string
		fusion  config.SearchFusion
		want    search.Fusion
		wantErr bool
	}{
		{"documented example is the default", ex.Search.Fusion, search.DefaultConfig().Fusion, false},
		{"absent keys keep the defaults", config.SearchFusion{}, search.DefaultConfig().Fusion, false},
		{"overrides", config.SearchFusion{Method: "rrf", Alpha: &half, RRFK: 10, Depth: 50},
			func() search.Fusion {
				f := search.DefaultConfig().Fusion
				f.Method, f.Alpha, f.RRFK, f.Depth = "rrf", 0.5, 10, 50
				return f
			}(), false},
		{"norm and gate", config.SearchFusion{Method: "rerank", Norm: "zscore", Gate: &half},
			func() search.Fusion {
				f := search.DefaultConfig().Fusion
				f.Method, f.Norm, f.Gate = "rerank", "zscore", 0.5
				return f
			}(), false},
		{"out of range", config.SearchFusion{Gate: &bad}, search.Fusion{}, true},
		{"unknown norm", config.SearchFusion{Norm: "log"}, search.Fusion{}, true},
		{"unknown method", config.SearchFusion{Method: "sum"}, search.Fusion{}, true},
	}
	for _, tc := range tests {
		got, err := SearchConfig(config.Search{Fusion: tc.fusion})
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: error %v", tc.name, err)
			continue
		}
		if !tc.wantErr && got.Fusion != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got.Fusion, tc.want)
		}
	}
}
