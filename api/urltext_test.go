package api

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/search"
)

// Invalid UTF-8 and control characters in a path or a query parameter are
// refused with a 400 naming what is wrong, like the same text in a body;
// before, /api/recommend/%FF answered for the user "\ufffd" and a search
// for %FF answered a match-all list (issue 12 item 9).
func TestURLTextIsCheckedLikeBodyText(t *testing.T) {
	srv := newTestServer(t, search.Options{})
	for _, c := range []struct {
		url    string
		status int
		want   string // in the error message
	}{
		{"/api/recommend/%FF%FE", 400, "path"},
		{"/api/recommend/u%1B1", 400, "U+001B"},
		{"/api/users/%FF/events", 400, "UTF-8"},
		{"/api/search?q=%FF%FE", 400, "query parameter q"},
		{"/api/search?q=pen%00", 400, "U+0000"},
		{"/api/search?q=pen&session_id=%C0%80", 400, "session_id"},
		{"/api/search?q=pen&%FF=1", 400, "name"},
		{"/api/search?q=pen%ZZ", 400, "cannot be read"},
		{"/api/search?q=pen", 200, ""},
		{"/api/search?q=caf%C3%A9", 200, ""},
		{"/api/search?q=blue%09pen", 200, ""},
		{"/api/recommend/caf%C3%A9", 200, ""},
		{"/api/health?x=%FF", 200, ""}, // probes answer whatever they are sent
	} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", c.url, nil))
		if rec.Code != c.status {
			t.Errorf("%s: %d %s, want %d", c.url, rec.Code, rec.Body, c.status)
			continue
		}
		if c.want != "" && !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("%s: %s, want it to say %q", c.url, rec.Body, c.want)
		}
		if strings.Contains(rec.Body.String(), `\ufffd`) {
			t.Errorf("%s: the answer holds a replacement character: %s", c.url, rec.Body)
		}
	}
}

// Every answer carries X-Content-Type-Options: nosniff, also those that
// are not JSON (/metrics was the one left without it).
func TestEveryAnswerIsNosniff(t *testing.T) {
	srv := newTestServer(t, search.Options{})
	for _, u := range []string{"/metrics", "/api/health", "/api/ready", "/api/openapi.json", "/api/search?q=pen", "/api/nothing"} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", u, nil))
		if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s (%d): X-Content-Type-Options %q", u, rec.Code, got)
		}
	}
}
