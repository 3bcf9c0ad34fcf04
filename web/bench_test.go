package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzUIEvent: whatever a page posts to /ui/events, the answer is 200 or a
// 4xx, never a server error or a panic.
func FuzzUIEvent(f *testing.F) {
	s := newShop(f, Options{})
	for _, b := range []string{`{"type":"click","item_id":"P001","list":"similar"}`, `{"type":"purchase","item_id":"P002"}`,
		`{"type":"view"}`, `{}`, `[]`, `{"type":"click","item_id":"P001","x":1}`, `{"type":"click","item_id":"\u0000"}`} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/ui/events", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && (rec.Code < 400 || rec.Code >= 500) {
			t.Fatalf("POST %q: %d %s", body, rec.Code, rec.Body)
		}
	})
}

// BenchmarkPages renders the shop's pages for a known user (the rows ask
// the recommendation service; the product page also stores a view event).
func BenchmarkPages(b *testing.B) {
	s := newShop(b, Options{})
	for _, p := range []struct{ name, path string }{{"home", "/"}, {"product", "/items/P001"}, {"dashboard", "/admin"}} {
		path := p.path
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest("GET", path, nil)
				req.AddCookie(&http.Cookie{Name: cookieUser, Value: "u001"})
				rec := httptest.NewRecorder()
				s.srv.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("GET %s: %d", path, rec.Code)
				}
			}
		})
	}
}
