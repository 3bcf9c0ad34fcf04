package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// docs/ltr/default.yaml is the reference of --ltr-config: it must hold
// every key, each with the value the code uses without a file.
func TestLTRConfigDefaultFile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "ltr", "default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseLTRConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	if want := defaultLTRConfig(); !reflect.DeepEqual(normIgnore(got), normIgnore(want)) {
		t.Errorf("docs/ltr/default.yaml gives\n%+v\nthe code's defaults are\n%+v", got, want)
	}
	var keys map[string]any
	if err := yaml.Unmarshal(data, &keys); err != nil {
		t.Fatal(err)
	}
	typ := reflect.TypeOf(ltrConfig{})
	for i := range typ.NumField() {
		if k := typ.Field(i).Tag.Get("yaml"); keys[k] == nil && k != "ignore" {
			t.Errorf("docs/ltr/default.yaml lacks key %q", k)
		}
	}
	if _, ok := keys["ignore"]; !ok {
		t.Error(`docs/ltr/default.yaml lacks key "ignore"`)
	}
	generic, err := os.ReadFile(filepath.Join("..", "..", "docs", "ltr", "generic.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if g, err := parseLTRConfig(generic); err != nil || len(g.Ignore) != 2 || g.Trees != defaultLTRConfig().Trees {
		t.Errorf("docs/ltr/generic.yaml: %+v, %v", g, err)
	}
}

func normIgnore(c ltrConfig) ltrConfig {
	if len(c.Ignore) == 0 {
		c.Ignore = nil
	}
	return c
}

func TestLTRConfigRejects(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"tres: 10", "field tres not found"},
		{"algorithm: forest", `algorithm "forest"`},
		{"trees: -1", "trees is -1"},
		{"feature_fraction: 1.5", "feature_fraction is 1.5"},
		{"query_fraction: 0", "query_fraction is 0"},
		{"ignore: [bm25_titel]", `unknown feature "bm25_titel"`},
		{"base: price", `unknown feature "price"`},
		{"trees: many", "cannot unmarshal"},
	} {
		_, err := parseLTRConfig([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.yaml, err, tc.want)
		}
	}
	c, err := parseLTRConfig([]byte("trees: 50\nbase: \"\"\n"))
	if err != nil || c.Trees != 50 || c.Base != "" || c.Leaves != defaultLTRConfig().Leaves {
		t.Errorf("partial file: %+v, %v", c, err)
	}
	if c, err := parseLTRConfig(nil); err != nil || !reflect.DeepEqual(c, defaultLTRConfig()) {
		t.Errorf("empty file: %+v, %v", c, err)
	}
}

func FuzzLTRConfig(f *testing.F) {
	f.Add([]byte("trees: 50\nignore: [clicks]\n"))
	f.Add([]byte("algorithm: auto\nfeature_fraction: 0.5\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseLTRConfig(data)
		if err != nil {
			return
		}
		if err := c.validate(); err != nil {
			t.Fatalf("accepted %q, which does not validate: %v", data, err)
		}
	})
}
