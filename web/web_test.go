package web

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
)

func TestPagesRender(t *testing.T) {
	s := newShop(t, Options{AdminKey: testAdminKey})
	c := s.client()
	for _, tc := range []struct {
		path string
		code int
		want []string
	}{
		{"/", 200, []string{"Recommended for you", "Trending", "Continue where you left off", `data-list="trending"`, `<label for="q"`}},
		{"/items/P001", 200, []string{"Pens item 1", "by Brother", "Price not listed", "Add to cart", "Buy now", "Similar items", "Bought together", `data-list="similar"`, "Office Products/Pens/Gel Pens"}},
		{"/items/P002", 200, []string{"3.50"}},
		{"/items/no-such", 404, []string{"no product"}},
		{"/search?q=gel+pen", 200, []string{"Search is not available on this server", "gel pen", "Popular right now"}},
		{"/admin", 401, []string{"admin key", `type="password"`}},
		{"/static/app.css", 200, []string{".cards"}},
		{"/static/app.js", 200, []string{"/ui/events"}},
		{"/static/nope.js", 404, nil},
		{"/static/", 404, nil}, // no directory listing (issue 12 item 9)
	} {
		code, body := s.get(c, tc.path)
		if code != tc.code {
			t.Errorf("GET %s: %d, want %d", tc.path, code, tc.code)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s: the page lacks %q", tc.path, w)
			}
		}
	}
	// The API still answers its own 404 under /api/.
	if code, body := s.get(c, "/api/nope"); code != 404 || !strings.Contains(body, "no route") {
		t.Errorf("GET /api/nope: %d %s", code, body)
	}
}

func TestStartingPage(t *testing.T) {
	s := newShop(t, Options{})
	s.srv.SetReady(false)
	code, body := s.get(s.client(), "/")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "starting") {
		t.Fatalf("not ready: %d %s", code, body)
	}
}

// rowIDs returns the item ids of one row of a page, in order.
func rowIDs(body, row string) []string {
	i := strings.Index(body, `id="row-`+row+`"`)
	if i < 0 {
		return nil
	}
	rest := body[i:]
	if j := strings.Index(rest, "</section>"); j >= 0 {
		rest = rest[:j]
	}
	var ids []string
	for _, m := range regexp.MustCompile(`<a href="/items/[^"]*" data-item="([^"]+)"`).FindAllStringSubmatch(rest, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func TestEventsFromTheUI(t *testing.T) {
	s := newShop(t, Options{AdminKey: testAdminKey})
	c := s.client()
	// A page view records a view for the anonymous session's user.
	code, body := s.get(c, "/items/P001")
	if code != 200 {
		t.Fatalf("product page: %d", code)
	}
	similar := rowIDs(body, "similar")
	if len(similar) == 0 {
		t.Fatal("no similar items shown")
	}
	u, _ := url.Parse(s.hs.URL)
	var sid string
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == cookieSession {
			sid, _, _ = strings.Cut(ck.Value, ".") // the id, then its signature
		}
	}
	if sid == "" {
		t.Fatal("no session cookie")
	}
	anon := "anon-" + sid
	evs := s.userEvents(anon)
	if len(evs) != 1 || evs[0].Type != events.View || evs[0].ItemID != "P001" || evs[0].SessionID != sid {
		t.Fatalf("after a page view: %+v", evs)
	}
	for _, tc := range []struct {
		body string
		code int
		want string
	}{
		{`{"type":"click","item_id":"` + similar[0] + `","list":"similar"}`, 200, `"counted_click":true`},
		{`{"type":"click","item_id":"` + similar[0] + `","list":"similar"}`, 200, `"counted_click":false`}, // once per impression
		{`{"type":"add_to_cart","item_id":"P001"}`, 200, `"recorded":"add_to_cart"`},
		{`{"type":"purchase","item_id":"P001"}`, 200, `"recorded":"purchase"`},
		{`{"type":"rating","item_id":"P001"}`, 400, "click, add_to_cart or purchase"},
		{`{"type":"click","item_id":"no-such"}`, 400, "item_id"},
		{`{"type":"click","item_id":"P001","user_id":"someone-else"}`, 400, "the body must be"},
		{`not json`, 400, "the body must be"},
	} {
		code, got := s.postJSON(c, "/ui/events", tc.body)
		if code != tc.code || !strings.Contains(got, tc.want) {
			t.Errorf("POST %s: %d %s; want %d with %q", tc.body, code, got, tc.code, tc.want)
		}
	}
	evs = s.userEvents(anon)
	var types []string
	for _, e := range evs {
		types = append(types, string(e.Type))
	}
	if want := []string{"purchase", "add_to_cart", "click", "click", "view"}; !slices.Equal(types, want) {
		t.Fatalf("events newest first: %v, want %v", types, want)
	}
	// Not JSON, or from another site: refused.
	resp, err := c.Post(s.hs.URL+"/ui/events", "text/plain", strings.NewReader(`{"type":"click","item_id":"P001"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain event: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("POST", s.hs.URL+"/ui/events", strings.NewReader(`{"type":"click","item_id":"P001"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://evil.example")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin event: %d", resp.StatusCode)
	}
	// The next home page continues where the visitor left off.
	_, body = s.get(c, "/")
	if cont := rowIDs(body, "continue"); len(cont) < 2 || cont[0] != "P001" {
		t.Fatalf("continue row: %v", cont)
	}
}

func TestUserSwitcherChangesRecommendations(t *testing.T) {
	s := newShop(t, Options{AdminKey: testAdminKey, Demo: true})
	c := s.client()
	_, body := s.get(c, "/")
	if !strings.Contains(body, `<option value="u`) {
		t.Fatal("the switcher offers no demo users")
	}
	if resp := s.postForm(c, "/ui/user", url.Values{"user": {"nobody-like-this"}, "next": {"/"}}); resp.StatusCode != 400 {
		t.Fatalf("unknown user: %d", resp.StatusCode)
	}
	resp := s.postForm(c, "/ui/user", url.Values{"user": {"u000"}, "next": {"//evil.example/"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("switch: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, body = s.get(c, "/")
	if !strings.Contains(body, "You browse as u000") {
		t.Fatal("the page does not say who browses")
	}
	before := rowIDs(body, "recommended")
	if len(before) == 0 {
		t.Fatal("no recommendations for u000")
	}
	// u000 buys in group 0; three clicks in group 1 (P001, P005, P009)
	// must move the recommendations.
	for _, id := range []string{"P001", "P005", "P009"} {
		if code, got := s.postJSON(c, "/ui/events", `{"type":"click","item_id":"`+id+`"}`); code != 200 {
			t.Fatalf("click: %d %s", code, got)
		}
	}
	if evs := s.userEvents("u000"); len(evs) < 3 || evs[0].ItemID != "P009" || evs[0].Type != events.Click {
		t.Fatalf("u000's clicks not recorded: %+v", evs[:min(3, len(evs))])
	}
	_, body = s.get(c, "/")
	after := rowIDs(body, "recommended")
	if slices.Equal(before, after) {
		t.Fatalf("recommendations did not change after the clicks: %v", after)
	}
	// Back to anonymous.
	s.postForm(c, "/ui/user", url.Values{"user": {""}, "next": {"/"}})
	if _, body = s.get(c, "/"); !strings.Contains(body, "You browse anonymously") {
		t.Fatal("switching back to anonymous failed")
	}
}

func TestAdminNeedsTheKey(t *testing.T) {
	s := newShop(t, Options{AdminKey: testAdminKey})
	c := s.client()
	if code, _ := s.get(c, "/admin"); code != 401 {
		t.Fatalf("admin without key: %d", code)
	}
	if code, _ := s.get(c, "/admin/live"); code != 401 {
		t.Fatalf("live without key: %d", code)
	}
	if resp := s.postForm(c, "/admin/retrain", nil); resp.StatusCode != 401 {
		t.Fatalf("retrain without key: %d", resp.StatusCode)
	}
	if resp := s.postForm(c, "/login", url.Values{"key": {"wrong"}, "next": {"/admin"}}); resp.StatusCode != 401 {
		t.Fatalf("wrong key: %d", resp.StatusCode)
	}
	resp := s.postForm(c, "/login", url.Values{"key": {testAdminKey}, "next": {"/admin"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin" {
		t.Fatalf("login: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var ck *http.Cookie
	for _, x := range resp.Cookies() {
		if x.Name == cookieKey {
			ck = x
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || strings.Contains(ck.Value, testAdminKey) {
		t.Fatalf("key cookie: %+v", ck)
	}
	// Some traffic for the live table.
	s.get(c, "/")
	s.get(c, "/items/P003")
	code, body := s.get(c, "/admin")
	if code != 200 {
		t.Fatalf("dashboard: %d", code)
	}
	for _, w := range []string{`id="events-plot"`, `id="eval-table"`, "<polyline", "purchase (1200)", `id="count-items">80<`, "itemknn", "serving", "NDCG@10",
		"Retrain now", "GET /items/{id}", "Top items", "Roll back", "2013"} {
		if !strings.Contains(body, w) {
			t.Errorf("dashboard lacks %q", w)
		}
	}
	if code, body := s.get(c, "/admin/live"); code != 200 || !strings.Contains(body, "Requests per route") || strings.Contains(body, "<html") {
		t.Errorf("live fragment: %d %.200s", code, body)
	}
	// Rolling back the only version is refused with a notice.
	resp = s.postForm(c, "/admin/models/itemknn/rollback", nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != 303 || !strings.Contains(loc, "msg=norollback") {
		t.Fatalf("rollback: %d %s", resp.StatusCode, loc)
	}
	if _, body := s.get(c, "/admin?msg=norollback"); !strings.Contains(body, "no earlier version") {
		t.Error("the rollback notice is missing")
	}
	// Retraining starts (and is refused while it runs).
	resp = s.postForm(c, "/admin/retrain", nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != 303 || !(strings.Contains(loc, "msg=retrain") || strings.Contains(loc, "msg=busy")) {
		t.Fatalf("retrain: %d %s", resp.StatusCode, loc)
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.ui.rt.Busy() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	// The API key in a header works too (for scripts), and logging out ends the cookie.
	req, _ := http.NewRequest("GET", s.hs.URL+"/admin", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 200 {
		t.Fatalf("admin with header key: %d", r2.StatusCode)
	}
	s.postForm(c, "/logout", nil)
	if code, _ := s.get(c, "/admin"); code != 401 {
		t.Fatalf("after logout: %d", code)
	}
}

func TestReadKeyProtectsTheShop(t *testing.T) {
	s := newShop(t, Options{AdminKey: testAdminKey, ReadKey: "reader"})
	c := s.client()
	if code, body := s.get(c, "/"); code != 401 || !strings.Contains(body, "read key") {
		t.Fatalf("shop without key: %d", code)
	}
	if code, _ := s.postJSON(c, "/ui/events", `{"type":"click","item_id":"P001"}`); code != 401 {
		t.Fatalf("event without key: %d", code)
	}
	s.postForm(c, "/login", url.Values{"key": {"reader"}, "next": {"/"}})
	if code, _ := s.get(c, "/"); code != 200 {
		t.Fatalf("shop with the read key: %d", code)
	}
	if code, _ := s.get(c, "/admin"); code != 401 {
		t.Fatalf("the read key opened the dashboard: %d", code)
	}
}

// The UI's routes stay outside /api/, so the OpenAPI rule (every /api/
// route and /metrics is described; pages are not) covers them.
func TestRoutesStayOutsideTheAPI(t *testing.T) {
	s := newShop(t, Options{})
	var web []string
	for _, r := range s.srv.Routes() {
		if slices.Contains(Paths(), r.Pattern) && !slices.Contains(web, r.Pattern) {
			web = append(web, r.Pattern)
		}
	}
	if len(web) != len(Paths()) {
		t.Fatalf("registered %v, want %v", web, Paths())
	}
	for _, p := range Paths() {
		if strings.HasPrefix(p, "/api/") || p == "/metrics" {
			t.Errorf("web route %s is in the API's space", p)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/admin": "/admin", "": "/", "//evil.example": "/", "https://evil.example": "/", "/\\evil": "/", "/items/a?b=c": "/items/a?b=c",
		// issue 12 item 8: a form value arrives decoded, and browsers drop
		// tabs and newlines, so "/\t/evil.example" is "//evil.example"
		"/\t/evil.example": "/", "/%09/evil.example": "/", "/\n/evil.example": "/", "/ /evil": "/",
		"/%2F/evil.example": "/", "/%5Cevil": "/", "/\\/evil": "/", "javascript:alert(1)": "/", "http:/evil": "/",
		"/items/a%2Fb": "/items/a%2Fb", "/search?q=gel+pen&page=2": "/search?q=gel+pen&page=2", "/é": "/", "\\\\evil": "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "//x", "/\\x", "http://x", "/a/b?c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := safeNext(s)
		u, err := url.Parse(got)
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, "/\\") || (err == nil && u.Host != "") {
			t.Fatalf("safeNext(%q) = %q leaves the site", s, got)
		}
	})
}
