package shops_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// browser is an HTTP client with its own cookies, as one browser.
type browser struct {
	t *testing.T
	s *testServer
	c *http.Client
}

func newBrowser(t *testing.T, s *testServer) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, s: s, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) send(method, path string, form url.Values, header ...string) (int, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.s.url+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

var secretRE = regexp.MustCompile(`aisle_sk_([0-9a-f]+)_[A-Za-z0-9_-]+`)

// The dashboard's keys page of a shop: an operator logs in, creates a
// scoped key (shown once), rotates it (the old secret stops, the new one
// has the same scopes) and revokes it; a shop's admin key opens its own
// shop's page and no other, and its login ends when it is revoked; a
// cross-site form and a wrong key are refused.
func TestDashboardShopKeys(t *testing.T) {
	s := start(t, testConfig(t.TempDir()))
	s.createShop("acme", "teapot", "Kitchen/Teapots")
	s.must(201, "POST", "/api/shops", opKey, `{"id":"bolt"}`)
	op := newBrowser(t, s)

	if code, b := op.send("GET", "/shops/acme/keys", nil); code != 401 || !strings.Contains(b, `action="/shops"`) {
		t.Fatalf("the keys page without a login: %d, want 401 with the login form", code)
	}
	if code, _ := op.send("POST", "/shops/acme/keys", url.Values{"scope": {"read"}}); code != 401 {
		t.Errorf("creating a key without a login: %d, want 401", code)
	}
	if code, b := op.send("POST", "/shops", url.Values{"action": {"login"}, "key": {"wrong"}, "next": {"/shops/acme/keys"}}); code != 401 || !strings.Contains(b, "does not open") {
		t.Errorf("a wrong key: %d", code)
	}
	if code, _ := op.send("POST", "/shops", url.Values{"action": {"login"}, "key": {readKey}}); code != 401 {
		t.Errorf("the operator read key opens the keys pages: %d", code)
	}
	if code, _ := op.send("POST", "/shops", url.Values{"action": {"login"}, "key": {opKey}, "next": {"/shops/acme/keys"}}); code != 303 {
		t.Fatalf("operator login: %d, want 303", code)
	}
	if code, b := op.send("GET", "/shops/acme/keys", nil); code != 200 || !strings.Contains(b, "no keys yet") {
		t.Fatalf("acme's keys page: %d %.300s", code, b)
	}
	if code, b := op.send("GET", "/shops", nil); code != 200 || !strings.Contains(b, `href="/shops/bolt/keys"`) {
		t.Errorf("the shops page for an operator: %d, lacks bolt", code)
	}

	// the dashboard of the shop shown links to its keys
	op.send("GET", "/shops/acme", nil)
	if code, b := op.send("GET", "/admin", nil, "Authorization", "Bearer "+opKey); code != 200 || !strings.Contains(b, `href="/shops/acme/keys"`) {
		t.Errorf("acme's dashboard: %d, no link to its keys", code)
	}

	// create: read and write, shown once
	code, b := op.send("POST", "/shops/acme/keys", url.Values{"scope": {"read", "write"}})
	secret := secretRE.FindString(b)
	if code != 200 || secret == "" || !strings.Contains(b, "read, write") {
		t.Fatalf("creating a key: %d, secret %q %.300s", code, secret, b)
	}
	id := secretRE.FindStringSubmatch(b)[1]
	if _, again := op.send("GET", "/shops/acme/keys", nil); strings.Contains(again, secret) || !strings.Contains(again, id) {
		t.Error("the keys page shows the secret again, or not the key's id")
	}
	s.must(200, "GET", "/api/shops/acme/users", secret, "")
	s.must(200, "POST", "/api/shops/acme/events", secret, `{"user_id":"u01","item_id":"p01","type":"view"}`)
	s.must(403, "GET", "/api/shops/bolt/items", secret, "")
	if code, b := op.send("POST", "/shops/acme/keys", url.Values{"scope": {"root"}}); code != 400 || !strings.Contains(b, "unknown scope") {
		t.Errorf("a key with an unknown scope: %d", code)
	}

	// rotate: the old secret stops at once, the new one has the same scopes
	code, b = op.send("POST", "/shops/acme/keys/"+id+"/rotate", nil)
	rotated := secretRE.FindString(b)
	if code != 200 || rotated == "" || rotated == secret || !strings.Contains(b, "rotated") {
		t.Fatalf("rotating: %d %.300s", code, b)
	}
	s.must(401, "GET", "/api/shops/acme/users", secret, "")
	s.must(200, "GET", "/api/shops/acme/users", rotated, "")
	s.must(200, "POST", "/api/shops/acme/events", rotated, `{"user_id":"u01","item_id":"p01","type":"view"}`)
	if keys := string(s.must(200, "GET", "/api/shops/acme/keys", opKey, "")); strings.Count(keys, `"id"`) != 1 || !strings.Contains(keys, `["read","write"]`) {
		t.Errorf("after the rotation the shop's keys are %s, want one with read and write", keys)
	}
	newID := secretRE.FindStringSubmatch(rotated)[1]
	// a form from another site is refused
	if code, _ := op.send("POST", "/shops/acme/keys/"+newID+"/revoke", url.Values{}, "Origin", "https://evil.example"); code != 403 {
		t.Errorf("a cross-site revoke: %d, want 403", code)
	}
	s.must(200, "GET", "/api/shops/acme/users", rotated, "")
	if code, _ := op.send("POST", "/shops/acme/keys/"+newID+"/revoke", url.Values{}); code != 303 {
		t.Errorf("revoking: %d, want 303", code)
	}
	s.must(401, "GET", "/api/shops/acme/users", rotated, "")
	if code, _ := op.send("POST", "/shops/acme/keys/"+newID+"/revoke", url.Values{}); code != 404 {
		t.Errorf("revoking again: %d, want 404", code)
	}

	// a shop's admin key: its own shop only
	code, b = op.send("POST", "/shops/acme/keys", url.Values{"scope": {"admin"}})
	adminKey := secretRE.FindString(b)
	if code != 200 || adminKey == "" {
		t.Fatalf("creating an admin key: %d", code)
	}
	shopAdmin := newBrowser(t, s)
	code, b = op.send("POST", "/shops/acme/keys", url.Values{"scope": {"public"}})
	publicKey := secretRE.FindString(b)
	if code, _ := shopAdmin.send("POST", "/shops", url.Values{"action": {"login"}, "key": {publicKey}}); code != 401 {
		t.Errorf("a public key logs in to the keys pages: %d", code)
	}
	if code, _ := shopAdmin.send("POST", "/shops", url.Values{"action": {"login"}, "key": {adminKey}, "next": {"/shops/acme/keys"}}); code != 303 {
		t.Fatalf("shop admin login: %d", code)
	}
	if code, _ := shopAdmin.send("GET", "/shops/acme/keys", nil); code != 200 {
		t.Errorf("acme's admin on acme's keys page: %d", code)
	}
	if code, _ := shopAdmin.send("GET", "/shops/bolt/keys", nil); code != 403 {
		t.Errorf("acme's admin on bolt's keys page: %d, want 403", code)
	}
	if code, _ := shopAdmin.send("POST", "/shops/bolt/keys", url.Values{"scope": {"admin"}}); code != 403 {
		t.Errorf("acme's admin creating a key of bolt: %d, want 403", code)
	}
	if code, b := shopAdmin.send("GET", "/shops", nil); code != 200 || strings.Contains(b, "bolt") || !strings.Contains(b, "/shops/acme/keys") {
		t.Errorf("the shops page for acme's admin: %d, lists bolt or not acme", code)
	}
	// revoking the admin key ends its dashboard login
	s.must(200, "DELETE", "/api/shops/acme/keys/"+secretRE.FindStringSubmatch(adminKey)[1], opKey, "")
	if code, _ := shopAdmin.send("GET", "/shops/acme/keys", nil); code != 401 {
		t.Errorf("acme's admin after their key was revoked: %d, want 401", code)
	}

	// logging out ends the operator's session
	if code, _ := op.send("POST", "/shops", url.Values{"action": {"logout"}}); code != 303 {
		t.Errorf("logout: %d", code)
	}
	if code, _ := op.send("GET", "/shops/acme/keys", nil); code != 401 {
		t.Errorf("the keys page after logging out: %d, want 401", code)
	}
	// five wrong keys from one address, then 429
	var last int
	for range 6 {
		last, _ = newBrowser(t, s).send("POST", "/shops", url.Values{"action": {"login"}, "key": {"guess"}})
	}
	if last != 429 {
		t.Errorf("the sixth wrong key in a row: %d, want 429", last)
	}
}
