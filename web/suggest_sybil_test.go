package web

import (
	"context"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/search"
)

// Issue 12 item 4, the attack of the session-8 audit: four storefront
// searches, each without the session cookie (so each a new signed
// session), from one network planted their query in the suggestions for
// everyone. Now a cookie-less visitor vouches by its network alone
// (decision 0061): one network plants nothing, three do make a
// suggestion.
func TestStorefrontCookielessSearchesCannotPlant(t *testing.T) {
	s := newShop(t, Options{AdminKey: testAdminKey})
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	if err := ix.Upsert(context.Background(), s.its...); err != nil {
		t.Fatal(err)
	}
	s.eng.Subscribe(ix)
	s.ui.search = &IndexSearcher{Index: ix}
	const planted = "pens item visit fresh-cookie-scam example"
	searchFrom := func(addr string) {
		t.Helper()
		r := httptest.NewRequest("GET", "/search?q="+url.QueryEscape(planted), nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		s.srv.ServeHTTP(w, r)
		if w.Code != 200 || w.Result().Cookies() == nil {
			t.Fatalf("search from %s: %d", addr, w.Code)
		}
	}
	suggested := func() bool {
		for _, sg := range ix.Suggest("pens", 20) {
			if sg.Kind == "query" && sg.Text == planted {
				return true
			}
		}
		return false
	}
	searches := func() int {
		n := 0
		s.eng.Store().ScanEvents(context.Background(), 0, func(e events.Event) error {
			if e.Type == events.Search && e.Query == planted {
				n++
			}
			return nil
		})
		return n
	}
	for i, addr := range []string{"203.0.113.5:1000", "203.0.113.6:1000", "203.0.113.7:1000", "203.0.113.200:1000"} {
		searchFrom(addr)
		if n := searches(); n != i+1 {
			t.Fatalf("%d search events logged after %d searches: the test would not see the log's part", n, i+1)
		}
	}
	time.Sleep(100 * time.Millisecond) // the index hears the log after the store
	if suggested() {
		t.Fatal("four cookie-less searches from one network planted a suggestion")
	}
	searchFrom("198.51.100.9:1000")
	if suggested() {
		t.Fatal("two networks planted a suggestion")
	}
	searchFrom("[2001:db8:5::9]:1000")
	if !suggested() {
		t.Fatal("three networks did not make a suggestion")
	}
}
