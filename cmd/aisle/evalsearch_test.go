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
