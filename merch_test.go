package aisle

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/config"
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
