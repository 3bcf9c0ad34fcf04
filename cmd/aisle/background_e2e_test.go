package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The demo server is ready with the fast models, then trains the sequence
// model in the background within its budget, answering requests all the
// while, and lists it with its served-path validation; it is primary
// exactly when it validates best.
func TestBackgroundSequenceModelServes(t *testing.T) {
	t.Parallel() // its own demo server: see "Parallel tests" in e2e_test.go
	if testing.Short() {
		t.Skip("trains the sequence model on the demo (about a minute): skipped with -short")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "aisle.yaml")
	const budget = 15 * time.Second
	conf := `training:
  models:
    - name: popular
    - name: itemknn
  background_budget: 15s
  tune_every: 0s
`
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// the default shop alone: the gift shop's import and training would
	// compete for the cores this test waits on
	s := startCmd(t, "demo", "--gift-shop=false", "--addr", "127.0.0.1:0", "--data", filepath.Join(dir, "data"), "--config", cfg, "--admin-key", "test-admin", "--embedder", "none")
	listed := func(body map[string]any) map[string]any {
		for _, m := range body["models"].([]any) {
			if mm := m.(map[string]any); mm["name"] == "sasrec" {
				return mm
			}
		}
		return nil
	}
	// ready before the sequence model exists
	if _, body := s.do("GET", "/api/models", ""); listed(body) != nil {
		t.Fatalf("sasrec listed when the server became ready: %v", body)
	}
	deadline := time.Now().Add(4 * time.Minute)
	var body map[string]any
	requests := 0
	for {
		// requests are answered while it trains
		if code, b := s.do("GET", "/api/recommend/u7?n=5", ""); code != 200 {
			t.Fatalf("recommend during background training: %d %v", code, b)
		}
		requests++
		_, body = s.do("GET", "/api/models", "")
		if listed(body) != nil && body["training"].(map[string]any)["running"] == false {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sasrec was not trained in the background: %v\nlogs:\n%s", body, s.logs)
		}
		time.Sleep(250 * time.Millisecond)
	}
	sas := listed(body)
	met, _ := sas["metrics"].(map[string]any)
	if met["served_validation"] != 1.0 || met["NDCG@10"] == nil || sas["serving"] != true {
		t.Fatalf("sasrec listed as %v", sas)
	}
	if secs := sas["train_seconds"].(float64); secs > budget.Seconds()+60 {
		t.Fatalf("sasrec took %.0fs with a budget of %s", secs, budget)
	}
	best, bestName := -1.0, ""
	for _, m := range body["models"].([]any) {
		mm := m.(map[string]any)
		mt, _ := mm["metrics"].(map[string]any)
		if v, ok := mt["NDCG@10"].(float64); ok && mm["serving"] == true && (v > best || (v == best && mm["name"].(string) < bestName)) {
			best, bestName = v, mm["name"].(string)
		}
	}
	if (sas["primary"] == true) != (bestName == "sasrec") {
		t.Fatalf("sasrec primary=%v, best by validation %s (%.4f): %v", sas["primary"], bestName, best, body["models"])
	}
	var bg map[string]any
	for _, r := range body["training"].(map[string]any)["last_results"].([]any) {
		// the background phase reports the sequence model, then the blend
		// of it with the primary (kept only when it validates better)
		if rr := r.(map[string]any); rr["phase"] == "background" && rr["model"] == "sasrec" {
			bg = rr
		}
	}
	seq, _ := bg["sequence"].(map[string]any)
	if bg == nil || bg["model"] != "sasrec" || seq == nil || seq["order_signal"].(float64) < 0.515 {
		t.Fatalf("background result %v", bg)
	}
	t.Logf("sasrec NDCG@10 %.4f (primary %v; best %s %.4f) after %d requests answered while training", met["NDCG@10"], sas["primary"], bestName, best, requests)
}
