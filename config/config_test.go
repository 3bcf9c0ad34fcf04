package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
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
		{"pq vectors", "recommend:\n  vectors: pq\n  model_vectors: {ials: int8, sasrec: pq}\n", ""},
		{"bad vectors", "recommend:\n  vectors: pq4\n", "recommend.vectors"},
		{"bad model vectors", "recommend:\n  model_vectors: {ials: int4}\n", "model_vectors.ials"},
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

// The example documents the defaults: it loads to exactly Default(), and
// it lists every key (a new key must be documented there).
func TestExampleIsTheDefaults(t *testing.T) {
	path := filepath.Join("..", "docs", "aisle.example.yaml")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	// compared as YAML: an empty list in the file is the default nil one
	got, _ := yaml.Marshal(c)
	want, _ := yaml.Marshal(Default())
	if string(got) != string(want) {
		t.Errorf("docs/aisle.example.yaml loads to\n%s\nbut the defaults are\n%s", got, want)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	var walk func(m map[string]any, prefix string)
	walk = func(m map[string]any, prefix string) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok && len(sub) > 0 && prefix+k != "events.weights" {
				walk(sub, prefix+k+".")
				continue
			}
			documented[prefix+k] = true
		}
	}
	walk(doc, "")
	for _, k := range Keys() {
		if !documented[k] {
			t.Errorf("config key %s is not in docs/aisle.example.yaml", k)
		}
	}
}

func TestSet(t *testing.T) {
	for _, c := range []struct {
		key, value string
		check      func(Config) bool
		err        string
	}{
		{"server.addr", "0.0.0.0:9", func(c Config) bool { return c.Server.Addr == "0.0.0.0:9" }, ""},
		{"server.max_body_bytes", "0", func(c Config) bool { return c.Server.MaxBodyBytes == 0 }, ""},
		{"server.shutdown_timeout", "3s", func(c Config) bool { return c.Server.ShutdownTimeout == 3*time.Second }, ""},
		{"search.learn_ranking", "false", func(c Config) bool { return !*c.Search.LearnRanking }, ""},
		{"search.fusion.alpha", "0.5", func(c Config) bool { return *c.Search.Fusion.Alpha == 0.5 }, ""},
		{"search.boost_weight", "null", func(c Config) bool { return c.Search.BoostWeight == nil }, ""},
		{"recommend.exclude_types", "purchase, add_to_cart", func(c Config) bool { return len(c.Recommend.ExcludeTypes) == 2 }, ""},
		{"events.custom_types", "[wishlist]", func(c Config) bool { return c.Events.CustomTypes[0] == "wishlist" }, ""},
		{"events.weights", "{view: 3}", func(c Config) bool { return c.Events.Weights["view"] == 3 && len(c.Events.Weights) == 1 }, ""},
		{"search.synonyms", "[[tv, television]]", func(c Config) bool { return c.Search.Synonyms[0][1] == "television" }, ""},
		{"training.models", "[{name: ials, params: {factors: 8}}]", func(c Config) bool { return c.Training.Models[0].Params["factors"] == 8 }, ""},
		{"training.dedup_window", "1m", func(c Config) bool { return *c.Training.DedupWindow == time.Minute }, ""},
		{"events.rating_scale", "1, 5", func(c Config) bool { return len(c.Events.RatingScale) == 2 && c.Events.RatingScale[1] == 5 }, ""},
		{"events.rating_scale", "[0.5, 5]", func(c Config) bool { return c.Events.RatingScale[0] == 0.5 }, ""},
		{"events.rating_scale", "low, high", nil, "YAML"},
		{"search.suggest_block", "casino, scam shop", func(c Config) bool { return len(c.Search.SuggestBlock) == 2 && c.Search.SuggestBlock[1] == "scam shop" }, ""},
		{"search.suggest_min_shoppers", "1", func(c Config) bool { return *c.Search.SuggestMinShoppers == 1 }, ""},
		{"search.suggest_max_queries", "1000", func(c Config) bool { return c.Search.SuggestMaxQueries == 1000 }, ""},
		{"server.rate_limit", "2.5", func(c Config) bool { return c.Server.RateLimit == 2.5 }, ""},
		{"server.rate_burst", "20", func(c Config) bool { return c.Server.RateBurst == 20 }, ""},
		{"server.trust_proxy", "true", func(c Config) bool { return c.Server.TrustProxy }, ""},
		{"server.addrs", "x", nil, "unknown config key"},
		{"server", "x", nil, "section"},
		{"server.max_body_bytes", "lots", nil, "whole number"},
		{"recommend.retrain_every", "soon", nil, "duration"},
		{"search.learn_ranking", "maybe", nil, "true or false"},
		{"training.models", "[{nme: x}]", nil, "YAML"},
	} {
		cfg := Default()
		err := cfg.Set(c.key, c.value)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Set(%s, %q): error %v, want one mentioning %q", c.key, c.value, err, c.err)
			}
			continue
		}
		if err != nil || !c.check(cfg) {
			t.Errorf("Set(%s, %q): %v, config %+v", c.key, c.value, err, cfg)
		}
	}
}

// Flags > environment > file > defaults, and a zero flag still counts.
func TestResolveLayers(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(p, []byte("server:\n  addr: file:1\n  max_body_bytes: 100\n  read_key: from-file\nsearch:\n  embedder: hash\n"), 0o644)
	env := map[string]string{
		"AISLE_SERVER_ADDR":     "env:2",
		"AISLE_SERVER_READ_KEY": "from-env",
		"AISLE_READ_KEY":        "legacy",
		"AISLE_ADMIN_KEY":       "legacy-admin",
		"AISLE_SEARCH_EMBEDDER": "",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	c, err := Resolve(p, lookup, []Override{{Key: "server.max_body_bytes", Value: "0", From: "--max-body"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Addr != "env:2" || c.Server.MaxBodyBytes != 0 || c.Server.ReadKey != "from-env" || c.Server.AdminKey != "legacy-admin" || c.Search.Embedder != "" {
		t.Errorf("layers: %+v", c.Server)
	}
	c, err = Resolve(p, lookup, []Override{{Key: "server.addr", Value: "flag:3", From: "--addr"}})
	if err != nil || c.Server.Addr != "flag:3" {
		t.Errorf("flag over env: %v %q", err, c.Server.Addr)
	}
	env["AISLE_SERVER_SHUTDOWN_TIMEOUT"] = "-1s"
	if _, err := Resolve(p, lookup, nil); err == nil || !strings.Contains(err.Error(), "shutdown_timeout") {
		t.Errorf("invalid value from the environment: %v", err)
	}
	env["AISLE_SERVER_SHUTDOWN_TIMEOUT"] = "later"
	if _, err := Resolve(p, lookup, nil); err == nil || !strings.Contains(err.Error(), "AISLE_SERVER_SHUTDOWN_TIMEOUT") {
		t.Errorf("the error does not name the variable: %v", err)
	}
	if got := EnvName("search.fusion.alpha"); got != "AISLE_SEARCH_FUSION_ALPHA" {
		t.Errorf("EnvName: %s", got)
	}
}

// Values come from the environment and the command line: any key and text
// is set or refused with an error, never a panic, and never leaves an
// unknown key set.
func FuzzSet(f *testing.F) {
	for _, s := range [][2]string{{"server.addr", "x"}, {"search.fusion.alpha", "0.5"}, {"events.weights", "{view: 1}"},
		{"training.models", "[{name: ials}]"}, {"search.synonyms", "[[a, b]]"}, {"recommend.exclude_types", "a,b"}, {"server", "x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		c := Default()
		if err := c.Set(key, value); err == nil {
			for _, k := range Keys() {
				if k == key {
					return
				}
			}
			t.Fatalf("Set accepted the unknown key %q", key)
		}
	})
}

// Values with a valid range are refused outside it, naming the key.
func TestValidateRanges(t *testing.T) {
	for _, c := range []struct{ key, value string }{
		{"server.rate_limit", "-1"},
		{"server.rate_limit", "NaN"},
		{"server.rate_limit", "+Inf"},
		{"server.rate_burst", "-2"},
		{"events.rating_scale", "[5, 1]"},
		{"events.rating_scale", "[1, 2, 3]"},
		{"events.rating_scale", "[3]"},
		{"search.suggest_min_shoppers", "-1"},
		{"search.suggest_max_queries", "-5"},
		{"memory.limit", "lots"},
		{"memory.limit", "-1GiB"},
		{"memory.limit", "1.5 parsecs"},
		{"memory.limit", "10MB"},
		{"memory.limit", "NaN"},
		{"memory.limit", "0x10GB"},
		{"recommend.max_history", "0"},
		{"recommend.max_history", "-2"},
		{"recommend.snapshot_every", "0"},
		{"recommend.snapshot_every", "-5"},
	} {
		env := map[string]string{EnvName(c.key): c.value}
		_, err := Resolve("", func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil)
		if err == nil || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%s=%s: error %v, want one naming the key", EnvName(c.key), c.value, err)
		}
	}
	// and their defaults and sensible values pass
	for _, c := range []struct{ key, value string }{
		{"server.rate_limit", "50"}, {"events.rating_scale", "1,5"}, {"events.rating_scale", "[]"}, {"search.suggest_min_shoppers", "0"},
		{"memory.limit", "1.5GiB"}, {"memory.limit", "800MB"},
		{"recommend.max_history", "-1"}, {"recommend.max_history", "50"},
		{"recommend.snapshot_every", "-1"}, {"recommend.snapshot_every", "5000"},
	} {
		env := map[string]string{EnvName(c.key): c.value}
		if _, err := Resolve("", func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil); err != nil {
			t.Errorf("%s=%s: %v", EnvName(c.key), c.value, err)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", 0, true},
		{"1.5GiB", 3 << 29, true},
		{"800MB", 800e6, true},
		{"800 mb", 800e6, true},
		{"64MiB", 64 << 20, true},
		{"2KB", 2000, true},
		{"1073741824", 1 << 30, true},
		{"512B", 512, true},
		{"1e9", 1e9, true},
		{"GiB", 0, false},
		{"-1MB", 0, false},
		{"1.5 parsecs", 0, false},
		{"Inf", 0, false},
		{"0x10", 0, false},
		{"1e30", 0, false},
	} {
		got, err := ParseBytes(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
	if got := (Memory{Limit: "1GiB"}).LimitBytes(); got != 1<<30 {
		t.Errorf("LimitBytes(1GiB) = %d", got)
	}
}

// FuzzParseBytes: any text either fails or gives a size ≥ 0.
func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"1.5GiB", "800MB", "12", "", "1e3KB", "-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := ParseBytes(s); err == nil && n < 0 {
			t.Fatalf("ParseBytes(%q) = %d", s, n)
		}
	})
}
