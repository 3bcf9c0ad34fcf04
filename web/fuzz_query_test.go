package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/search"
)

// FuzzStorefrontQuery sends arbitrary query strings (and product ids) to
// every GET page of the storefront and the dashboard (issue 12: fuzz every
// handler's query parameters): no panic, never a 5xx, and a value with
// markup is never reflected unescaped.
func FuzzStorefrontQuery(f *testing.F) {
	s := newShop(f, Options{AdminKey: testAdminKey, Demo: true})
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { ix.Close() })
	if err := ix.Upsert(context.Background(), s.its...); err != nil {
		f.Fatal(err)
	}
	s.ui.search = &IndexSearcher{Index: ix}
	pages := []string{"/", "/search", "/items/{id}", "/cart", "/ui/suggest", "/login", "/admin", "/admin/live"}
	for i := range pages {
		for _, q := range []string{"", "q=gel+pen", "q=pen&page=9999&sort=price_desc&min_price=NaN&max_price=-Inf&brand=Pilot&category=Office",
			"q=%3Cscript%3Ealert(1)%3C/script%3E", "next=/%09/evil.example", "msg=norollback&msg=retrain", "q=" + strings.Repeat("a", 600), "page=-1&q=%ff"} {
			f.Add(uint8(i), q, "P001")
		}
	}
	f.Add(uint8(2), "", "a/b")
	f.Add(uint8(2), "", "<img src=x>")
	f.Fuzz(func(t *testing.T, which uint8, rawQuery, id string) {
		if len(rawQuery) > 8192 || len(id) > 512 {
			return
		}
		page := pages[int(which)%len(pages)]
		if id == "" {
			id = "P001"
		}
		target := "http://shop.test" + strings.Replace(page, "{id}", url.PathEscape(id), 1) + "?" + rawQuery
		req, err := http.NewRequest("GET", target, nil)
		if err != nil {
			return
		}
		if strings.HasPrefix(page, "/admin") {
			req.Header.Set("Authorization", "Bearer "+testAdminKey)
		}
		rec := httptest.NewRecorder()
		s.srv.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("GET %s: %d %.300s", target, rec.Code, rec.Body)
		}
		body := rec.Body.String()
		vals, _ := url.ParseQuery(rawQuery)
		for _, vs := range vals {
			for _, v := range vs {
				if strings.Contains(v, "<") && len(v) >= 3 && strings.Contains(body, v) {
					t.Fatalf("GET %s reflects %q unescaped", target, v)
				}
			}
		}
		if strings.Contains(id, "<") && len(id) >= 3 && strings.Contains(body, id) {
			t.Fatalf("GET %s reflects the id %q unescaped", target, id)
		}
	})
}
