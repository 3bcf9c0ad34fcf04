package shops_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/shops"
)

// The host parses the path of every request (shop id, route): whatever
// the method and path, it never panics or fails with 500, and a key of
// shop acme is never let through to a route of another shop.
func FuzzHostRoutes(f *testing.F) {
	s := start(f, testConfig(f.TempDir()))
	s.must(201, "POST", "/api/shops", opKey, `{"id":"acme"}`)
	s.must(201, "POST", "/api/shops", opKey, `{"id":"bolt"}`)
	var k struct{ Key string }
	json.Unmarshal(s.must(201, "POST", "/api/shops/acme/keys", opKey, `{"scopes":["admin"]}`), &k)
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/shops/bolt/items"}, {"GET", "/api/shops/acme/items"}, {"GET", "/api/shops//items"},
		{"GET", "/api/shops/acme/../bolt/items"}, {"DELETE", "/api/shops/bolt"}, {"GET", "/api/shops/acme/keys/x/y"},
		{"POST", "/api/shops"}, {"GET", "/api/items"}, {"GET", "/shops/bolt"}, {"GET", "/api/shops/ACME/items"},
		{"OPTIONS", "/api/shops/acme/search"}, {"GET", "/api/shops/default/stats"}, {"PATCH", "/api/shops/acme"},
		{"GET", "/api/admin/backup?file=shops.db"}, {"POST", "/shops/bolt/keys"}, {"POST", "/shops/acme/keys/x/rotate"},
		{"GET", "/shops/acme/keys"}, {"POST", "/shops"},
	} {
		f.Add(c.method, c.path)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		u, err := url.Parse("http://aisle.test" + path)
		if err != nil || !strings.HasPrefix(path, "/") || !validMethod(method) {
			return
		}
		r := httptest.NewRequest(method, "http://aisle.test/", nil)
		r.URL = u
		r.Header.Set("Authorization", "Bearer "+k.Key)
		w := httptest.NewRecorder()
		s.host.ServeHTTP(w, r)
		if w.Code == 500 {
			t.Fatalf("%s %q: 500 %s", method, path, w.Body)
		}
		if w.Code < 300 && strings.HasPrefix(u.Path, "/shops/") && strings.Contains(u.Path, "/keys") {
			t.Fatalf("%s %q with an API key but no dashboard login: %d, want a refusal", method, path, w.Code)
		}
		if w.Code < 300 && strings.HasPrefix(u.Path, "/api/") && u.Path != "/api/shops/acme" && !strings.HasPrefix(u.Path, "/api/shops/acme/") &&
			!strings.HasPrefix(u.Path, "/api/health") && !strings.HasPrefix(u.Path, "/api/ready") && !strings.HasPrefix(u.Path, "/api/openapi.json") {
			t.Fatalf("%s %q with acme's key: %d, want a refusal outside acme", method, path, w.Code)
		}
	})
}

func validMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodPut, http.MethodOptions, http.MethodHead:
		return true
	}
	return false
}

// A shop's own configuration comes from outside (POST and PATCH
// /api/shops): whatever the keys and JSON values, ApplyConfig never
// panics, and what it accepts is a configuration that validates, with the
// deployment's left as it was.
func FuzzApplyConfig(f *testing.F) {
	for _, seed := range []string{
		`{"events.weights":{"view":2}}`, `{"training.models":[{"name":"popular","params":{"k":3}}]}`,
		`{"search.synonyms":[["a","b"]]}`, `{"server.addr":"x"}`, `{"training.half_life":"24h"}`,
		`{"search.suggest_min_shoppers":null}`, `{"recommend.history_len":-5}`, `{"events.rating_scale":[5,1]}`,
		`{"search.field_weights":{"title":"x"}}`, `{"training.dedup_window":3}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var own map[string]any
		if json.Unmarshal([]byte(body), &own) != nil {
			return
		}
		base := config.Default()
		before := fmt.Sprint(base)
		cfg, err := shops.ApplyConfig(base, own)
		if fmt.Sprint(base) != before {
			t.Fatalf("ApplyConfig(%s) changed the deployment's configuration", body)
		}
		if err == nil {
			if verr := cfg.Validate(); verr != nil {
				t.Fatalf("ApplyConfig(%s) accepted a configuration that does not validate: %v", body, verr)
			}
			if (shops.Settings{Config: own}).Validate() != nil {
				t.Fatalf("ApplyConfig(%s) accepted what Settings.Validate refuses", body)
			}
		}
	})
}
