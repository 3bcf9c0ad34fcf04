package shops_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
)

// A browser switches shops at /shops/{shop}: the storefront's pages then
// show that shop's catalogue, with the same links; /shops lists them.
func TestStorefrontShopSwitch(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Server.AdminKey, cfg.Server.ReadKey = "", "" // an open deployment, as the demo on loopback
	s := start(t, cfg)
	s.createShop("default", "stapler", "Office/Staplers")
	s.createShop("acme", "teapot", "Kitchen/Teapots")
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := c.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, b := get("/search?q=teapot"); code != 200 || strings.Contains(b, "Teapots") {
		t.Fatalf("default storefront: %d, shows acme's teapots: %v", code, strings.Contains(b, "Teapots"))
	}
	if code, b := get("/shops/acme"); code != 200 || !strings.Contains(b, "Teapots") || !strings.Contains(b, "Shop: acme") {
		t.Fatalf("switching to acme: %d, home page without its categories", code)
	}
	if code, b := get("/search?q=teapot"); code != 200 || !strings.Contains(b, "· Teapots") || strings.Contains(b, "Staplers") {
		t.Errorf("acme's storefront search: %d", code)
	}
	if code, b := get("/shops"); code != 200 || !strings.Contains(b, `href="/shops/acme" aria-current="true"`) || !strings.Contains(b, `href="/shops/default"`) {
		t.Errorf("the shops page: %d %.500s", code, b)
	}
	if code, _ := get("/shops/nope"); code != 404 {
		t.Errorf("switching to an unknown shop: %d, want 404", code)
	}
	get("/shops/default")
	if _, b := get("/search?q=stapler"); !strings.Contains(b, "· Staplers") {
		t.Error("back on the default shop, its staplers are not found")
	}
	// a deleted shop sends its browsers back to the default one
	get("/shops/acme")
	s.must(200, "DELETE", "/api/shops/acme", "", "")
	if code, b := get("/search?q=stapler"); code != 200 || !strings.Contains(b, "· Staplers") {
		t.Errorf("after acme was deleted: %d", code)
	}
}
