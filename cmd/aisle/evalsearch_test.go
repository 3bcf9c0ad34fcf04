package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestEvalSearchQrels(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", dir) // the default vector cache goes there, not into $HOME
	items := `{"id":"1","title":"red running shoes","brand":"Acme"}
{"id":"2","title":"blue running shoes"}
{"id":"3","title":"printer ink cartridge"}
{"id":"4","title":"printer paper"}
`
	qrels := "red shoes\t1\t1\nred shoes\t2\t0.1\nprinter ink\t3\t1\n"
	cat, qr := filepath.Join(dir, "items.jsonl"), filepath.Join(dir, "qrels.tsv")
	if err := os.WriteFile(cat, []byte(items), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(qr, []byte(qrels), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"keyword", "hybrid"} {
		root := newRootCmd()
		var out, errb bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&errb)
		root.SetArgs([]string{"eval", "search", "--format", "qrels", "--catalog", cat, "--qrels", qr, "--mode", mode, "--embedder", "hash", "--json", "-"})
		if err := root.Execute(); err != nil {
			t.Fatalf("%s: %v (%s)", mode, err, errb.String())
		}
		var rep struct {
			Format  string                        `json:"format"`
			Mode    string                        `json:"mode"`
			Queries map[string]int                `json:"queries"`
			Metrics map[string]map[string]float64 `json:"metrics"`
			Latency map[string]float64            `json:"latency_ms"`
		}
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("%s: %v in %s", mode, err, out.String())
		}
		if rep.Format != "qrels" || rep.Mode != mode || rep.Queries["all"] != 2 || rep.Metrics["all"]["nDCG@10"] < 0.99 {
			t.Errorf("%s: report %+v", mode, rep)
		}
		if _, ok := rep.Latency["p99"]; !ok {
			t.Errorf("%s: no p99 latency", mode)
		}
	}
	// learning to rank without a split: cross-validation by query
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	model := filepath.Join(dir, "model.ltr")
	root.SetArgs([]string{"eval", "search", "--format", "qrels", "--catalog", cat, "--qrels", qr, "--mode", "ltr", "--folds", "2", "--ltr-save", model, "--json", "-"})
	if err := root.Execute(); err != nil {
		t.Fatalf("ltr: %v (%s)", err, errb.String())
	}
	var rep struct {
		Mode    string                        `json:"mode"`
		Queries map[string]int                `json:"queries"`
		Metrics map[string]map[string]float64 `json:"metrics"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("ltr: %v in %s", err, out.String())
	}
	if rep.Mode != "ltr" || rep.Queries["all"] != 2 || len(rep.Metrics) != 1 || rep.Metrics["all"]["nDCG@10"] <= 0 {
		t.Errorf("ltr report %+v", rep)
	}
	if _, err := os.Stat(model); err != nil {
		t.Errorf("--ltr-save: %v", err)
	}
	root = newRootCmd()
	root.SetArgs([]string{"eval", "search", "--format", "esci"})
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	if err := root.Execute(); err == nil {
		t.Error("esci without --path: no error")
	}
}

// `aisle eval search` measures the shop's search settings: the config file's
// search section and AISLE_SEARCH_* variables apply, and flags override them.
func TestEvalSearchReadsTheConfig(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", dir)
	t.Setenv("AISLE_CONFIG", "")
	items := `{"id":"1","title":"white sneaker"}
{"id":"2","title":"printer paper"}
`
	cat, qr, conf := filepath.Join(dir, "items.jsonl"), filepath.Join(dir, "qrels.tsv"), filepath.Join(dir, "aisle.yaml")
	for name, body := range map[string]string{
		cat:  items,
		qr:   "trainer\t1\t1\n",
		conf: "search:\n  synonyms: [[sneaker, trainer]]\n",
	} {
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(env map[string]string, args ...string) (mode string, ndcg float64) {
		t.Helper()
		for k, v := range env {
			t.Setenv(k, v)
		}
		root := newRootCmd()
		var out, errb bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&errb)
		root.SetArgs(append([]string{"eval", "search", "--format", "qrels", "--catalog", cat, "--qrels", qr, "--json", "-"}, args...))
		if err := root.Execute(); err != nil {
			t.Fatalf("%v: %v (%s)", args, err, errb.String())
		}
		var rep struct {
			Mode    string                        `json:"mode"`
			Metrics map[string]map[string]float64 `json:"metrics"`
		}
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("%v: %v in %s", args, err, out.String())
		}
		for k := range env {
			t.Setenv(k, "")
		}
		return rep.Mode, rep.Metrics["all"]["nDCG@10"]
	}
	if _, ndcg := run(nil); ndcg != 0 {
		t.Errorf("without the config: nDCG@10 %v, want 0 (no synonym)", ndcg)
	}
	if _, ndcg := run(nil, "--config", conf); ndcg < 0.99 {
		t.Errorf("with the config's synonyms: nDCG@10 %v, want 1", ndcg)
	}
	if _, ndcg := run(map[string]string{"AISLE_CONFIG": conf}); ndcg < 0.99 {
		t.Errorf("with AISLE_CONFIG: nDCG@10 %v, want 1", ndcg)
	}
	env := map[string]string{"AISLE_SEARCH_MODE": "hybrid", "AISLE_SEARCH_EMBEDDER": "hash"}
	if mode, _ := run(env); mode != "hybrid" {
		t.Errorf("AISLE_SEARCH_MODE=hybrid: mode %q", mode)
	}
	if mode, _ := run(env, "--mode", "keyword"); mode != "keyword" {
		t.Errorf("--mode keyword over AISLE_SEARCH_MODE=hybrid: mode %q", mode)
	}
}
