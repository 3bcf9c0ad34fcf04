package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

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
