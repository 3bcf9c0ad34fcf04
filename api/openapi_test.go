package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/pipeline"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// describedInOpenAPI is the rule for which routes openapi.json must
// describe: the JSON API (everything under /api/) and /metrics. Other
// routes are the web UI's HTML pages, assets and browser-only form and
// event endpoints (package web), which are not part of the API.
func describedInOpenAPI(pattern string) bool {
	return strings.HasPrefix(pattern, "/api/") || pattern == "/metrics"
}

// Every registered API route must be described in openapi.json.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng, _ := engine.New(engine.Options{Store: st})
	srv, err := New(Options{Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	svc := recommend.New(st, recommend.Config{}, nil)
	srv.AddRecommendRoutes(svc, svc.NewRetrainer(0, 0, pipeline.Options{}))
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.AddSearchRoutes(ix, search.NewClicks(), svc, search.ModeKeyword)()
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	for _, r := range srv.Routes() {
		if !describedInOpenAPI(r.Pattern) {
			continue
		}
		ops, ok := doc.Paths[r.Pattern]
		if !ok {
			t.Errorf("route %s %s is not in openapi.json", r.Method, r.Pattern)
			continue
		}
		if _, ok := ops[strings.ToLower(r.Method)]; !ok {
			t.Errorf("method %s of %s is not in openapi.json", r.Method, r.Pattern)
		}
	}
}
