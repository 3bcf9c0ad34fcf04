package main

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/internal/testdata"
)

// TestServedMatchesOffline loads MovieLens-100k fold u1 into a real server
// through HTTP as a shop would (items, then every rating as a purchase
// with its timestamp), retrains with default settings (but no background
// model: see below), asks for every test user's top 20 and checks that
// what the server answers is as good as what the primary model measures
// offline on the same split, that no already-rated item comes back and
// that every answer was model-ranked.
func TestServedMatchesOffline(t *testing.T) {
	t.Parallel() // its own server: see "Parallel tests" in e2e_test.go
	if testing.Short() {
		t.Skip("loads and trains a data set through a real server (about a minute): skipped with -short")
	}
	path := testdata.Path(t, "movielens-100k")
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute) // a safety net, not a timing check: a loaded machine takes minutes
	defer cancel()
	// Default settings but for the background sequence model: on u1 it
	// trains for its whole 3-minute budget after the retrain (measured
	// 188 s) and the evaluation waits for it, yet it validates far below
	// the fast models (NDCG@10 0.09 against itemfilter's 0.25) and never
	// becomes the primary this test compares; TestBackgroundSequenceModelServes
	// covers background training and its primary choice.
	cfg := filepath.Join(t.TempDir(), "aisle.yaml")
	if err := os.WriteFile(cfg, []byte("training:\n  background_budget: 0s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	rep, err := runServedEval(ctx, servedOptions{Format: "movielens-100k", Path: path, Fold: "u1", Offline: true, Binary: aisleBin(t), Log: &logs, Config: cfg})
	if err != nil {
		t.Fatalf("served evaluation: %v\n%s", err, logs.String())
	}
	if rep.Users < 400 || rep.Primary == "" {
		t.Fatalf("%d users answered, primary %q", rep.Users, rep.Primary)
	}
	if rep.SeenReturned != 0 {
		t.Errorf("%d already-rated items returned", rep.SeenReturned)
	}
	if rep.NotModel != 0 {
		t.Errorf("%d answers hold fallbacks instead of model-ranked items", rep.NotModel)
	}
	served, offline := rep.Served["NDCG@10"], rep.Offline["NDCG@10"]
	t.Logf("primary %s: served NDCG@10 %.4f, offline %.4f", rep.Primary, served, offline)
	// The offline number of every default model on u1 is above 0.5; the
	// served one must match the primary's within a small tolerance (the
	// server fits iALS with its own random start).
	if offline < 0.5 || math.Abs(served-offline) > 0.015 {
		t.Errorf("served NDCG@10 %.4f, offline %.4f for %s: they should match within 0.015", served, offline, rep.Primary)
	}
}
