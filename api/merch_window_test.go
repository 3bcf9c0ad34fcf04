package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/rules"
)

// moveWindowServer serves 200 pens whose scores all differ (so that the
// scale of a window depends on its last candidate): item i has a title
// of i+1 words after "pen" (a longer title scores lower for "pen") and
// 200−i views; brands Pilot, Bic and Acme in turn. Rules: a search for
// "pen" boosts Bic by 0.3, popular buries Acme by 0.2.
func moveWindowServer(t *testing.T) *Server {
	ctx := context.Background()
	st, eng := testEngine(t)
	var items []catalog.Item
	var evs []events.Event
	for i := range 200 {
		p := 1 + float64(i)
		items = append(items, catalog.Item{ID: fmt.Sprintf("i%03d", i), Title: "pen" + strings.Repeat(" word", i+1),
			Brand: []string{"Pilot", "Bic", "Acme"}[i%3], Categories: []string{"Office/pen"}, Price: &p, Available: true})
		for k := range 200 - i {
			evs = append(evs, events.Event{UserID: fmt.Sprintf("u%d", k%50), ItemID: items[i].ID, Type: events.View})
		}
	}
	if err := eng.AddItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	if err := eng.AddEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	srv := searchRecServer(t, st, eng, items)
	book, err := rules.Open(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []rules.Rule{
		{Name: "boost", If: rules.Condition{Query: "pen"}, Then: rules.Consequence{Boost: []rules.Weighted{{Filter: rules.Filter{Brands: []string{"Bic"}}, Strength: 0.3}}}},
		{Name: "bury", If: rules.Condition{Surfaces: []string{"popular"}}, Then: rules.Consequence{Bury: []rules.Weighted{{Filter: rules.Filter{Brands: []string{"Acme"}}, Strength: 0.2}}}},
	} {
		if _, err := book.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	cache := rules.NewItemCache(eng.GetItem, 1000)
	eng.Subscribe(cache)
	srv.AddMerchRoutes(MerchOptions{Rules: book, Items: cache})
	srv.SetReady(true)
	return srv
}

// Boosts and buries re-score the first rules.MoveWindow candidates on one
// scale, so every answer that ends within them is a part of the longer
// ones (docs/merchandising.md, semantics 4 and 7): a search for "pen"
// (a boost of Bic) and popular (a bury of Acme) answer the same
// first 40 items for n=40 as for n=60 and n=90, and a later page is the
// same part of a longer answer. Before, a page of n took offset+2n items
// (and popular 2n+pins) when that was more than 100, so n=60 and n=90
// were arranged on another scale than n=40.
func TestMoveWindowPagesFollowEachOther(t *testing.T) {
	srv := moveWindowServer(t)
	ids := func(url string) []string {
		t.Helper()
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", url, nil))
		var a struct {
			Items []struct{ ID string }
			Rules []string
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || rec.Code != 200 {
			t.Fatalf("%s: %d %s: %v", url, rec.Code, rec.Body, err)
		}
		if len(a.Rules) == 0 {
			t.Fatalf("%s: no rule applied", url)
		}
		var out []string
		for _, it := range a.Items {
			out = append(out, it.ID)
		}
		return out
	}
	for _, base := range []string{"/api/search?q=pen&ads=off&user_id=u1", "/api/popular?ads=off&user_id=u1"} {
		short := ids(base + "&n=40")
		if len(short) != 40 {
			t.Fatalf("%s&n=40: %d items", base, len(short))
		}
		for _, n := range []int{60, 90} {
			long := ids(fmt.Sprintf("%s&n=%d", base, n))
			if len(long) != n {
				t.Fatalf("%s&n=%d: %d items", base, n, len(long))
			}
			if !slices.Equal(long[:40], short) {
				t.Errorf("%s: the first 40 of n=%d are\n%v\nn=40 answers\n%v", base, n, long[:40], short)
			}
			if strings.HasPrefix(base, "/api/search") { // a later page
				page := ids(fmt.Sprintf("%s&n=10&offset=%d", base, n-10))
				if !slices.Equal(long[n-10:], page) {
					t.Errorf("%s: items %d-%d of n=%d are\n%v\nthe page at offset %d is\n%v", base, n-9, n, n, long[n-10:], n-10, page)
				}
			}
		}
	}
}
