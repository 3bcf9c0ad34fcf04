package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// merchItems is what an answer shows: each item's id, marked * when
// pinned and $ when sponsored, and the rules that applied.
func merchItems(t testing.TB, srv *Server, url string) string {
	req := httptest.NewRequest("GET", url, nil)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("%s: %d %s", url, rec.Code, rec.Body)
		return ""
	}
	var a struct {
		Items []struct {
			ID        string `json:"id"`
			Pinned    bool   `json:"pinned"`
			Sponsored bool   `json:"sponsored"`
		} `json:"items"`
		Rules []string `json:"rules"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Errorf("%s: %v", url, err)
		return ""
	}
	mark := func(on bool, m string) string {
		if on {
			return m
		}
		return ""
	}
	var b strings.Builder
	for _, it := range a.Items {
		fmt.Fprintf(&b, "%s%s%s ", it.ID, mark(it.Pinned, "*"), mark(it.Sponsored, "$"))
	}
	return fmt.Sprintf("%srules=%d", b.String(), len(a.Rules))
}

// Merchandised answers served at once (their arranging shares pooled
// storage, their plans a cache) are the answers served one at a time:
// without ads exactly; with ads, the organic items in the same order
// (an auction's winner may change as impressions accumulate) with the
// pins and the rules.
func TestMerchAnswersConcurrently(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a shop of 5,000 items")
	}
	srv := merchBenchServer(t)
	urls := []string{
		"/api/search?q=blue+pen&n=20&ads=off&user_id=u1",
		"/api/search?q=blue+pen&n=10&offset=10&ads=off&user_id=u2",
		"/api/search?q=azure+pen&n=20&sort=price_asc&ads=off",
		"/api/popular?n=20&ads=off&user_id=u1",
		"/api/recommend/u1?n=20&category=Office/pen&ads=off",
		"/api/recommend/u7?n=15&category=Office/pen&ads=off",
		"/api/search?q=blue+pen&n=20&user_id=u1",
		"/api/popular?n=20&user_id=u3",
		"/api/recommend/u1?n=20&category=Office/pen",
	}
	want := make([]string, len(urls))
	for k, u := range urls {
		want[k] = merchItems(t, srv, u)
		if strings.HasSuffix(want[k], "rules=0") {
			t.Fatalf("%s: %s: want a merchandised answer", u, want[k])
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				k := (g*7 + i*5) % len(urls)
				got := merchItems(t, srv, urls[k])
				if strings.Contains(urls[k], "ads=off") {
					if got != want[k] {
						t.Errorf("%s: %s, alone %s", urls[k], got, want[k])
					}
				} else if !sameOrganic(got, want[k]) {
					t.Errorf("%s: %s, alone %s", urls[k], got, want[k])
				}
			}
		}()
	}
	wg.Wait()
}

// sameOrganic reports whether two answers with ads differ only as
// another auction winner makes them differ: without the items sponsored
// in either, one's organic items are the other's or a prefix of them
// (an ad's organic copy is dropped and a recommendation cut to n), and
// the same rules applied.
func sameOrganic(a, b string) bool {
	x, y := strings.Fields(a), strings.Fields(b)
	if x[len(x)-1] != y[len(y)-1] { // rules=k
		return false
	}
	x, y = x[:len(x)-1], y[:len(y)-1]
	ads := map[string]bool{}
	for _, f := range append(slices.Clone(x), y...) {
		if id, ok := strings.CutSuffix(f, "$"); ok {
			ads[strings.TrimSuffix(id, "*")] = true
		}
	}
	drop := func(l []string) []string {
		return slices.DeleteFunc(l, func(f string) bool { return ads[strings.TrimSuffix(strings.TrimSuffix(f, "$"), "*")] })
	}
	x, y = drop(x), drop(y)
	if len(x) > len(y) {
		x, y = y, x
	}
	return len(x) > 0 && slices.Equal(x, y[:len(x)])
}
