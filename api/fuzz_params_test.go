package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
)

// fuzzedRoute is one GET route of openapi.json that the fuzz target calls.
type fuzzedRoute struct {
	path     string // the template, e.g. /api/items/{id}
	fallback string // a path value that exists, for an empty fuzzed one
}

// skippedGET are GET routes the fuzz target leaves out: they read no
// query parameter and answer no JSON (metrics, the description itself)
// or stream the whole data file (backup).
var skippedGET = map[string]bool{"/metrics": true, "/api/openapi.json": true, "/api/admin/backup": true}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// FuzzQueryParams sends arbitrary query strings (and path values) to every
// GET route of openapi.json on a real Server over a small catalogue with
// trained models (issue 12: fuzz every handler's query parameters).
// Whatever the input: no panic, never a 5xx, a status that openapi.json
// lists for the route, and an answer that validates against its schema
// (so a JSON answer is valid JSON of the documented shape).
func FuzzQueryParams(f *testing.F) {
	doc, router := apiDoc(f)
	srv := shopServer(f)
	registered := map[string]bool{}
	for _, r := range srv.Routes() {
		registered[r.Method+" "+r.Pattern] = true
	}
	var routes []fuzzedRoute
	for path, item := range doc.Paths.Map() {
		if item.Get == nil || skippedGET[path] || !registered["GET "+path] {
			continue
		}
		fb := "p01"
		if strings.Contains(path, "/users/") || strings.Contains(path, "/recommend/") {
			fb = "u01"
		}
		routes = append(routes, fuzzedRoute{path: path, fallback: fb})
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].path < routes[j].path })
	if len(routes) < 10 {
		f.Fatalf("only %d GET routes to fuzz: is openapi.json loaded?", len(routes))
	}
	for i := range routes {
		for _, q := range []string{"", "n=3", "n=0", "n=-1&offset=99999999999", "min_price=NaN&max_price=Inf", "window=Infd", "window=7d&n=200&diversity=1",
			"q=pen&user_id=u01&session_id=s1&facets=brand,price&mode=hybrid&fusion=rrf&rrf_k=0", "q=%ff%fe&category=%00", "limit=1000000&cursor=%ff",
			"exclude=p01,p02&available_only=maybe&anchors=99", "q=" + strings.Repeat("x", 600), "alpha=2&sort=cheapest&brand=&brand=Bic"} {
			f.Add(uint8(i), q, "")
		}
	}
	f.Add(uint8(0), "n=3", "p%2F01")
	f.Add(uint8(1), "", "\xff")
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, which uint8, rawQuery, pathValue string) {
		if len(rawQuery) > 8192 || len(pathValue) > 1024 {
			return // beyond what the HTTP server reads as a request line
		}
		rt := routes[int(which)%len(routes)]
		pv := pathValue
		if pv == "" {
			pv = rt.fallback
		}
		target := "http://aisle.test" + pathParam.ReplaceAllLiteralString(rt.path, url.PathEscape(pv)) + "?" + rawQuery
		req, err := http.NewRequest("GET", target, nil)
		if err != nil {
			return // not a request a client can send
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		name := "GET " + rt.path + " ?" + rawQuery + " (path value " + pv + ")"
		if rec.Code >= 500 {
			t.Fatalf("%s: %d %s", name, rec.Code, rec.Body)
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Fatalf("%s: openapi.json has no route for the request: %v", name, err)
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
			Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		out.SetBodyBytes(rec.Body.Bytes())
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			t.Fatalf("%s: the answer (%d) does not match openapi.json: %v\n%.300s", name, rec.Code, err, rec.Body)
		}
	})
}
