package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A state-changing storefront post is accepted only from the shop's own
// origin: same host and a web scheme (issue 12, item 9: an Origin of
// ftp://same-host was accepted by /ui/events).
func TestPostsRefuseOtherOrigins(t *testing.T) {
	s := newShop(t, Options{AdminKey: testAdminKey, Demo: true})
	c := s.client()
	u, err := url.Parse(s.hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	host := u.Host
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"", http.StatusOK},
		{"http://" + host, http.StatusOK},
		{"https://" + host, http.StatusOK}, // behind a TLS proxy
		{"https://evil.example", http.StatusForbidden},
		{"ftp://" + host, http.StatusForbidden},
		{"file://" + host, http.StatusForbidden},
		{"null", http.StatusForbidden},
	} {
		req, _ := http.NewRequest("POST", s.hs.URL+"/ui/events", strings.NewReader(`{"type":"click","item_id":"P001"}`))
		req.Header.Set("Content-Type", "application/json")
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("Origin %q: %d, want %d", tc.origin, resp.StatusCode, tc.want)
		}
	}
}
