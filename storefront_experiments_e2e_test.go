package aisle

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The storefront's rows are served inside experiments like the API's
// answers (issue 15): a visitor's "recommended for you" row is assigned to
// the visitor's variant, its cards carry the answer's request id and each
// item's position, and the click and purchase the page sends back with
// them count in that variant — the same variant the API gives the visitor.
func TestStorefrontRowsAreInExperiments(t *testing.T) {
	url, stop := serveAt(t, t.TempDir())
	defer stop()
	call(t, "POST", url+"/api/items", `[{"id":"a","title":"blue pen","price":2.5},{"id":"b","title":"red pen","price":4},{"id":"c","title":"stapler","price":12}]`, 200, nil)
	call(t, "POST", url+"/api/events", `[{"user_id":"x","item_id":"a","type":"purchase"},{"user_id":"y","item_id":"b","type":"purchase"},{"user_id":"y","item_id":"c","type":"view"}]`, 200, nil)
	var exp struct{ ID string }
	call(t, "POST", url+"/api/experiments", `{"name":"rows","surface":"recommend","variants":[{"name":"plain","weight":50,"overrides":{"model":"popular"}},{"name":"diverse","weight":50,"overrides":{"model":"popular","diversity":0.5}}]}`, 201, &exp)

	jar, _ := cookiejar.New(nil)
	shopper := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := shopper.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`data-item="([^"]+)" data-list="recommended" data-request-id="([0-9a-f]{32})" data-position="(\d+)"`).FindAllStringSubmatch(string(page), -1)
	if len(m) == 0 {
		t.Fatalf("the recommended row's cards carry no request id and position:\n%s", page)
	}
	for i, c := range m {
		if c[2] != m[0][2] || c[3] != fmt.Sprint(i+1) {
			t.Fatalf("card %d of the row: request id %s position %s; want one request id and positions 1, 2, …", i, c[2], c[3])
		}
	}
	item, rid := m[0][1], m[0][2]
	var user string
	for _, typ := range []string{"click", "purchase", "click"} { // the second click is a retry: counted once
		req, _ := http.NewRequest("POST", url+"/ui/events", strings.NewReader(fmt.Sprintf(`{"type":%q,"item_id":%q,"list":"recommended","request_id":%q,"position":1}`, typ, item, rid)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := shopper.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var ans struct {
			UserID string `json:"user_id"`
		}
		err = json.NewDecoder(resp.Body).Decode(&ans)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("POST /ui/events %s: %d, %v", typ, resp.StatusCode, err)
		}
		user = ans.UserID
	}
	// the API gives the visitor the same variant
	var rec struct{ Variant string }
	call(t, "GET", url+"/api/recommend/"+user+"?n=3", "", 200, &rec)
	var res struct{ Variants []variantResult }
	deadline := time.Now().Add(10 * time.Second)
	for {
		call(t, "GET", url+"/api/experiments/"+exp.ID+"/results", "", 200, &res)
		ok := len(res.Variants) == 2
		for _, v := range res.Variants {
			want := variantResult{Name: v.Name}
			if v.Name == rec.Variant {
				// exposures: the home page's row and the API answer just asked
				want = variantResult{Name: v.Name, Users: 1, Exposures: 2, Clicks: 1, Orders: 1, Revenue: map[string]float64{"a": 2.5, "b": 4, "c": 12}[item]}
			}
			ok = ok && v == want
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("results %+v: want the storefront row's click and purchase once in variant %q", res.Variants, rec.Variant)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The storefront's search page is served inside search experiments too: its
// hits carry the answer's request id and position, and a click on one
// counts in the visitor's variant.
func TestStorefrontSearchIsInExperiments(t *testing.T) {
	url, stop := serveAt(t, t.TempDir())
	defer stop()
	call(t, "POST", url+"/api/items", `[{"id":"a","title":"blue gel pen"},{"id":"b","title":"red gel pen"},{"id":"c","title":"stapler"}]`, 200, nil)
	var exp struct{ ID string }
	call(t, "POST", url+"/api/experiments", `{"name":"modes","surface":"search","variants":[{"name":"k1","weight":1,"overrides":{"mode":"keyword"}},{"name":"k2","weight":1,"overrides":{"mode":"keyword"}}]}`, 201, &exp)
	jar, _ := cookiejar.New(nil)
	shopper := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := shopper.Get(url + "/search?q=gel+pen")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`data-item="([^"]+)" data-list="search" data-request-id="([0-9a-f]{32})" data-position="1"`).FindStringSubmatch(string(page))
	if m == nil {
		t.Fatalf("the search hits carry no request id and position:\n%s", page)
	}
	req, _ := http.NewRequest("POST", url+"/ui/events", strings.NewReader(fmt.Sprintf(`{"type":"click","item_id":%q,"list":"search","request_id":%q,"position":1}`, m[1], m[2])))
	req.Header.Set("Content-Type", "application/json")
	resp, err = shopper.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var res struct{ Variants []variantResult }
		call(t, "GET", url+"/api/experiments/"+exp.ID+"/results", "", 200, &res)
		users, clicks := 0, 0.0
		for _, v := range res.Variants {
			users += v.Users
			clicks += v.Clicks
		}
		if users == 1 && clicks == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("results %+v: want the visitor's search and click in one variant", res.Variants)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
