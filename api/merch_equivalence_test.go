package api

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/ads"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/rules"
)

var updateMerchGolden = flag.Bool("update-merch-golden", false, "rewrite testdata/merch_equivalence.golden.json from the current code")

// TestMerchAnswersUnchanged runs randomised rule sets and ad campaigns
// over search, popular, trending, recommend (with category pages),
// similar and session answers and compares every answer (items with their
// scores, reasons, pins and sponsored marks; totals; the rules applied)
// with the answers recorded before the merchandising step was made
// cheaper (session 8, issue 16): a change of the cost must not change an
// answer. Rewrite the record only for a deliberate change of behaviour
// (go test -run TestMerchAnswersUnchanged ./api -update-merch-golden).
func TestMerchAnswersUnchanged(t *testing.T) {
	var got bytes.Buffer
	for seed := range uint64(6) {
		merchEquivalenceRound(t, seed, &got)
	}
	path := filepath.Join("testdata", "merch_equivalence.golden.json")
	if *updateMerchGolden {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the recorded answers: %v", err)
	}
	gl, wl := bytes.Split(got.Bytes(), []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := range max(len(gl), len(wl)) {
		var g, w []byte
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if !bytes.Equal(g, w) {
			t.Fatalf("answer %d differs from the recorded one:\n got %s\nwant %s", i, g, w)
		}
	}
}

// merchEquivalenceRound builds a shop, random rules and campaigns from
// seed, runs a fixed sequence of requests and writes one line per answer
// (without its request id and timing).
func merchEquivalenceRound(t *testing.T, seed uint64, out *bytes.Buffer) {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 16))
	st, eng := testEngine(t)
	colours := []string{"blue", "red", "gel", "black", "green"}
	kinds := []string{"pen", "stapler", "notebook", "folder", "marker", "paper"}
	brands := []string{"Pilot", "Bic", "Acme", "Zebra"}
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	var items []catalog.Item
	for i := range 400 {
		p := 1 + float64(rng.IntN(100))
		kind := kinds[rng.IntN(len(kinds))]
		cats := []string{"Office/" + kind}
		if rng.IntN(5) == 0 {
			cats = append(cats, "School/"+kind)
		}
		created := old
		if rng.IntN(3) == 0 {
			created = time.Now().Add(-time.Hour)
		}
		items = append(items, catalog.Item{ID: fmt.Sprintf("i%03d", i), Title: fmt.Sprintf("%s %s %d", colours[rng.IntN(len(colours))], kind, i),
			Brand: brands[rng.IntN(len(brands))], Categories: cats, Price: &p, Available: rng.IntN(8) != 0, CreatedAt: created,
			Attributes: map[string]any{"colour": colours[rng.IntN(len(colours))]}})
	}
	if err := eng.AddItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	var evs []events.Event
	for k := range 3000 {
		evs = append(evs, events.Event{UserID: fmt.Sprintf("u%d", rng.IntN(60)), ItemID: items[rng.IntN(len(items))].ID, Type: events.View,
			Timestamp: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(k) * time.Minute)})
	}
	if err := eng.AddEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	var users []catalog.User
	for u := range 60 {
		users = append(users, catalog.User{ID: fmt.Sprintf("u%d", u), Attributes: map[string]any{"tier": []string{"gold", "silver"}[u%2]}})
	}
	if err := eng.AddUsers(ctx, users); err != nil {
		t.Fatal(err)
	}
	srv := searchRecServer(t, st, eng, items)
	book, err := rules.Open(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	pick := func(l []string) string { return l[rng.IntN(len(l))] }
	item := func() string { return items[rng.IntN(len(items))].ID }
	filter := func() rules.Filter {
		var f rules.Filter
		switch rng.IntN(6) {
		case 0:
			f.Brands = []string{pick(brands)}
			if rng.IntN(2) == 0 {
				f.Brands = append(f.Brands, " "+pick(brands)+" ")
			}
		case 1:
			f.Categories = []string{"Office/" + pick(kinds)}
		case 2:
			f.MaxPrice = ptrF(float64(20 + rng.IntN(60)))
		case 3:
			f.InStock = true
		case 4:
			f.NewWithinDays = 3
		case 5:
			f.Attributes = map[string]string{"colour": pick(colours)}
		}
		if rng.IntN(4) == 0 {
			f.MinPrice = ptrF(float64(rng.IntN(30)))
		}
		return f
	}
	surfaces := []string{"search", "recommend", "similar", "popular", "trending", "session"}
	for k := range 4 + rng.IntN(10) {
		r := rules.Rule{ID: fmt.Sprintf("rule-%02d", k), Name: fmt.Sprint("r", k), Priority: rng.IntN(3)}
		switch rng.IntN(6) {
		case 0:
			r.If.Query = pick(colours) + " " + pick(kinds)
			if rng.IntN(2) == 0 {
				r.If.Synonyms = []string{pick(kinds)}
			}
		case 1:
			r.If.Query, r.If.QueryMatch = pick(kinds), "contains"
		case 2:
			r.If.Category = "Office/" + pick(kinds)
		case 3:
			r.If.Segment = map[string]string{"tier": "gold"}
		}
		if rng.IntN(2) == 0 && r.If.Query == "" {
			r.If.Surfaces = []string{pick(surfaces)}
		}
		if rng.IntN(6) == 0 {
			until := time.Now().Add(time.Duration(1+rng.IntN(3)) * 24 * time.Hour)
			r.If.Until = &until
		}
		for _, pos := range rng.Perm(12)[:rng.IntN(3)] {
			if id := item(); !slices.ContainsFunc(r.Then.Pin, func(p rules.Pin) bool { return p.ItemID == id }) {
				r.Then.Pin = append(r.Then.Pin, rules.Pin{ItemID: id, Position: 1 + pos})
			}
		}
		for range rng.IntN(3) {
			r.Then.Hide = append(r.Then.Hide, item())
		}
		for range rng.IntN(3) {
			r.Then.Boost = append(r.Then.Boost, rules.Weighted{Filter: filter(), Strength: 0.05 + rng.Float64()*0.95})
		}
		for range rng.IntN(2) {
			r.Then.Bury = append(r.Then.Bury, rules.Weighted{Filter: filter(), Strength: 0.05 + rng.Float64()*0.95})
		}
		if rng.IntN(4) == 0 {
			f := filter()
			r.Then.Filter = &f
		}
		if len(r.Then.Pin)+len(r.Then.Hide)+len(r.Then.Boost)+len(r.Then.Bury) == 0 && r.Then.Filter == nil {
			r.Then.Hide = []string{item()}
		}
		if _, err := book.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	cache := rules.NewItemCache(eng.GetItem, 10_000)
	eng.Subscribe(cache)
	cfg := ads.DefaultConfig()
	adSvc, err := ads.New(ctx, ads.Options{Store: st, Item: cache.Get, ReadItems: cache.Read, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	for k := range 3 + rng.IntN(12) {
		c := ads.Campaign{ID: fmt.Sprintf("camp-%02d", k), Name: fmt.Sprint("c", k), Advertiser: fmt.Sprint("a", k%3), Bid: 0.1 + float64(rng.IntN(20))/10, DailyBudget: 1e6, Pacing: "asap"}
		for range 1 + rng.IntN(4) {
			c.Items = append(c.Items, item())
		}
		switch rng.IntN(4) {
		case 0:
			c.Targeting.Queries = []string{pick(kinds), pick(colours) + " " + pick(kinds)}
			c.Targeting.MatchType = []string{"", ads.MatchExact, ads.MatchPhrase}[rng.IntN(3)]
		case 1:
			c.Targeting.Categories = []string{"Office/" + pick(kinds)}
		case 2:
			c.Targeting.Surfaces = []string{pick(surfaces), pick(surfaces)}
		}
		if rng.IntN(4) == 0 {
			c.FrequencyCap = 1 + rng.IntN(3)
		}
		if _, err := adSvc.Save(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	srv.AddMerchRoutes(MerchOptions{Rules: book, Ads: adSvc, Items: cache})
	srv.SetReady(true)

	get := func(url string) {
		t.Helper()
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", url, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", url, rec.Code, rec.Body)
		}
		var a map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		delete(a, "request_id")
		delete(a, "took_ms")
		line, err := json.Marshal(map[string]any{"seed": seed, "url": url, "answer": a})
		if err != nil {
			t.Fatal(err)
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	post := func(url, body string) {
		t.Helper()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", url, bytes.NewBufferString(body))
		req.Header.Set("Content-Type", "application/json")
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", url, rec.Code, rec.Body)
		}
		var a map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		delete(a, "request_id")
		line, _ := json.Marshal(map[string]any{"seed": seed, "url": url, "body": body, "answer": a})
		out.Write(line)
		out.WriteByte('\n')
	}
	for q := range 40 {
		user := fmt.Sprintf("u%d", rng.IntN(60))
		n := 1 + rng.IntN(20)
		var url string
		switch rng.IntN(7) {
		case 0, 1:
			query := pick(colours) + "+" + pick(kinds)
			if rng.IntN(3) == 0 {
				query = pick(kinds)
			}
			url = fmt.Sprintf("/api/search?q=%s&n=%d&user_id=%s", query, n, user)
			if rng.IntN(3) == 0 {
				url += fmt.Sprintf("&offset=%d", rng.IntN(15))
			}
			if rng.IntN(4) == 0 {
				url += "&sort=" + []string{"price_asc", "price_desc", "newest"}[rng.IntN(3)]
			}
			if rng.IntN(4) == 0 {
				url += "&category=Office/" + pick(kinds)
			}
		case 2:
			url = fmt.Sprintf("/api/popular?n=%d&user_id=%s", n, user)
		case 3:
			url = fmt.Sprintf("/api/trending?n=%d&user_id=%s", n, user)
		case 4:
			url = fmt.Sprintf("/api/recommend/%s?n=%d", user, n)
			if rng.IntN(2) == 0 {
				url += "&category=Office/" + pick(kinds)
			}
		case 5:
			url = fmt.Sprintf("/api/items/%s/similar?n=%d&user_id=%s", item(), n, user)
		case 6:
			post(fmt.Sprintf("/api/recommend/session?n=%d&user_id=%s", n, user), fmt.Sprintf(`{"items":[%q,%q]}`, item(), item()))
			continue
		}
		if q%9 == 8 {
			url += "&rules=off"
		}
		if q%7 == 6 {
			url += "&ads=off"
		}
		get(url)
	}
}
