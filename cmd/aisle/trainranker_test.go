package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/search/ranking"
	"github.com/aisle-dev/aisle/store"
)

// `aisle train` loads the recommendation models next to the search
// ranker: a stored search-ltr version must stay the ranker's business.
// Here version 1 is a candidate that never passed its check (the process
// stopped before promotion) and no version serves; training must not
// promote it to serving as if it were a recommendation model.
func TestTrainSearchRankerLeavesItsVersionsAlone(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.Data = t.TempDir()
	eng, st, err := openEngine(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	meta := store.ModelMeta{Name: ranking.DefaultName, Status: store.StatusCandidate, CreatedAt: time.Now().UTC()}
	if _, err := st.SaveModel(ctx, meta, []byte("not checked")); err != nil {
		t.Fatal(err)
	}
	res, err := trainSearchRanker(ctx, cfg, eng)
	if err != nil || res.Trained {
		t.Fatalf("train on an empty log: %+v %v", res, err)
	}
	metas, err := st.ListModels(ctx, ranking.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	if len(metas) != 1 || metas[0].Status != store.StatusCandidate {
		t.Fatalf("stored search ranker versions after aisle train: %+v", metas)
	}
}

// With search.learn_ranking off, `aisle train` has no search ranker to
// train and must not build the search index: that would embed the whole
// catalogue with the configured embedder (a paid endpoint, here one that
// counts its calls).
func TestTrainSearchRankerOffEmbedsNothing(t *testing.T) {
	ctx := context.Background()
	var calls atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	}))
	defer hs.Close()
	off := false
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.Search.LearnRanking = &off
	cfg.Search.Embedder, cfg.Search.EmbedderURL, cfg.Search.EmbedderModel = "openai", hs.URL, "m"
	eng, st, err := openEngine(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	res, err := trainSearchRanker(ctx, cfg, eng)
	if err != nil || res.Model != "" {
		t.Fatalf("train with learn_ranking off: %+v %v", res, err)
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("the embedder was called %d times", n)
	}
}

// An item whose text the embedder rejects (while it embeds the others)
// stays keyword-only, as in the server: `aisle train` still trains the
// search ranker instead of failing.
func TestTrainSearchRankerWithAnItemTheEmbedderRejects(t *testing.T) {
	ctx := context.Background()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Input []string }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		type datum struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		}
		var out struct {
			Data []datum `json:"data"`
		}
		for i, s := range req.Input {
			if strings.Contains(s, "poison") {
				http.Error(w, `{"error":{"message":"input rejected"}}`, http.StatusBadRequest)
				return
			}
			out.Data = append(out.Data, datum{i, []float32{1, float32(len(s)), 0.5, float32(i)}})
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	defer hs.Close()
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.Search.Embedder, cfg.Search.EmbedderURL, cfg.Search.EmbedderModel, cfg.Search.EmbedderDim = "openai", hs.URL, "m", 4
	eng, st, err := openEngine(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	items := make([]catalog.Item, 20)
	for i := range items {
		items[i] = catalog.Item{ID: fmt.Sprint("i", i), Title: fmt.Sprintf("product %d blue widget", i), Available: true}
	}
	items[7].Title = "poison pen"
	if err := eng.AddItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	res, err := trainSearchRanker(ctx, cfg, eng)
	if err != nil {
		t.Fatalf("train: %v", err)
	}
	if res.Model != ranking.DefaultName || res.Trained {
		t.Fatalf("train on a log without searches: %+v", res)
	}
}
