package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// rowsServer starts the real API on 127.0.0.1 with the recommendation
// routes, over an empty store.
func rowsServer(t *testing.T) string {
	t.Helper()
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng, err := engine.New(engine.Options{Store: st, Now: nil})
	if err != nil {
		t.Fatal(err)
	}
	svc := recommend.New(st, recommend.Config{}, nil)
	if err := svc.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	eng.Subscribe(svc)
	srv, err := New(Options{Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	srv.AddRecommendRoutes(svc, nil)
	srv.SetReady(true)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts.URL
}

type rowAnswer struct {
	Items []recommend.Item `json:"items"`
	Rows  []struct {
		AnchorID    string           `json:"anchor_id"`
		AnchorTitle string           `json:"anchor_title"`
		Items       []recommend.Item `json:"items"`
	} `json:"rows"`
	Error string `json:"error"`
}

func call(t *testing.T, method, url, body string) (int, rowAnswer) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a rowAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("%s %s: %v: %s", method, url, err, b)
	}
	return resp.StatusCode, a
}

func post(t *testing.T, url string, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, msg)
	}
}

func first(a rowAnswer) string {
	if len(a.Items) == 0 {
		return ""
	}
	return a.Items[0].ID
}

func TestRowRoutesEndToEnd(t *testing.T) {
	base := rowsServer(t)
	var its []map[string]any
	for c := 0; c < 8; c++ {
		for k := 0; k < 5; k++ {
			its = append(its, map[string]any{"id": fmt.Sprintf("c%di%d", c, k), "title": fmt.Sprintf("thing %d of kind %d", k, c), "categories": []string{fmt.Sprintf("Shop/C%d", c)}, "price": float64(k + 1), "created_at": "2026-01-01T00:00:00Z"})
		}
	}
	post(t, base+"/api/items", its)
	var evs []map[string]any
	for u := 0; u < 5; u++ {
		for k := 0; k < 3; k++ {
			ts := fmt.Sprintf("2026-02-%02dT10:00:00Z", 1+k*7+u)
			evs = append(evs,
				map[string]any{"user_id": fmt.Sprintf("u%d", u), "item_id": "c0i0", "type": "purchase", "timestamp": ts, "session_id": fmt.Sprintf("s%d-%d", u, k)},
				map[string]any{"user_id": fmt.Sprintf("u%d", u), "item_id": "c1i0", "type": "purchase", "timestamp": ts, "session_id": fmt.Sprintf("s%d-%d", u, k)})
		}
	}
	evs = append(evs,
		map[string]any{"user_id": "me", "item_id": "c0i0", "type": "purchase", "timestamp": "2026-02-01T10:00:00Z"},
		map[string]any{"user_id": "me", "item_id": "c0i0", "type": "purchase", "timestamp": "2026-02-08T10:00:00Z"},
		map[string]any{"user_id": "me", "item_id": "c3i0", "type": "view", "timestamp": "2026-02-20T10:00:00Z"},
		map[string]any{"user_id": "me", "item_id": "c4i0", "type": "view", "timestamp": "2026-02-21T10:00:00Z"})
	post(t, base+"/api/events", evs)

	code, a := call(t, "GET", base+"/api/recommend/me/buy-again?n=5", "")
	if code != 200 || first(a) != "c0i0" || !strings.HasPrefix(a.Items[0].Reason, "buy again") {
		t.Fatalf("buy-again: %d %+v", code, a)
	}
	code, a = call(t, "GET", base+"/api/recommend/me/recently-viewed?n=5", "")
	if code != 200 || len(a.Items) != 2 || a.Items[0].ID != "c4i0" || a.Items[1].ID != "c3i0" {
		t.Fatalf("recently-viewed: %d %+v", code, a)
	}
	code, a = call(t, "GET", base+"/api/recommend/me/recently-viewed?n=5&exclude=c4i0", "")
	if code != 200 || len(a.Items) != 1 || a.Items[0].ID != "c3i0" {
		t.Fatalf("recently-viewed with exclude: %d %+v", code, a)
	}
	code, a = call(t, "GET", base+"/api/recommend/me/because-you-viewed?n=4&anchors=2", "")
	if code != 200 || len(a.Rows) != 2 || a.Rows[0].AnchorID != "c4i0" || len(a.Items) == 0 || len(a.Items) > 4 {
		t.Fatalf("because-you-viewed: %d %+v", code, a)
	}
	// A new item is in the new arrivals the moment it is added.
	post(t, base+"/api/items", map[string]any{"id": "fresh", "title": "thing new of kind 4", "categories": []string{"Shop/C4"}, "price": 3.0, "created_at": "2026-03-01T00:00:00Z"})
	code, a = call(t, "GET", base+"/api/recommend/me/new-arrivals?n=3", "")
	if code != 200 || first(a) != "fresh" {
		t.Fatalf("new-arrivals: %d %+v", code, a)
	}
	code, a = call(t, "POST", base+"/api/recommend/basket", `{"items":["c0i0"],"n":3}`)
	if code != 200 || first(a) != "c1i0" || len(a.Items) != 3 {
		t.Fatalf("basket: %d %+v", code, a)
	}
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/recommend/me/buy-again?n=0", ""},
		{"GET", "/api/recommend/me/new-arrivals?max_price=cheap", ""},
		{"GET", "/api/recommend/me/because-you-viewed?anchors=9", ""},
		{"POST", "/api/recommend/basket", `{"items":[]}`},
		{"POST", "/api/recommend/basket", `{"items":["c0i0"],"n":500}`},
		{"POST", "/api/recommend/basket", `{"items":["c0i0"],"color":"red"}`},
		{"POST", "/api/recommend/basket", `not json`},
	} {
		if code, a := call(t, c.method, base+c.path, c.body); code != http.StatusBadRequest || a.Error == "" {
			t.Errorf("%s %s %s: %d %+v, want 400 with a message", c.method, c.path, c.body, code, a)
		}
	}
	if code, a := call(t, "POST", base+"/api/recommend/basket", `{"items":["nope"]}`); code != http.StatusNotFound || a.Error == "" {
		t.Errorf("unknown basket: %d %+v", code, a)
	}
	// A user nobody knows gets empty rows, not an error.
	for _, row := range []string{"buy-again", "recently-viewed", "because-you-viewed"} {
		if code, a := call(t, "GET", base+"/api/recommend/ghost/"+row, ""); code != 200 || a.Items == nil || len(a.Items) != 0 {
			t.Errorf("ghost %s: %d %+v", row, code, a)
		}
	}
	// New arrivals need no history: the newest first.
	if code, a := call(t, "GET", base+"/api/recommend/ghost/new-arrivals?n=2", ""); code != 200 || first(a) != "fresh" {
		t.Errorf("ghost new-arrivals: %d %+v", code, a)
	}
}

// TestRowRoutesApplyTheUsualFilters (issue 19 item 3): every row route
// takes the filters of /api/recommend/{user} (category, brand, price,
// exclude). For each route the filter is taken from its own unfiltered
// answer (that answer must hold an item the filter rules out, so the case
// can fail), and the filtered answer must be non-empty and hold only items
// the filter allows.
func TestRowRoutesApplyTheUsualFilters(t *testing.T) {
	base := rowsServer(t)
	type info struct {
		cat, brand string
		price      float64
	}
	catalogue := map[string]info{}
	var its []map[string]any
	for c := 0; c < 8; c++ {
		for k := 0; k < 5; k++ {
			id := fmt.Sprintf("c%di%d", c, k)
			in := info{cat: fmt.Sprintf("Shop/C%d", c), brand: []string{"Acme", "Bolt"}[k%2], price: float64(k + 1)}
			catalogue[id] = in
			its = append(its, map[string]any{"id": id, "title": fmt.Sprintf("thing %d of kind %d", k, c), "categories": []string{in.cat},
				"brand": in.brand, "price": in.price, "created_at": fmt.Sprintf("2026-01-%02dT00:00:00Z", 1+c*3+k%3)})
		}
	}
	post(t, base+"/api/items", its)
	var evs []map[string]any
	add := func(user, item, typ, ts, session string) {
		evs = append(evs, map[string]any{"user_id": user, "item_id": item, "type": typ, "timestamp": ts, "session_id": session})
	}
	// shoppers who buy c0i0 together with items of other kinds and prices
	for u := 0; u < 6; u++ {
		for k, partner := range []string{"c1i0", "c6i1", "c7i4", "c2i3"} {
			s := fmt.Sprintf("s%d-%d", u, k)
			ts := fmt.Sprintf("2026-02-%02dT10:00:00Z", 1+k*5+u)
			add(fmt.Sprintf("u%d", u), "c0i0", "purchase", ts, s)
			add(fmt.Sprintf("u%d", u), partner, "purchase", ts, s)
		}
	}
	// "me" bought three kinds twice each and viewed three others
	for k, item := range []string{"c0i0", "c1i3", "c2i1"} {
		add("me", item, "purchase", fmt.Sprintf("2026-02-%02dT09:00:00Z", 1+k), "")
		add("me", item, "purchase", fmt.Sprintf("2026-02-%02dT09:00:00Z", 10+k), "")
	}
	for k, item := range []string{"c3i0", "c4i1", "c5i2"} {
		add("me", item, "view", fmt.Sprintf("2026-02-%02dT12:00:00Z", 20+k), "")
	}
	post(t, base+"/api/events", evs)

	routes := []struct{ name, method, path, body string }{
		{"buy-again", "GET", "/api/recommend/me/buy-again", ""},
		{"recently-viewed", "GET", "/api/recommend/me/recently-viewed", ""},
		{"new-arrivals", "GET", "/api/recommend/me/new-arrivals", ""},
		{"because-you-viewed", "GET", "/api/recommend/me/because-you-viewed", ""},
		{"basket", "POST", "/api/recommend/basket", `{"items":["c0i0"]}`},
	}
	for _, r := range routes {
		code, all := call(t, r.method, base+r.path+"?n=10", r.body)
		if code != 200 || len(all.Items) < 2 {
			t.Fatalf("%s unfiltered: %d %+v (the fixture should give at least 2 items)", r.name, code, all)
		}
		last := catalogue[all.Items[len(all.Items)-1].ID]
		cheapest := last.price
		for _, it := range all.Items {
			cheapest = min(cheapest, catalogue[it.ID].price)
		}
		// the brand of the last item, or the other brand when every item
		// has that one (bought together can answer with one brand only)
		brand := last.brand
		if !slices.ContainsFunc(all.Items, func(it recommend.Item) bool { return catalogue[it.ID].brand != brand }) {
			brand = map[string]string{"Acme": "Bolt", "Bolt": "Acme"}[brand]
		}
		filters := []struct {
			name, query string
			allows      func(id string) bool
		}{
			{"category", "category=" + last.cat, func(id string) bool { return catalogue[id].cat == last.cat }},
			{"brand", "brand=" + strings.ToLower(brand), func(id string) bool { return catalogue[id].brand == brand }},
			{"max_price", fmt.Sprintf("max_price=%g", cheapest), func(id string) bool { return catalogue[id].price <= cheapest }},
			{"exclude", "exclude=" + all.Items[0].ID, func(id string) bool { return id != all.Items[0].ID }},
		}
		for _, f := range filters {
			t.Run(r.name+"/"+f.name, func(t *testing.T) {
				ruledOut := 0
				for _, it := range all.Items {
					if !f.allows(it.ID) {
						ruledOut++
					}
				}
				if ruledOut == 0 {
					t.Fatalf("the unfiltered answer %v holds nothing %s rules out: the case cannot fail", ids(all.Items), f.query)
				}
				code, got := call(t, r.method, base+r.path+"?n=10&"+f.query, r.body)
				if code != 200 || len(got.Items) == 0 {
					t.Fatalf("%s?%s: %d %+v, want a non-empty answer", r.path, f.query, code, got)
				}
				for _, it := range got.Items {
					if !f.allows(it.ID) {
						t.Errorf("%s?%s let %s (%+v) through: %v", r.path, f.query, it.ID, catalogue[it.ID], ids(got.Items))
					}
				}
				for _, row := range got.Rows {
					for _, it := range row.Items {
						if !f.allows(it.ID) {
							t.Errorf("%s?%s: the row of %s holds %s (%+v)", r.path, f.query, row.AnchorID, it.ID, catalogue[it.ID])
						}
					}
				}
			})
		}
	}
}

func ids(items []recommend.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}
