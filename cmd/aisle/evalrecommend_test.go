package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestEvalRecommendCommand(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("user,item,timestamp,value\n")
	for u := 0; u < 40; u++ {
		for i := 0; i < 8; i++ {
			fmt.Fprintf(&b, "u%d,i%d,%d,%d\n", u, (u%4)*5+i*(i%3), i, 1+(u+i)%5)
		}
	}
	path := filepath.Join(dir, "events.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(aisleBin(t), "eval", "recommend", "--format", "interactions", "--path", path, "--model", "popular,linear", "--k", "5,10", "--json", "-")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("eval recommend: %v\n%s", err, stderr.String())
	}
	var rep struct {
		Format  string `json:"format"`
		Path    string `json:"path"`
		Results []struct {
			Model        string             `json:"model"`
			Metrics      map[string]float64 `json:"metrics"`
			TrainSeconds float64            `json:"train_seconds"`
			Params       map[string]float64 `json:"params"`
		} `json:"results"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout.String())
	}
	if rep.Format != "interactions" || rep.Path != path || len(rep.Results) != 2 || rep.Results[1].Model != "linear" {
		t.Fatalf("report = %+v", rep)
	}
	for _, k := range []string{"NDCG@5", "Recall@10", "Precision@5", "MAP@10", "HR@10", "AUC"} {
		if _, ok := rep.Results[0].Metrics[k]; !ok {
			t.Errorf("metric %s missing: %v", k, rep.Results[0].Metrics)
		}
	}
	// With --json - the table goes to stderr.
	for _, want := range []string{"model", "NDCG@5", "train s", "peak MB", "popular", "linear"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, stderr.String())
		}
	}

	out, err := exec.Command(aisleBin(t), "eval", "recommend", "--format", "movielens-100k", "--path", dir).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no u.data in") {
		t.Errorf("wrong folder: %v\n%s", err, out)
	}
	out, err = exec.Command(aisleBin(t), "eval", "recommend", "--format", "nope", "--path", path).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "unknown format") {
		t.Errorf("unknown format: %v\n%s", err, out)
	}
	out, err = exec.Command(aisleBin(t), "eval", "recommend", "--format", "interactions", "--path", path, "--model", "linear", "--param", "linear.epochs").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "model.name=value") {
		t.Errorf("bad --param: %v\n%s", err, out)
	}
}
