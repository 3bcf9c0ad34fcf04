package shops_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/shops"
)

// A shop's own configuration (search synonyms, models to train, event
// weights) is validated whole, applied to that shop only, persisted across
// a restart and shown by GET; the shop beside it keeps the deployment's.
func TestShopSettingsApplyToThatShopOnly(t *testing.T) {
	testShopSettingsApplyToThatShopOnly(t, testConfig(t.TempDir()))
}

// TestShopSettingsApplyToThatShopOnlyOnPostgres: the same with the shops' data in PostgreSQL.
func TestShopSettingsApplyToThatShopOnlyOnPostgres(t *testing.T) {
	testShopSettingsApplyToThatShopOnly(t, pgConfig(t))
}

func testShopSettingsApplyToThatShopOnly(t *testing.T, cfg config.Config) {
	s := start(t, cfg)
	s.createShop("acme", "teapot", "Kitchen/Teapots")
	s.createShop("bolt", "teapot", "Kitchen/Teapots") // the same data

	ownConfig := func(id string) map[string]any {
		t.Helper()
		var in shops.Info
		if err := json.Unmarshal(s.must(200, "GET", "/api/shops/"+id, opKey, ""), &in); err != nil {
			t.Fatal(err)
		}
		return in.Settings.Config
	}
	for _, c := range []struct{ body, want string }{
		{`{"config":{"server.addr":"0.0.0.0:80"}}`, "belongs to the deployment"},
		{`{"config":{"data":"/tmp"}}`, "belongs to the deployment"},
		{`{"config":{"search.embedder_key":"sk-1"}}`, "belongs to the deployment"},
		{`{"config":{"search.nonsense":1}}`, "unknown config key"},
		{`{"config":{"events.weights":{"view":-1}}}`, "events.weights.view must be ≥ 0"},
		{`{"config":{"events.weights":{"teleport":1}}}`, `unknown event type "teleport"`},
		{`{"config":{"training.models":[{"name":"nosuch"}]}}`, `unknown model "nosuch"`},
		{`{"config":{"training.models":[{"name":"popular","colour":1}]}}`, "colour"},
		{`{"config":{"search.synonyms":"kettle teapot"}}`, "search.synonyms"},
		{`{"config":{"training.half_life":"a week"}}`, "duration"},
		// a valid key with a bad limit beside it: nothing is applied
		{`{"config":{"search.synonyms":[["kettle","teapot"]]},"rate_limit":-1}`, "rate_limit"},
	} {
		code, b := s.do("PATCH", "/api/shops/acme", opKey, c.body)
		var e struct{ Error string }
		json.Unmarshal(b, &e)
		if code != 400 || !strings.Contains(e.Error, c.want) {
			t.Errorf("PATCH %s: %d %s, want 400 saying %q", c.body, code, b, c.want)
		}
		if own := ownConfig("acme"); own != nil {
			t.Fatalf("after the refused PATCH %s the shop's config is %v, want none", c.body, own)
		}
	}
	if code, b := s.do("POST", "/api/shops", opKey, `{"id":"cola","config":{"training.models":[{"name":"nosuch"}]}}`); code != 400 {
		t.Errorf("creating a shop with a bad config: %d %s, want 400", code, b)
	}
	s.must(404, "GET", "/api/shops/cola", opKey, "")
	if code, b := s.do("PATCH", "/api/shops/default", opKey, `{"config":{"search.synonyms":[["a","b"]]}}`); code != 400 || !strings.Contains(string(b), "deployment's own configuration") {
		t.Errorf("config for the default shop: %d %s, want 400 pointing to the deployment's configuration", code, b)
	}

	search := func(id, q string) int {
		t.Helper()
		var r struct{ Total int }
		json.Unmarshal(s.must(200, "GET", "/api/shops/"+id+"/search?q="+q, opKey, ""), &r)
		return r.Total
	}
	if n := search("acme", "kettle"); n != 0 {
		t.Fatalf("acme finds %d kettles before any synonym", n)
	}
	s.must(200, "PATCH", "/api/shops/acme", opKey, `{"rate_limit":100,"config":{"search.synonyms":[["kettle","teapot"]],"training.models":[{"name":"popular"}],"events.weights":{"purchase":3,"view":0.5}}}`)
	want := map[string]any{
		"search.synonyms": []any{[]any{"kettle", "teapot"}},
		"training.models": []any{map[string]any{"name": "popular"}},
		"events.weights":  map[string]any{"purchase": 3.0, "view": 0.5},
	}
	if own := ownConfig("acme"); !reflect.DeepEqual(own, want) {
		t.Errorf("GET acme's config: %v, want %v", own, want)
	}
	if own := ownConfig("bolt"); own != nil {
		t.Errorf("bolt's config after acme's changed: %v", own)
	}
	checkApplied := func() {
		t.Helper()
		if n := search("acme", "kettle"); n != 30 {
			t.Errorf("acme with kettle = teapot finds %d kettles, want its 30 teapots", n)
		}
		if n := search("bolt", "kettle"); n != 0 {
			t.Errorf("bolt (no synonyms of its own) finds %d kettles, want 0", n)
		}
	}
	checkApplied()
	s.train("acme")
	s.train("bolt")
	if v := versions(s.must(200, "GET", "/api/shops/acme/models", opKey, "")); strings.Contains(v, "itemknn") || !strings.Contains(v, "popular") {
		t.Errorf("acme trains popular only: its models are %s", v)
	}
	if v := versions(s.must(200, "GET", "/api/shops/bolt/models", opKey, "")); !strings.Contains(v, "itemknn") || !strings.Contains(v, "popular") {
		t.Errorf("bolt trains the deployment's models (popular, itemknn): its models are %s", v)
	}

	// persisted: after a restart the shops are as they were configured
	s.stop()
	s = start(t, cfg)
	if own := ownConfig("acme"); !reflect.DeepEqual(own, want) {
		t.Errorf("acme's config after a restart: %v, want %v", own, want)
	}
	checkApplied()

	// null puts one key back to the deployment's value, the others stay
	s.must(200, "PATCH", "/api/shops/acme", opKey, `{"config":{"search.synonyms":null}}`)
	if own := ownConfig("acme"); len(own) != 2 || own["search.synonyms"] != nil {
		t.Errorf("acme's config after removing the synonyms: %v", own)
	}
	if n := search("acme", "kettle"); n != 0 {
		t.Errorf("acme without its synonyms finds %d kettles, want 0", n)
	}
}

// ApplyConfig leaves the deployment's configuration as it was: its maps
// and pointers are not written through.
func TestApplyConfigLeavesTheBase(t *testing.T) {
	base := config.Default()
	before := base.Events.Weights["view"]
	minShoppers := *base.Search.SuggestMinShoppers
	cfg, err := shops.ApplyConfig(base, map[string]any{"events.weights": map[string]any{"view": 7.0}, "search.suggest_min_shoppers": 1.0, "training.half_life": "24h"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Events.Weights["view"] != 7 || *cfg.Search.SuggestMinShoppers != 1 || cfg.Training.HalfLife.Hours() != 24 {
		t.Errorf("applied: weights %v, suggest_min_shoppers %d, half_life %v", cfg.Events.Weights, *cfg.Search.SuggestMinShoppers, cfg.Training.HalfLife)
	}
	if base.Events.Weights["view"] != before || *base.Search.SuggestMinShoppers != minShoppers {
		t.Errorf("the base changed: weights %v, suggest_min_shoppers %d", base.Events.Weights, *base.Search.SuggestMinShoppers)
	}
	// a deployment's own oddity (a weight of a type it does not declare)
	// does not keep its shops from loading
	odd := config.Default()
	odd.Events.Weights = map[string]float64{"legacy": 1}
	if _, err := shops.ApplyConfig(odd, nil); err != nil {
		t.Errorf("a shop without a configuration of its own on a deployment with an undeclared weight: %v", err)
	}
	if _, err := shops.ApplyConfig(odd, map[string]any{"events.weights": map[string]any{"view": 1.0}}); err != nil {
		t.Errorf("a shop's own weights replace the deployment's: %v", err)
	}
	keys := shops.ConfigKeys()
	for _, k := range []string{"events.weights", "training.models", "search.synonyms", "recommend.history_len"} {
		if !slices.Contains(keys, k) {
			t.Errorf("ConfigKeys lacks %s", k)
		}
	}
	for _, k := range keys {
		if strings.HasPrefix(k, "server.") || k == "search.embedder_key" {
			t.Errorf("ConfigKeys offers %s to shops", k)
		}
	}
}
