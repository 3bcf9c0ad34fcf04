package aisle

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	neturl "net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/rules"
	"github.com/aisle-dev/aisle/search"
)

// serveAt opens, starts and serves Aisle over data directory dir on
// 127.0.0.1; stop shuts it down and closes it (the directory stays).
func serveAt(t *testing.T, dir string) (url string, stop func()) {
	t.Helper()
	cfg := config.Default()
	cfg.Data = dir
	cfg.Recommend.RetrainEvery, cfg.Recommend.RetrainAfterEvents = 0, 0
	_, url, stop = replicaTB(t, cfg, "")
	return url, stop
}

// call sends a JSON request and decodes a JSON answer into out (when not
// nil); it fails the test on another status than want.
func call(t testing.TB, method, url, body string, want int, out any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, url, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, b)
		}
	}
}

type hit struct {
	ID        string `json:"id"`
	Sponsored bool   `json:"sponsored"`
	Pinned    bool   `json:"pinned"`
}

type answer struct {
	Items     []hit    `json:"items"`
	Total     int      `json:"total"`
	RequestID string   `json:"request_id"`
	Rules     []string `json:"rules"`
	Redirect  string   `json:"redirect"`
	Query     string   `json:"query"`
	Facets    struct {
		Brand []struct {
			Value string `json:"value"`
			Count int    `json:"count"`
		} `json:"brand"`
	} `json:"facets"`
}

func (a answer) ids() string {
	var out []string
	for _, h := range a.Items {
		s := h.ID
		if h.Pinned {
			s += "*"
		}
		if h.Sponsored {
			s += "$"
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// shopItems: calculators c0..c5 (Casio even, Sharp odd; price 10+i),
// staplers s0..s3 (Acme; s3 out of stock), pens p0..p3 (Bic).
func shopItems() string {
	var items []map[string]any
	for i := range 6 {
		items = append(items, map[string]any{"id": fmt.Sprintf("c%d", i), "title": fmt.Sprintf("calculator model %d", i),
			"brand": []string{"Casio", "Sharp"}[i%2], "categories": []string{"Office/Calculators"}, "price": 10 + i,
			"attributes": map[string]any{"solar": []string{"yes", "no"}[i%2]}})
	}
	for i := range 4 {
		items = append(items, map[string]any{"id": fmt.Sprintf("s%d", i), "title": fmt.Sprintf("desk stapler %d", i), "brand": "Acme",
			"categories": []string{"Office/Staplers"}, "price": 5 + i, "available": i != 3})
	}
	for i := range 4 {
		items = append(items, map[string]any{"id": fmt.Sprintf("p%d", i), "title": fmt.Sprintf("gel pen %d", i), "brand": "Bic",
			"categories": []string{"Office/Pens"}, "price": 1 + i})
	}
	b, _ := json.Marshal(items)
	return string(b)
}

// Rule semantics over HTTP: each consequence on search (relevance, a
// sort, a second page) and on a recommendation surface (popular).
func TestRuleSemanticsOverHTTP(t *testing.T) {
	url, _ := serveAt(t, t.TempDir())
	call(t, "POST", url+"/api/items", shopItems(), 200, nil)
	// popularity: c0 most viewed, then c1, …
	var evs []string
	for i := range 6 {
		for range 6 - i {
			evs = append(evs, fmt.Sprintf(`{"user_id":"u%d","item_id":"c%d","type":"view"}`, len(evs), i))
		}
	}
	call(t, "POST", url+"/api/events", "["+strings.Join(evs, ",")+"]", 200, nil)
	call(t, "POST", url+"/api/users", `{"id":"gold","attributes":{"tier":"gold"}}`, 200, nil)

	cases := []struct {
		name, rule, path, want string
		total                  int // -1: not checked
	}{
		{"no rule", "", "/api/search?q=calculator&ads=off", "c0 c1 c2 c3 c4 c5", 6},
		{"pin brings an item in, hide drops one (the contract)",
			`{"name":"r","if":{"query":"calculator"},"then":{"pin":[{"item_id":"s0","position":1}],"hide":["c1"]}}`,
			"/api/search?q=calculator", "s0* c0 c2 c3 c4 c5", 6},
		{"pin holds under a sort", `{"name":"r","if":{"query":"calculator"},"then":{"pin":[{"item_id":"c3","position":1}]}}`,
			"/api/search?q=calculator&sort=price_desc", "c3* c5 c4 c2 c1 c0", 6},
		{"pin on the second page", `{"name":"r","if":{"query":"calculator"},"then":{"pin":[{"item_id":"s1","position":4}]}}`,
			"/api/search?q=calculator&n=3&offset=3", "s1* c3 c4", 7},
		{"hide: the total and the facets drop it", `{"name":"r","if":{"query":"calculator"},"then":{"hide":["c0","c2"]}}`,
			"/api/search?q=calculator&facets=brand", "c1 c3 c4 c5", 4},
		{"filter by brand", `{"name":"r","if":{"query":"calculator"},"then":{"filter":{"brands":["Sharp"]}}}`,
			"/api/search?q=calculator", "c1 c3 c5", 3},
		{"filter by attribute", `{"name":"r","if":{"query":"calculator"},"then":{"filter":{"attributes":{"solar":"yes"}}}}`,
			"/api/search?q=calculator", "c0 c2 c4", 3},
		{"pin from outside the matches passes the filter too (no solar stapler)",
			`{"name":"r","if":{"query":"calculator"},"then":{"filter":{"attributes":{"solar":"yes"}},"pin":[{"item_id":"c4","position":1},{"item_id":"s0","position":2}]}}`,
			"/api/search?q=calculator", "c4* c0 c2", 3},
		{"boost a brand", `{"name":"r","if":{"query":"calculator"},"then":{"boost":[{"brands":["Sharp"],"strength":1}]}}`,
			"/api/search?q=calculator", "c1 c3 c5 c0 c2 c4", 6},
		{"bury by price, then page 2", `{"name":"r","if":{"query":"calculator"},"then":{"bury":[{"max_price":12,"strength":1}]}}`,
			"/api/search?q=calculator&n=3&offset=3", "c0 c1 c2", 6},
		{"boost leaves an explicit sort alone", `{"name":"r","if":{"query":"calculator"},"then":{"boost":[{"brands":["Sharp"],"strength":1}]}}`,
			"/api/search?q=calculator&sort=price_asc", "c0 c1 c2 c3 c4 c5", 6},
		{"query contains", `{"name":"r","if":{"query":"stapler","query_match":"contains"},"then":{"hide":["s1"]}}`,
			"/api/search?q=desk+stapler&sort=price_asc", "s0 s2", 2},
		{"replace the query", `{"name":"r","if":{"query":"adder","synonyms":["adding machine"]},"then":{"replace_query":"calculator"}}`,
			"/api/search?q=adding+machine&n=2", "c0 c1", 6},
		{"category page", `{"name":"r","if":{"category":"Office/Staplers"},"then":{"pin":[{"item_id":"s2","position":1}]}}`,
			"/api/search?category=Office/Staplers&sort=price_asc", "s2* s0 s1", -1},
		{"segment: gold shoppers", `{"name":"r","if":{"query":"calculator","segment":{"tier":"gold"}},"then":{"hide":["c0"]}}`,
			"/api/search?q=calculator&user_id=gold&n=2", "c1 c2", 5},
		{"segment: others", `{"name":"r","if":{"query":"calculator","segment":{"tier":"gold"}},"then":{"hide":["c0"]}}`,
			"/api/search?q=calculator&user_id=u1&n=2", "c0 c1", 6},
		{"date window over", `{"name":"r","if":{"query":"calculator","until":"2020-01-01T00:00:00Z"},"then":{"hide":["c0"]}}`,
			"/api/search?q=calculator&n=2", "c0 c1", 6},
		{"popular: pin and hide", `{"name":"r","if":{"surfaces":["popular"]},"then":{"pin":[{"item_id":"p3","position":2}],"hide":["c0"]}}`,
			"/api/popular?n=3", "c1 p3* c2", -1},
		{"popular: filter", `{"name":"r","if":{"surfaces":["popular"]},"then":{"filter":{"brands":["Casio"]}}}`,
			"/api/popular?n=3", "c0 c2 c4", -1},
		{"popular: a filter the model applies reaches past the window", `{"name":"r","if":{"surfaces":["popular"]},"then":{"filter":{"min_price":15}}}`,
			"/api/popular?n=2", "c5", -1},
		{"popular: bury", `{"name":"r","if":{"surfaces":["popular"]},"then":{"bury":[{"brands":["Casio"],"strength":1}]}}`,
			"/api/popular?n=4", "c1 c3 c5 c0", -1},
		{"a search rule does not touch popular", `{"name":"r","if":{"query":"calculator"},"then":{"hide":["c0"]}}`,
			"/api/popular?n=2", "c0 c1", -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var id string
			if c.rule != "" {
				var r struct{ ID string }
				call(t, "POST", url+"/api/rules", c.rule, 201, &r)
				id = r.ID
				defer call(t, "DELETE", url+"/api/rules/"+id, "", 200, nil)
			}
			var a answer
			call(t, "GET", url+c.path, "", 200, &a)
			if a.ids() != c.want {
				t.Fatalf("items %s, want %s", a.ids(), c.want)
			}
			if c.total >= 0 && a.Total != c.total {
				t.Fatalf("total %d, want %d", a.Total, c.total)
			}
			if strings.Contains(c.name, "facets") {
				sum := 0
				for _, f := range a.Facets.Brand {
					sum += f.Count
				}
				if sum != c.total {
					t.Fatalf("brand facets count %d items, want %d", sum, c.total)
				}
			}
			applied := len(a.Rules) == 1 && a.Rules[0] == id
			if shouldApply := c.rule != "" && !strings.Contains(c.name, "others") && !strings.Contains(c.name, "over") && !strings.Contains(c.name, "does not"); applied != shouldApply {
				t.Fatalf("rules %v (rule %q)", a.Rules, id)
			}
			if id != "" && strings.Contains(c.path, "search") {
				// with and without: rules=off is the answer without it
				var off answer
				call(t, "GET", url+c.path+"&rules=off", "", 200, &off)
				if len(off.Rules) != 0 {
					t.Fatalf("rules=off applied %v", off.Rules)
				}
			}
		})
	}
	// recommend, similar and a user row: a pin holds its place, a hidden
	// item is gone, and the answer names the rule
	var r0 struct{ ID string }
	call(t, "POST", url+"/api/rules", `{"name":"recs","if":{"surfaces":["recommend","similar","rows"]},"then":{"pin":[{"item_id":"p2","position":1}],"hide":["c0","c1"]}}`, 201, &r0)
	for _, path := range []string{"/api/recommend/u1?n=4", "/api/items/c2/similar?n=4", "/api/recommend/u1/new-arrivals?n=4"} {
		var a answer
		call(t, "GET", url+path, "", 200, &a)
		if len(a.Items) == 0 || a.Items[0].ID != "p2" || !a.Items[0].Pinned || len(a.Rules) != 1 || a.Rules[0] != r0.ID || len(a.Items) > 4 {
			t.Fatalf("%s: %s, rules %v", path, a.ids(), a.Rules)
		}
		for _, h := range a.Items {
			if h.ID == "c0" || h.ID == "c1" {
				t.Fatalf("%s: hidden %s shown: %s", path, h.ID, a.ids())
			}
		}
		var off answer
		call(t, "GET", url+path+"&rules=off", "", 200, &off)
		if len(off.Rules) != 0 || (len(off.Items) > 0 && off.Items[0].Pinned) {
			t.Fatalf("%s&rules=off: %s, rules %v", path, off.ids(), off.Rules)
		}
	}
	call(t, "DELETE", url+"/api/rules/"+r0.ID, "", 200, nil)

	// a redirect answers no items
	var r struct{ ID string }
	call(t, "POST", url+"/api/rules", `{"name":"returns","if":{"query":"returns"},"then":{"redirect":"/help/returns"}}`, 201, &r)
	var a answer
	call(t, "GET", url+"/api/search?q=Returns", "", 200, &a)
	if a.Redirect != "/help/returns" || len(a.Items) != 0 || len(a.Rules) != 1 {
		t.Fatalf("redirect: %+v", a)
	}
}

// Sponsored products end to end: a campaign (the contract's shape) shows
// its ad marked sponsored for a matching query only, a click carrying the
// answer's request_id and position is charged once, and the rules,
// campaign and spend survive a restart.
func TestSponsoredProductsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	url, stop := serveAt(t, dir)
	call(t, "POST", url+"/api/items", shopItems(), 200, nil)
	var camp struct{ ID string }
	call(t, "POST", url+"/api/campaigns", `{"name":"staplers","advertiser":"Acme","items":["s2"],"bid":0.5,"daily_budget":10,"targeting":{"queries":["stapler"]},"pacing":"asap"}`, 201, &camp)
	var rule struct{ ID string }
	call(t, "POST", url+"/api/rules", `{"name":"calc","if":{"query":"calculator"},"then":{"pin":[{"item_id":"c5","position":1}],"hide":["c0"]}}`, 201, &rule)
	if camp.ID == "" || rule.ID == "" {
		t.Fatal("no id in the answers")
	}

	var a answer
	call(t, "GET", url+"/api/search?q=stapler&user_id=u1", "", 200, &a)
	if len(a.Items) == 0 || a.Items[0].ID != "s2" || !a.Items[0].Sponsored || a.RequestID == "" {
		t.Fatalf("search for stapler: %s (request %q)", a.ids(), a.RequestID)
	}
	if strings.Count(a.ids(), "s2") != 1 {
		t.Fatalf("the ad item also shows organically: %s", a.ids())
	}
	var unrelated answer
	call(t, "GET", url+"/api/search?q=calculator&user_id=u1", "", 200, &unrelated)
	if strings.Contains(unrelated.ids(), "$") || !strings.HasPrefix(unrelated.ids(), "c5*") {
		t.Fatalf("search for calculator: %s", unrelated.ids())
	}
	click := fmt.Sprintf(`{"user_id":"u1","item_id":"s2","type":"click","request_id":%q,"position":1}`, a.RequestID)
	call(t, "POST", url+"/api/events", click, 200, nil)
	call(t, "POST", url+"/api/events", click, 200, nil) // the same click again
	call(t, "POST", url+"/api/events", `{"user_id":"u1","item_id":"s2","type":"click","request_id":"0123456789abcdef01234567","position":1}`, 200, nil)
	call(t, "POST", url+"/api/events", `{"user_id":"u1","item_id":"s2","type":"click","request_id":"not-an-id"}`, 400, nil)
	call(t, "POST", url+"/api/events", `{"user_id":"u1","item_id":"s2","type":"purchase","value":2}`, 200, nil)
	type report struct {
		Impressions, Clicks, Sales int64
		InvalidClicks              int64 `json:"invalid_clicks"`
		Spend, Revenue, ROAS       float64
		InvalidReasons             map[string]int64 `json:"invalid_reasons"`
	}
	var rep report
	call(t, "GET", url+"/api/campaigns/"+camp.ID+"/report", "", 200, &rep)
	// one bidder: it pays the reserve, 0.05; s2 costs 7, two bought; the
	// click with an unknown request id is invalid but no campaign's
	if rep.Impressions != 1 || rep.Clicks != 1 || rep.Spend != 0.05 || rep.InvalidClicks != 1 ||
		rep.InvalidReasons["duplicate"] != 1 || rep.InvalidReasons["no_impression"] != 0 || rep.Sales != 2 || rep.Revenue != 14 {
		t.Fatalf("report: %+v", rep)
	}

	stop()
	url, _ = serveAt(t, dir)
	call(t, "POST", url+"/api/events", click, 200, nil) // after the restart: still a duplicate
	var rep2 report
	call(t, "GET", url+"/api/campaigns/"+camp.ID+"/report", "", 200, &rep2)
	if rep2.Spend != 0.05 || rep2.Clicks != 1 || rep2.InvalidReasons["duplicate"] != 2 {
		t.Fatalf("report after restart: %+v", rep2)
	}
	var after answer
	call(t, "GET", url+"/api/search?q=calculator", "", 200, &after)
	if len(after.Rules) != 1 || after.Rules[0] != rule.ID || !strings.HasPrefix(after.ids(), "c5*") {
		t.Fatalf("the rule after a restart: %+v", after)
	}
}

// Clicks on ads do not make an item popular: popularity learns only from
// organic exposure (the same click without the ad's request id counts).
func TestAdClicksStayOutOfPopularity(t *testing.T) {
	url, _ := serveAt(t, t.TempDir())
	call(t, "POST", url+"/api/items", shopItems(), 200, nil)
	call(t, "POST", url+"/api/events", `[{"user_id":"o1","item_id":"p0","type":"view"},{"user_id":"o2","item_id":"p1","type":"view"}]`, 200, nil)
	call(t, "POST", url+"/api/campaigns", `{"name":"staplers","advertiser":"Acme","items":["s1"],"bid":0.5,"daily_budget":10,"targeting":{"queries":["stapler"]},"pacing":"asap"}`, 201, nil)
	for i := range 5 {
		user := fmt.Sprintf("a%d", i)
		var a answer
		call(t, "GET", url+"/api/search?q=stapler&user_id="+user, "", 200, &a)
		if len(a.Items) == 0 || !a.Items[0].Sponsored {
			t.Fatalf("no ad: %s", a.ids())
		}
		call(t, "POST", url+"/api/events", fmt.Sprintf(`{"user_id":%q,"item_id":"s1","type":"click","request_id":%q,"position":1}`, user, a.RequestID), 200, nil)
	}
	var pop answer
	call(t, "GET", url+"/api/popular?n=5&ads=off", "", 200, &pop)
	if strings.Contains(pop.ids(), "s1") {
		t.Fatalf("ad clicks made s1 popular: %s", pop.ids())
	}
	call(t, "POST", url+"/api/events", `{"user_id":"o3","item_id":"s1","type":"click"}`, 200, nil)
	call(t, "GET", url+"/api/popular?n=5&ads=off", "", 200, &pop)
	if !strings.Contains(pop.ids(), "s1") {
		t.Fatalf("an organic click on s1 does not count: %s", pop.ids())
	}
}

// The dashboard's merchandising page lists rules and campaigns, saves a
// rule from its form and previews a search with and without a rule.
func TestMerchDashboardPage(t *testing.T) {
	url, _ := serveAt(t, t.TempDir())
	call(t, "POST", url+"/api/items", shopItems(), 200, nil)
	call(t, "POST", url+"/api/campaigns", `{"name":"staplers","advertiser":"Acme","items":["s2"],"bid":0.5,"daily_budget":10,"targeting":{"queries":["stapler"]}}`, 201, nil)
	form := neturl.Values{"rule": {`{"name":"calc page","if":{"query":"calculator"},"then":{"hide":["c0"]}}`}}
	resp, err := http.PostForm(url+"/admin/merch/rules", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	code, body := get(t, url+"/admin/merch")
	if code != 200 || !strings.Contains(body, "calc page") || !strings.Contains(body, "staplers") || !strings.Contains(body, "Click model") {
		t.Fatalf("merchandising page: %d\n%s", code, body)
	}
	code, body = get(t, url+"/admin/merch?preview_q=calculator&preview_rule="+neturl.QueryEscape(`{"name":"p","if":{"query":"calculator"},"then":{"pin":[{"item_id":"s0","position":1}]}}`))
	if code != 200 || !strings.Contains(body, "s0 (pinned)") || !strings.Contains(body, "Without") {
		t.Fatalf("preview: %d\n%s", code, body)
	}
}

// 32 clients click ads over HTTP at once: the campaign spends exactly its
// budget, never more, and a restart (replaying the log) changes nothing.
func TestAdBudgetUnderConcurrentHTTPClicks(t *testing.T) {
	dir := t.TempDir()
	url, stop := serveAt(t, dir)
	call(t, "POST", url+"/api/items", shopItems(), 200, nil)
	var a struct{ ID string }
	call(t, "POST", url+"/api/campaigns", `{"name":"A","advertiser":"Acme","items":["s0"],"bid":1,"daily_budget":2,"targeting":{"queries":["stapler"]},"pacing":"asap"}`, 201, &a)
	call(t, "POST", url+"/api/campaigns", `{"name":"B","advertiser":"Bolt","items":["s1"],"bid":0.3,"daily_budget":100,"targeting":{"queries":["stapler"]},"pacing":"asap"}`, 201, nil)
	var clicks []string
	for i := range 64 {
		user := fmt.Sprintf("c%d", i)
		var ans answer
		call(t, "GET", url+"/api/search?q=desk+stapler&user_id="+user, "", 200, &ans)
		if len(ans.Items) == 0 || ans.Items[0].ID != "s0" || !ans.Items[0].Sponsored {
			t.Fatalf("search %d: %s", i, ans.ids())
		}
		clicks = append(clicks, fmt.Sprintf(`{"user_id":%q,"item_id":"s0","type":"click","request_id":%q,"position":1}`, user, ans.RequestID))
	}
	work := make(chan string)
	done := make(chan struct{})
	for range 32 {
		go func() {
			defer func() { done <- struct{}{} }()
			for body := range work {
				resp, err := http.Post(url+"/api/events", "application/json", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("click: %d", resp.StatusCode)
				}
			}
		}()
	}
	for _, c := range clicks {
		work <- c
	}
	close(work)
	for range 32 {
		<-done
	}
	type report struct {
		Clicks         int64
		Spend          float64
		UnbilledClicks int64 `json:"unbilled_clicks"`
	}
	var rep report
	call(t, "GET", url+"/api/campaigns/"+a.ID+"/report", "", 200, &rep)
	if rep.Spend != 2 || rep.Clicks != 64 || rep.UnbilledClicks == 0 {
		t.Fatalf("after 64 concurrent clicks: %+v", rep)
	}
	stop()
	url, _ = serveAt(t, dir)
	for _, c := range clicks[:8] { // clicked again after the restart: duplicates
		call(t, "POST", url+"/api/events", c, 200, nil)
	}
	var rep2 report
	call(t, "GET", url+"/api/campaigns/"+a.ID+"/report", "", 200, &rep2)
	if rep2.Spend != 2 || rep2.Clicks != 64 {
		t.Fatalf("after a restart: %+v", rep2)
	}
}

// The storefront's "recommended for you" row carries ads (labelled) and
// the rules of the recommend surface.
func TestStorefrontRecommendedRowIsMerchandised(t *testing.T) {
	url, _ := serveAt(t, t.TempDir())
	call(t, "POST", url+"/api/items", shopItems(), 200, nil)
	var evs []string
	for i := range 6 {
		for range 6 - i {
			evs = append(evs, fmt.Sprintf(`{"user_id":"v%d","item_id":"c%d","type":"view"}`, len(evs), i))
		}
	}
	call(t, "POST", url+"/api/events", "["+strings.Join(evs, ",")+"]", 200, nil)
	call(t, "POST", url+"/api/campaigns", `{"name":"pens","advertiser":"Bic","items":["p3"],"bid":0.5,"daily_budget":10,"targeting":{"surfaces":["recommend"]},"pacing":"asap"}`, 201, nil)
	call(t, "POST", url+"/api/rules", `{"name":"home","if":{"surfaces":["recommend"]},"then":{"pin":[{"item_id":"s1","position":1}]}}`, 201, nil)
	code, body := get(t, url+"/")
	if code != 200 {
		t.Fatalf("home: %d", code)
	}
	i := strings.Index(body, `id="row-recommended"`)
	if i < 0 {
		t.Fatalf("no recommended row:\n%s", body)
	}
	rowHTML := body[i:]
	if j := strings.Index(rowHTML[1:], `id="row-`); j > 0 {
		rowHTML = rowHTML[:j]
	}
	if !strings.Contains(rowHTML, `class="card sponsored"`) || !strings.Contains(rowHTML, `data-item="p3"`) || !strings.Contains(rowHTML, "data-request-id=") {
		t.Fatalf("recommended row without a labelled ad:\n%s", rowHTML)
	}
	if first := strings.Index(rowHTML, `data-item="`); first < 0 || !strings.HasPrefix(rowHTML[first:], `data-item="s1"`) {
		t.Fatalf("the pinned item is not first:\n%s", rowHTML)
	}
}

// Rules and ads apply to the because-you-viewed rows and to the basket
// (complete your basket) as to every recommendation answer: a hidden item
// leaves the merged row and every anchor's row, a pin takes its position,
// a campaign targeting the surface fills its slot (3) marked sponsored,
// and rules=off&ads=off gives the model's answer.
func TestRulesAndAdsOnBecauseYouViewedAndBasket(t *testing.T) {
	url, _ := serveAt(t, t.TempDir())
	call(t, "POST", url+"/api/items", shopItems(), 200, nil)
	var evs []string
	for u := range 6 {
		for _, it := range []string{"c0", "s0", "s1", "p0", "p1", "c1"} {
			evs = append(evs, fmt.Sprintf(`{"user_id":"b%d","item_id":%q,"type":"purchase"}`, u, it))
		}
	}
	evs = append(evs, `{"user_id":"v","item_id":"c0","type":"view"}`, `{"user_id":"v","item_id":"s0","type":"view"}`)
	call(t, "POST", url+"/api/events", "["+strings.Join(evs, ",")+"]", 200, nil)

	byv := url + "/api/recommend/v/because-you-viewed?n=6&anchors=2"
	type rows struct {
		answer
		Rows []struct {
			AnchorID string `json:"anchor_id"`
			Items    []hit  `json:"items"`
		} `json:"rows"`
	}
	var plain rows
	call(t, "GET", byv+"&rules=off&ads=off", "", 200, &plain)
	if len(plain.Items) < 4 || len(plain.Rows) != 2 {
		t.Fatalf("because you viewed, without rules: %s, %d rows", plain.ids(), len(plain.Rows))
	}
	hidden := plain.Items[0].ID                                 // the model's first
	dear := map[string]bool{"c3": true, "c4": true, "c5": true} // over 12, filtered out by the rule
	hasDear := false
	for _, row := range plain.Rows {
		for _, h := range row.Items {
			hasDear = hasDear || dear[h.ID]
		}
	}
	if !hasDear {
		t.Fatalf("no row without rules holds c3, c4 or c5 (the test of the rule's filter needs one): %+v", plain.Rows)
	}
	var basketPlain answer
	call(t, "POST", url+"/api/recommend/basket?rules=off&ads=off", `{"items":["c0"],"n":4}`, 200, &basketPlain)
	if len(basketPlain.Items) < 3 {
		t.Fatalf("basket without rules: %s", basketPlain.ids())
	}
	bHidden := basketPlain.Items[0].ID

	var r1, r2 struct{ ID string }
	call(t, "POST", url+"/api/rules", fmt.Sprintf(`{"name":"byv","if":{"surfaces":["because_you_viewed"]},"then":{"pin":[{"item_id":"p3","position":1}],"hide":[%q],"filter":{"max_price":12}}}`, hidden), 201, &r1)
	call(t, "POST", url+"/api/rules", fmt.Sprintf(`{"name":"basket","if":{"surfaces":["basket"]},"then":{"pin":[{"item_id":"c5","position":2}],"hide":[%q]}}`, bHidden), 201, &r2)
	call(t, "POST", url+"/api/campaigns", `{"name":"pens","advertiser":"Bic","items":["p2"],"bid":0.5,"daily_budget":10,"targeting":{"surfaces":["because_you_viewed","basket"]},"pacing":"asap"}`, 201, nil)

	var got rows
	call(t, "GET", byv, "", 200, &got)
	if len(got.Items) != 6 || got.Items[0].ID != "p3" || !got.Items[0].Pinned || slices.ContainsFunc(got.Items, func(h hit) bool { return h.ID == hidden }) ||
		got.Items[2].ID != "p2" || !got.Items[2].Sponsored || len(got.Rules) != 1 || got.Rules[0] != r1.ID || got.RequestID == "" {
		t.Fatalf("because you viewed with a pin of p3, %s hidden and an ad for p2: %s, rules %v, request %q", hidden, got.ids(), got.Rules, got.RequestID)
	}
	for _, h := range got.Items {
		if dear[h.ID] {
			t.Fatalf("%s, filtered out by the rule, is in the merged row: %s", h.ID, got.ids())
		}
	}
	for _, row := range got.Rows {
		for _, h := range row.Items {
			if h.ID == hidden || dear[h.ID] {
				t.Fatalf("%s (hidden %s, or over 12) is still in the row of %s", h.ID, hidden, row.AnchorID)
			}
		}
	}
	var basket answer
	call(t, "POST", url+"/api/recommend/basket", `{"items":["c0"],"n":4}`, 200, &basket)
	if len(basket.Items) != 4 || basket.Items[1].ID != "c5" || !basket.Items[1].Pinned || basket.Items[2].ID != "p2" || !basket.Items[2].Sponsored ||
		slices.ContainsFunc(basket.Items, func(h hit) bool { return h.ID == bHidden }) || len(basket.Rules) != 1 || basket.Rules[0] != r2.ID {
		t.Fatalf("basket with a pin of c5 at 2, %s hidden and an ad for p2 at 3: %s, rules %v", bHidden, basket.ids(), basket.Rules)
	}
	var again answer
	call(t, "POST", url+"/api/recommend/basket?rules=off&ads=off", `{"items":["c0"],"n":4}`, 200, &again)
	if again.ids() != basketPlain.ids() {
		t.Fatalf("rules=off&ads=off: %s, before the rules %s", again.ids(), basketPlain.ids())
	}
}

// tItem is an item of the rule-semantics table's catalogue with the fields
// the table's own reading of the rules looks at.
type tItem struct {
	id, title, brand, cat string
	price                 float64
	solar                 string // "" for none
	isNew, inStock        bool
}

// tableCatalog: calculators c0..c5 (Casio even, Sharp odd; c0..c2 under
// Office/Calculators/Scientific, c3..c5 under …/Basic; price 10+i; solar
// on c0, c3, c4; new c1, c4; c2 out of stock), staplers s0..s3 (Acme,
// Office/Staplers, price 5+i; s0 new, s3 out of stock), pens p0..p3 (Bic,
// Office/Pens, price 1+i; p2 new).
func tableCatalog() []tItem {
	var out []tItem
	for i := range 6 {
		cat := "Office/Calculators/Scientific"
		if i >= 3 {
			cat = "Office/Calculators/Basic"
		}
		out = append(out, tItem{id: fmt.Sprintf("c%d", i), title: fmt.Sprintf("calculator model %d", i), brand: []string{"Casio", "Sharp"}[i%2],
			cat: cat, price: float64(10 + i), solar: map[bool]string{true: "yes", false: "no"}[i == 0 || i == 3 || i == 4],
			isNew: i == 1 || i == 4, inStock: i != 2})
	}
	for i := range 4 {
		out = append(out, tItem{id: fmt.Sprintf("s%d", i), title: fmt.Sprintf("desk stapler %d", i), brand: "Acme", cat: "Office/Staplers",
			price: float64(5 + i), isNew: i == 0, inStock: i != 3})
	}
	for i := range 4 {
		out = append(out, tItem{id: fmt.Sprintf("p%d", i), title: fmt.Sprintf("gel pen %d", i), brand: "Bic", cat: "Office/Pens",
			price: float64(1 + i), isNew: i == 2, inStock: true})
	}
	return out
}

func tableCatalogJSON(items []tItem, now time.Time) string {
	var out []map[string]any
	for _, it := range items {
		created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		if it.isNew {
			created = now.Add(-48 * time.Hour)
		}
		m := map[string]any{"id": it.id, "title": it.title, "brand": it.brand, "categories": []string{it.cat}, "price": it.price,
			"available": it.inStock, "created_at": created.Format(time.RFC3339)}
		if it.solar != "" {
			m["attributes"] = map[string]any{"solar": it.solar}
		}
		out = append(out, m)
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// tMatches is the table's own reading of a rule filter (not
// rules.Filter.Matches): every part given must hold; "new" means created
// within the days given (the catalogue's new items are two days old, the
// others from 2024).
func tMatches(f rules.Filter, it tItem) bool {
	if len(f.Brands) > 0 && !slices.ContainsFunc(f.Brands, func(b string) bool { return strings.EqualFold(b, it.brand) }) {
		return false
	}
	if len(f.Categories) > 0 && !slices.ContainsFunc(f.Categories, func(c string) bool { return it.cat == c || strings.HasPrefix(it.cat, c+"/") }) {
		return false
	}
	if (f.MinPrice != nil && it.price < *f.MinPrice) || (f.MaxPrice != nil && it.price > *f.MaxPrice) {
		return false
	}
	for k, v := range f.Attributes {
		if k != "solar" || it.solar != v {
			return false
		}
	}
	if f.NewWithinDays > 0 && !(it.isNew && f.NewWithinDays >= 3) {
		return false
	}
	return !f.InStock || it.inStock
}

// tHit is one item of an answer: its id, score and whether it is pinned.
type tHit struct {
	ID     string  `json:"id"`
	Score  float64 `json:"score"`
	Pinned bool    `json:"pinned"`
}

type tAnswer struct {
	Items    []tHit   `json:"items"`
	Total    int      `json:"total"`
	Rules    []string `json:"rules"`
	Redirect string   `json:"redirect"`
	Query    string   `json:"query"`
	Facets   struct {
		Brand []search.FacetValue `json:"brand"`
	} `json:"facets"`
}

func (a tAnswer) String() string {
	var out []string
	for _, h := range a.Items {
		s := h.ID
		if h.Pinned {
			s += "*"
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// tExpect applies a rule's consequence, as the rules are documented, to
// the model's whole answer without rules (base: best first, with scores):
// hidden and filtered-out items go, boosts and buries (relevance only)
// re-score on a scale where the best of base is 1 and the worst 0 (by
// position when the scores are flat), pinned items (not hidden, known,
// passing the rule's filter and the request's own, keep) go to their
// positions in ascending order. It returns the arranged answer and the
// items a search's facets count: the model's items that stay in their
// place (not hidden, filtered out or pinned).
func tExpect(then rules.Consequence, base []tHit, relevance bool, cat map[string]tItem, keep func(tItem) bool) (out []tHit, kept []tHit) {
	passes := func(id string) bool {
		it, ok := cat[id]
		return ok && (then.Filter == nil || tMatches(*then.Filter, it))
	}
	var list []tHit
	for _, h := range base {
		if !slices.Contains(then.Hide, h.ID) && passes(h.ID) {
			list = append(list, tHit{ID: h.ID})
			if !slices.ContainsFunc(then.Pin, func(p rules.Pin) bool { return p.ItemID == h.ID }) {
				kept = append(kept, tHit{ID: h.ID})
			}
		}
	}
	if relevance && len(then.Boost)+len(then.Bury) > 0 {
		lo, hi := math.Inf(1), math.Inf(-1)
		score := map[string]float64{}
		for _, h := range base {
			if slices.ContainsFunc(list, func(x tHit) bool { return x.ID == h.ID }) {
				lo, hi, score[h.ID] = min(lo, h.Score), max(hi, h.Score), h.Score
			}
		}
		key := map[string]float64{}
		for i, h := range list {
			b := 1 - float64(i)/float64(len(list))
			if hi > lo {
				b = (score[h.ID] - lo) / (hi - lo)
			}
			b *= 1 - 1e-9 // strength 1 moves an item past every other
			for _, w := range then.Boost {
				if tMatches(w.Filter, cat[h.ID]) {
					b += w.Strength
				}
			}
			for _, w := range then.Bury {
				if tMatches(w.Filter, cat[h.ID]) {
					b -= w.Strength
				}
			}
			key[h.ID] = b
		}
		slices.SortStableFunc(list, func(a, b tHit) int { return cmp.Compare(key[b.ID], key[a.ID]) })
	}
	pins := slices.Clone(then.Pin)
	slices.SortFunc(pins, func(a, b rules.Pin) int { return cmp.Compare(a.Position, b.Position) })
	for _, p := range pins {
		list = slices.DeleteFunc(list, func(x tHit) bool { return x.ID == p.ItemID })
	}
	for _, p := range pins {
		if it, ok := cat[p.ItemID]; ok && !slices.Contains(then.Hide, p.ItemID) && passes(p.ItemID) && keep(it) {
			list = slices.Insert(list, min(p.Position-1, len(list)), tHit{ID: p.ItemID, Pinned: true})
		}
	}
	return list, kept
}

// TestRuleSemanticsTable is the full table of rule semantics over HTTP on
// 127.0.0.1: every condition (query equals, contains, synonym group,
// category page, surface, user segment, date window), matching and not
// matching, × every consequence (pins, boost and bury by brand, category,
// attribute, price range, new and in stock, with strengths; hide; filter by
// each of those; redirect; replace the query) on search (relevance and a
// sort, first page and a later one: totals and brand facets) and personal
// recommend (a short and a long answer), with spot checks of similar,
// popular, trending and session. Every expected answer is computed from
// the catalogue by tExpect from the model's answer without rules (the
// same request with rules=off), not copied from an answer with them.
// Combinations that mean nothing have their documented behaviour asserted:
// redirect and replace_query need a query condition (refused without
// one), and a query condition applies to searches only (never to a
// recommendation answer).
func TestRuleSemanticsTable(t *testing.T) {
	url, _ := serveAt(t, t.TempDir())
	now := time.Now()
	catList := tableCatalog()
	cat := map[string]tItem{}
	for _, it := range catList {
		cat[it.id] = it
	}
	call(t, "POST", url+"/api/items", tableCatalogJSON(catList, now), 200, nil)
	// popularity: c0 most viewed, then c1, …, then staplers and pens
	var evs []string
	for i, id := range []string{"c0", "c1", "c2", "c3", "c4", "c5", "s0", "s1", "s2", "p0", "p1", "p2", "p3"} {
		for range 14 - i {
			evs = append(evs, fmt.Sprintf(`{"user_id":"v%d","item_id":%q,"type":"view"}`, len(evs)%7, id))
		}
	}
	evs = append(evs, `{"user_id":"gold","item_id":"s1","type":"view"}`, `{"user_id":"silver","item_id":"p1","type":"view"}`)
	call(t, "POST", url+"/api/events", "["+strings.Join(evs, ",")+"]", 200, nil)
	call(t, "POST", url+"/api/users", `{"id":"gold","attributes":{"tier":"gold"}}`, 200, nil)
	call(t, "POST", url+"/api/users", `{"id":"silver","attributes":{"tier":"silver"}}`, 200, nil)

	price := func(v float64) *float64 { return &v }
	brand := rules.Filter{Brands: []string{"sharp"}}
	category := rules.Filter{Categories: []string{"Office/Calculators/Basic"}}
	attribute := rules.Filter{Attributes: map[string]string{"solar": "yes"}}
	priceRange := rules.Filter{MinPrice: price(11), MaxPrice: price(13)}
	fresh := rules.Filter{NewWithinDays: 30}
	inStock := rules.Filter{InStock: true}
	type cons struct {
		name string
		then rules.Consequence
	}
	conss := []cons{
		{"pin at 1 (brought in) and 3", rules.Consequence{Pin: []rules.Pin{{ItemID: "p1", Position: 1}, {ItemID: "c4", Position: 3}}}},
		{"pin an out-of-stock item at 2", rules.Consequence{Pin: []rules.Pin{{ItemID: "s3", Position: 2}}}},
		{"boost brand", rules.Consequence{Boost: []rules.Weighted{{Filter: brand, Strength: 1}}}},
		{"boost brand, strength 0.5", rules.Consequence{Boost: []rules.Weighted{{Filter: brand, Strength: 0.5}}}},
		{"bury category", rules.Consequence{Bury: []rules.Weighted{{Filter: category, Strength: 1}}}},
		{"boost attribute", rules.Consequence{Boost: []rules.Weighted{{Filter: attribute, Strength: 1}}}},
		{"bury attribute, strength 0.3", rules.Consequence{Bury: []rules.Weighted{{Filter: attribute, Strength: 0.3}}}},
		{"bury price range", rules.Consequence{Bury: []rules.Weighted{{Filter: priceRange, Strength: 1}}}},
		{"boost new", rules.Consequence{Boost: []rules.Weighted{{Filter: fresh, Strength: 1}}}},
		{"boost in stock", rules.Consequence{Boost: []rules.Weighted{{Filter: inStock, Strength: 1}}}},
		{"hide", rules.Consequence{Hide: []string{"c0", "c3", "p0"}}},
		{"filter brand", rules.Consequence{Filter: &brand}},
		{"filter category", rules.Consequence{Filter: &category}},
		{"filter attribute", rules.Consequence{Filter: &attribute}},
		{"filter price range", rules.Consequence{Filter: &priceRange}},
		{"filter new", rules.Consequence{Filter: &fresh}},
		{"filter in stock", rules.Consequence{Filter: &inStock}},
		{"filter new and solar (one item)", rules.Consequence{Filter: &rules.Filter{NewWithinDays: 30, Attributes: map[string]string{"solar": "yes"}}}},
		{"redirect", rules.Consequence{Redirect: "/help/calculators"}},
		{"replace the query", rules.Consequence{ReplaceQuery: "stapler"}},
	}

	// a request: search (q, category, user) or personal recommend (user,
	// category); the condition's variant for a surface, matching or not
	type req struct{ q, category, user string }
	type cond struct {
		name  string
		query bool // a query condition
		// rule returns the rule's condition and the request for a
		// surface ("search" or "recommend"), matching when match
		rule func(surface string, match bool) (map[string]any, req)
	}
	hour := time.Hour
	conds := []cond{
		{"query equals", true, func(sf string, match bool) (map[string]any, req) {
			return map[string]any{"query": "calculator"}, req{q: map[bool]string{true: "Calculator", false: "calculator model"}[match], user: "gold"}
		}},
		{"query contains", true, func(sf string, match bool) (map[string]any, req) {
			return map[string]any{"query": "calculator", "query_match": "contains"}, req{q: map[bool]string{true: "calculator model", false: "model"}[match], user: "gold"}
		}},
		{"synonym group", true, func(sf string, match bool) (map[string]any, req) {
			return map[string]any{"query": "adding machine", "synonyms": []string{"calculator"}}, req{q: map[bool]string{true: "calculator", false: "model"}[match], user: "gold"}
		}},
		{"category page", false, func(sf string, match bool) (map[string]any, req) {
			return map[string]any{"category": "Office/Calculators"}, req{q: "model", category: map[bool]string{true: "Office/Calculators", false: "Office"}[match], user: "gold"}
		}},
		{"surface", false, func(sf string, match bool) (map[string]any, req) {
			other := map[string]string{"search": "popular", "recommend": "similar"}[sf]
			return map[string]any{"surfaces": []string{map[bool]string{true: sf, false: other}[match]}}, req{q: "calculator", user: "gold"}
		}},
		{"user segment", false, func(sf string, match bool) (map[string]any, req) {
			return map[string]any{"segment": map[string]string{"tier": "gold"}}, req{q: "calculator", user: map[bool]string{true: "gold", false: "silver"}[match]}
		}},
		{"date window", false, func(sf string, match bool) (map[string]any, req) {
			if match {
				return map[string]any{"from": now.Add(-hour).UTC(), "until": now.Add(24 * hour).UTC()}, req{q: "calculator", user: "gold"}
			}
			return map[string]any{"from": now.Add(24 * hour).UTC(), "until": now.Add(48 * hour).UTC()}, req{q: "calculator", user: "gold"}
		}},
	}

	get := func(t *testing.T, path string) tAnswer {
		t.Helper()
		var a tAnswer
		call(t, "GET", url+path, "", 200, &a)
		return a
	}
	createRule := func(t *testing.T, name string, cond map[string]any, then rules.Consequence) (id string, status int, msg string) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"name": name, "if": cond, "then": then})
		resp, err := http.Post(url+"/api/rules", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var r struct{ ID string }
		if resp.StatusCode == 201 {
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			// gone already when the cell ran to its end (404 then)
			t.Cleanup(func() {
				rq, _ := http.NewRequest("DELETE", url+"/api/rules/"+r.ID, nil)
				if resp, err := http.DefaultClient.Do(rq); err == nil {
					resp.Body.Close()
				}
			})
		}
		return r.ID, resp.StatusCode, string(b)
	}
	// rules are deleted as soon as their checks are done: one rule at a time
	del := func(t *testing.T, id string) {
		t.Helper()
		if id != "" {
			call(t, "DELETE", url+"/api/rules/"+id, "", 200, nil)
		}
	}
	searchPath := func(r req, extra string) string {
		v := neturl.Values{"q": {r.q}, "user_id": {r.user}, "ads": {"off"}}
		if r.category != "" {
			v.Set("category", r.category)
		}
		return "/api/search?" + v.Encode() + extra
	}
	recPath := func(r req, extra string) string {
		v := neturl.Values{"ads": {"off"}}
		if r.category != "" {
			v.Set("category", r.category)
		}
		return "/api/recommend/" + r.user + "?" + v.Encode() + extra
	}
	same := func(a, b tAnswer) bool { return a.String() == b.String() }
	str := func(hs []tHit) string { return tAnswer{Items: hs}.String() }
	// checkSearch compares a search with the rule id to tExpect over the
	// same search without rules
	checkSearch := func(t *testing.T, r req, then rules.Consequence, id, extra string, n, offset int, relevance bool) {
		t.Helper()
		page := fmt.Sprintf("&n=%d&offset=%d&facets=brand", n, offset)
		got := get(t, searchPath(r, extra+page))
		base := get(t, searchPath(r, extra+"&n=50&rules=off"))
		if then.ReplaceQuery != "" {
			base = get(t, searchPath(req{then.ReplaceQuery, r.category, r.user}, extra+"&n=50&rules=off"))
			if got.Query != then.ReplaceQuery {
				t.Errorf("%s: query %q, want the replaced %q", extra+page, got.Query, then.ReplaceQuery)
			}
		}
		if then.Redirect != "" {
			if got.Redirect != then.Redirect || len(got.Items) != 0 || !slices.Equal(got.Rules, []string{id}) {
				t.Errorf("%s: redirect %q, items %s, rules %v", extra+page, got.Redirect, got, got.Rules)
			}
			return
		}
		// a search answers items in stock only (the index holds no
		// other), pinned ones too
		keep := func(it tItem) bool {
			return it.inStock && (r.category == "" || it.cat == r.category || strings.HasPrefix(it.cat, r.category+"/"))
		}
		want, kept := tExpect(then, base.Items, relevance, cat, keep)
		total := len(want)
		wantPage := want[min(offset, len(want)):min(offset+n, len(want))]
		if str(got.Items) != str(wantPage) || got.Total != total || !slices.Equal(got.Rules, []string{id}) {
			t.Errorf("%s: %s (total %d, rules %v), want %s (total %d) from %s", extra+page, got, got.Total, got.Rules, str(wantPage), total, base)
		}
		// the brand facets count the matching items that stay (hidden and
		// filtered ones not)
		facets := map[string]int{}
		for _, h := range kept {
			facets[strings.ToLower(cat[h.ID].brand)]++
		}
		for _, f := range got.Facets.Brand {
			if facets[strings.ToLower(f.Value)] != f.Count {
				t.Errorf("%s: brand facets %v, want %v", extra+page, got.Facets.Brand, facets)
				break
			}
			delete(facets, strings.ToLower(f.Value))
		}
		if len(facets) > 0 {
			t.Errorf("%s: brand facets %v miss %v", extra+page, got.Facets.Brand, facets)
		}
	}
	// checkRec compares a recommendation answer (path without n) with
	// tExpect over the answer without rules
	checkRec := func(t *testing.T, path string, post string, r req, then rules.Consequence, id string, n int, availAll bool) {
		t.Helper()
		extra := fmt.Sprintf("&n=%d", n)
		if availAll {
			extra += "&available_only=false"
		}
		var got, base tAnswer
		if post != "" {
			call(t, "POST", url+path+extra, post, 200, &got)
			call(t, "POST", url+path+"&n=200&rules=off"+strings.TrimPrefix(extra, fmt.Sprintf("&n=%d", n)), post, 200, &base)
		} else {
			got = get(t, path+extra)
			base = get(t, path+"&n=200&rules=off"+strings.TrimPrefix(extra, fmt.Sprintf("&n=%d", n)))
		}
		if len(base.Items) < 3 {
			t.Fatalf("%s: the answer without rules has %d items: too few to show a rule's effect", path+extra, len(base.Items))
		}
		if id == "" { // the rule does not apply
			want := base.Items[:min(n, len(base.Items))]
			if str(got.Items) != str(want) || len(got.Rules) != 0 {
				t.Errorf("%s: %s (rules %v), want the answer without rules %s", path+extra, got, got.Rules, str(want))
			}
			return
		}
		keep := func(it tItem) bool {
			return (availAll || it.inStock) && (r.category == "" || it.cat == r.category || strings.HasPrefix(it.cat, r.category+"/"))
		}
		want, _ := tExpect(then, base.Items, true, cat, keep)
		want = want[:min(n, len(want))]
		if str(got.Items) != str(want) || !slices.Equal(got.Rules, []string{id}) {
			t.Errorf("%s: %s (rules %v), want %s from %s", path+extra, got, got.Rules, str(want), base)
		}
	}

	for _, c := range conds {
		for _, cs := range conss {
			t.Run(c.name+"/"+cs.name, func(t *testing.T) {
				needsQuery := cs.then.Redirect != "" || cs.then.ReplaceQuery != ""
				// search, the condition holding
				ifs, r := c.rule("search", true)
				id, status, msg := createRule(t, c.name, ifs, cs.then)
				if needsQuery && !c.query {
					// meaningless without a query: refused, saying why
					if status != 400 || !strings.Contains(msg, "need a query condition") {
						t.Fatalf("a %s rule without a query condition: %d %s, want 400 naming the query condition", cs.name, status, msg)
					}
					return
				}
				if status != 201 {
					t.Fatalf("create: %d %s", status, msg)
				}
				checkSearch(t, r, cs.then, id, "", 10, 0, true)
				checkSearch(t, r, cs.then, id, "&sort=price_asc", 10, 0, false)
				checkSearch(t, r, cs.then, id, "", 2, 2, true)
				checkSearch(t, r, cs.then, id, "&sort=price_desc", 3, 3, false)
				checkSearch(t, r, cs.then, id, "", 1, 0, true)
				if cs.then.Redirect == "" {
					// pages of any size follow each other: two pages of 2 are
					// the first 4 of one page of 10
					p1, p2, all := get(t, searchPath(r, "&n=2")), get(t, searchPath(r, "&n=2&offset=2")), get(t, searchPath(r, "&n=10"))
					want := tAnswer{Items: all.Items[:min(4, len(all.Items))]}.String()
					if got := strings.TrimSpace(p1.String() + " " + p2.String()); got != want {
						t.Errorf("pages of 2: %s | %s, the first 4 of a page of 10: %s", p1, p2, want)
					}
				}
				// search, the condition not holding: the answer without rules
				nifs, nr := c.rule("search", false)
				if fmt.Sprint(nifs) != fmt.Sprint(ifs) {
					del(t, id)
					if id, status, msg = createRule(t, c.name, nifs, cs.then); status != 201 {
						t.Fatalf("create: %d %s", status, msg)
					}
				}
				got, base := get(t, searchPath(nr, "&n=10")), get(t, searchPath(nr, "&n=10&rules=off"))
				if !same(got, base) || len(got.Rules) != 0 || got.Total != base.Total || got.Redirect != "" {
					t.Errorf("not matching (%+v): %s (total %d, rules %v), want %s (total %d)", nr, got, got.Total, got.Rules, base, base.Total)
				}
				del(t, id)
				// personal recommend, the condition holding (a query
				// condition never applies to a recommendation)
				ifs, r = c.rule("recommend", true)
				id, status, msg = createRule(t, c.name+" (recommend)", ifs, cs.then)
				if status != 201 {
					t.Fatalf("create: %d %s", status, msg)
				}
				applied := id
				if c.query {
					applied = ""
					// and a query condition limited to recommendations is
					// refused: it could never apply
					ifs["surfaces"] = []string{"recommend"}
					if _, status, msg := createRule(t, c.name+" (recommend only)", ifs, cs.then); status != 400 || !strings.Contains(msg, "searches only") {
						t.Errorf("a query condition on recommend only: %d %s, want 400 saying it applies to searches only", status, msg)
					}
				}
				checkRec(t, recPath(r, ""), "", r, cs.then, applied, 1, false)
				checkRec(t, recPath(r, ""), "", r, cs.then, applied, 3, false)
				checkRec(t, recPath(r, ""), "", r, cs.then, applied, 20, true)
				del(t, id)
				if !c.query {
					// not holding
					nifs, nr = c.rule("recommend", false)
					id, status, msg = createRule(t, c.name+" (recommend, not matching)", nifs, cs.then)
					if status != 201 {
						t.Fatalf("create: %d %s", status, msg)
					}
					checkRec(t, recPath(nr, ""), "", nr, cs.then, "", 20, true)
					del(t, id)
				}
			})
		}
	}

	// spot checks of the other recommendation surfaces: a rule for the
	// surface applies as on recommend, one for another surface does not
	for _, sf := range []struct{ surface, path, post string }{
		{"similar", "/api/items/c1/similar?ads=off", ""},
		{"popular", "/api/popular?ads=off", ""},
		{"trending", "/api/trending?ads=off", ""},
		{"session", "/api/recommend/session?ads=off", `{"items":["c0","s1"]}`},
	} {
		for _, cs := range conss {
			switch cs.name {
			case "pin at 1 (brought in) and 3", "boost brand", "bury attribute, strength 0.3", "hide", "filter attribute", "filter price range", "filter new and solar (one item)":
			default:
				continue
			}
			t.Run(sf.surface+"/"+cs.name, func(t *testing.T) {
				id, status, msg := createRule(t, sf.surface, map[string]any{"surfaces": []string{sf.surface}}, cs.then)
				if status != 201 {
					t.Fatalf("create: %d %s", status, msg)
				}
				for _, n := range []int{1, 3} {
					checkRec(t, sf.path, sf.post, req{}, cs.then, id, n, false)
				}
				checkRec(t, sf.path, sf.post, req{}, cs.then, id, 20, true)
				del(t, id)
				id, status, msg = createRule(t, sf.surface, map[string]any{"surfaces": []string{"search", "recommend"}}, cs.then)
				if status != 201 {
					t.Fatalf("create: %d %s", status, msg)
				}
				checkRec(t, sf.path, sf.post, req{}, cs.then, "", 20, true)
				del(t, id)
			})
		}
	}
}
