package shops_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The shop routes' real answers (successes and refusals) validate against
// api/openapi.json, statuses included.
func TestShopRoutesMatchOpenAPI(t *testing.T) {
	ctx := context.Background()
	b, err := os.ReadFile("../api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatal(err)
	}
	s := start(t, testConfig(t.TempDir()))
	doc.Servers = openapi3.Servers{{URL: s.url}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	var keyID string
	calls := []struct {
		method, path, key, body string
		status                  int
	}{
		{"POST", "/api/shops", opKey, `{"id":"acme","name":"Acme","max_events":100,"allowed_origins":["https://acme.example"]}`, 201},
		{"POST", "/api/shops", opKey, `{"id":"acme"}`, 409},
		{"POST", "/api/shops", opKey, `{"id":"Bad Id"}`, 400},
		{"POST", "/api/shops", "", `{"id":"x"}`, 401},
		{"GET", "/api/shops", opKey, "", 200},
		{"GET", "/api/shops/acme", opKey, "", 200},
		{"GET", "/api/shops/nope", opKey, "", 404},
		{"PATCH", "/api/shops/acme", opKey, `{"rate_limit":50}`, 200},
		{"PATCH", "/api/shops/acme", opKey, `{"rate_limit":-1}`, 400},
		{"PATCH", "/api/shops/acme", opKey, `{"config":{"search.synonyms":[["kettle","teapot"]],"training.models":[{"name":"popular"}]}}`, 200},
		{"PATCH", "/api/shops/acme", opKey, `{"config":{"search.synonyms":null}}`, 200},
		{"PATCH", "/api/shops/acme", opKey, `{"config":{"server.addr":"0.0.0.0:80"}}`, 400},
		{"POST", "/api/shops", opKey, `{"id":"bolt","config":{"events.weights":{"purchase":3}}}`, 201},
		{"POST", "/api/shops/acme/keys", opKey, `{"scopes":["read","write"]}`, 201},
		{"POST", "/api/shops/acme/keys", opKey, `{"scopes":["root"]}`, 400},
		{"GET", "/api/shops/acme/keys", opKey, "", 200},
		{"POST", "/api/shops/acme/keys/0123456789ab/rotate", opKey, "", 404},
		{"POST", "/api/shops/acme/keys/KEYID/rotate", "", "", 401},
		{"POST", "/api/shops/acme/keys/KEYID/rotate", opKey, "", 200},
		{"DELETE", "/api/shops/acme/keys/KEYID", opKey, "", 200},
		{"DELETE", "/api/shops/acme/keys/KEYID", opKey, "", 404},
		{"DELETE", "/api/shops/default", opKey, "", 409},
		{"DELETE", "/api/shops/acme", opKey, "", 200},
		{"DELETE", "/api/shops/acme", opKey, "", 404},
	}
	for _, c := range calls {
		path := strings.ReplaceAll(c.path, "KEYID", keyID)
		req, _ := http.NewRequest(c.method, s.url+path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		code, body := s.do(c.method, path, c.key, c.body)
		name := c.method + " " + path
		if code != c.status {
			t.Errorf("%s: %d %s, want %d", name, code, body, c.status)
			continue
		}
		if (strings.HasSuffix(path, "/keys") && c.method == "POST" && code == 201) || (strings.HasSuffix(path, "/rotate") && code == 200) {
			var k struct{ ID string }
			json.Unmarshal(body, &k)
			keyID = k.ID
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Errorf("%s: not in openapi.json: %v", name, err)
			continue
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if code < 300 {
			if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
				t.Errorf("%s: the request does not match openapi.json: %v", name, err)
			}
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: code,
			Header: http.Header{"Content-Type": {"application/json"}}, Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		out.SetBodyBytes(body)
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			t.Errorf("%s: the answer does not match openapi.json: %v\n%s", name, err, body)
		}
	}
}
