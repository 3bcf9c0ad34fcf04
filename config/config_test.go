package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExampleConfigLoads(t *testing.T) {
	c, err := Load(filepath.Join("..", "docs", "aisle.example.yaml"))
	if err != nil {
		t.Fatalf("the documented example does not load: %v", err)
	}
	d := Default()
	if c.Server.Addr != d.Server.Addr || c.Events.Weights["purchase"] != 8 || c.Recommend.TimeHalfLife != 168*time.Hour || *c.Training.DedupWindow != 5*time.Second ||
		c.Training.BackgroundBudget != d.Training.BackgroundBudget || c.Training.TuneEvery != d.Training.TuneEvery || c.Training.TuneBudget != d.Training.TuneBudget {
		t.Fatalf("example differs from the defaults it documents: %+v", c)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, yaml, wantErr string
	}{
		{"empty file", "", ""},
		{"custom types", "events:\n  custom_types: [wishlist]\n", ""},
		{"typo", "sever:\n  addr: x\n", "sever"},
		{"negative weight", "events:\n  weights: {view: -1}\n", "weights.view"},
		{"bad duration", "recommend:\n  retrain_every: soon\n", "soon"},
		{"background off", "training:\n  background_budget: 0s\n  tune_every: 0s\n", ""},
		{"negative budget", "training:\n  background_budget: -1m\n", "background_budget"},
		{"background model requirements", "training:\n  background_models:\n    - name: sasrec\n      requirements: {min_order_signal: 0.52}\n", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, "c.yaml")
			os.WriteFile(p, []byte(c.yaml), 0o644)
			_, err := Load(p)
			if c.wantErr == "" && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("error %v, want one mentioning %q", err, c.wantErr)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("missing file accepted")
	}
}
