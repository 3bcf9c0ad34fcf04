package recommend

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// rowsShop is a shop of 10 leaf categories × 6 items (c<cat>i<k>), added
// on day 0, and a Service loaded over it with evs in its log.
func rowsShop(t *testing.T, evs []events.Event, users []catalog.User) (*Service, *boltstore.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var its []catalog.Item
	for c := 0; c < 10; c++ {
		for k := 0; k < 6; k++ {
			p := float64(k + 1)
			its = append(its, catalog.Item{ID: fmt.Sprintf("c%di%d", c, k), Title: fmt.Sprintf("%s item %d", catWord[c], k), Brand: fmt.Sprintf("brand%d", c), Categories: []string{fmt.Sprintf("Shop/C%d", c)}, Price: &p, Available: true, CreatedAt: t0})
		}
	}
	if err := st.PutItems(ctx, its); err != nil {
		t.Fatal(err)
	}
	if len(users) > 0 {
		if err := st.PutUsers(ctx, users); err != nil {
			t.Fatal(err)
		}
	}
	if len(evs) > 0 {
		if err := st.AppendEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	svc := New(st, Config{}, nil)
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	return svc, st
}

var catWord = []string{"toner", "paper", "pen", "stapler", "folder", "tape", "marker", "eraser", "clip", "lamp"}

func day(d float64) time.Time { return t0.Add(time.Duration(d * 24 * float64(time.Hour))) }

func ev(user, item string, typ events.Type, d float64) events.Event {
	return events.Event{UserID: user, ItemID: item, Type: typ, Timestamp: day(d)}
}

func ids(its []Item) []string {
	out := make([]string, len(its))
	for k, it := range its {
		out[k] = it.ID
	}
	return out
}

func TestBuyAgainLearnsIntervals(t *testing.T) {
	var evs []events.Event
	// Toner c0i0 is rebought every 10 days, paper c1i0 every 60 days, by
	// many users; that is what the interval model learns.
	for u := 0; u < 8; u++ {
		user := fmt.Sprintf("u%d", u)
		for k := 0; k < 5; k++ {
			evs = append(evs, ev(user, "c0i0", events.Purchase, float64(k*10+u)))
		}
		for k := 0; k < 3; k++ {
			evs = append(evs, ev(user, "c1i0", events.Purchase, float64(k*60+u)))
		}
	}
	// The shopper under test: toner last bought on day 100, paper on day
	// 100 too, a lamp once on day 50.
	evs = append(evs,
		ev("me", "c0i0", events.Purchase, 80), ev("me", "c0i0", events.Purchase, 90), ev("me", "c0i0", events.Purchase, 100),
		ev("me", "c1i0", events.Purchase, 40), ev("me", "c1i0", events.Purchase, 100),
		ev("me", "c9i0", events.Purchase, 50))
	svc, _ := rowsShop(t, evs, nil)
	ctx := context.Background()
	// A small floor, so that timing decides the order (the defaults,
	// chosen on Online Retail, let it move items only a little).
	svc.SetRepurchaseParams(RepurchaseParams{Floor: 0.1, Propensity: 1, OverdueSlack: 2, ItemPrior: 3, CategoryPrior: 5})

	svc.rows.mu.RLock()
	m, _ := svc.rows.interval(0, svc.items.snapshot()[0].cat)
	svc.rows.mu.RUnlock()
	if got := math.Exp(m); got < 8 || got > 13 {
		t.Fatalf("toner interval %.1f days, want about 10", got)
	}

	cases := []struct {
		name  string
		at    float64
		req   Request
		first string
		want  []string // exactly these, in any order, when set
	}{
		{"toner due after 10 days", 110, Request{N: 10}, "c0i0", []string{"c0i0", "c1i0", "c9i0"}},
		{"paper due after 60 days, toner long overdue", 160, Request{N: 10}, "c1i0", nil},
		{"filter by category", 110, Request{N: 10, Filter: Filter{Categories: []string{"Shop/C1"}}}, "c1i0", []string{"c1i0"}},
		{"exclude; the lamp (shop-wide interval, overdue) before paper (not due)", 110, Request{N: 10, Filter: Filter{Exclude: []string{"c0i0"}}}, "c9i0", []string{"c1i0", "c9i0"}},
		{"n cuts", 110, Request{N: 1}, "c0i0", []string{"c0i0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ans, err := svc.BuyAgainAt(ctx, "me", day(c.at), c.req)
			if err != nil {
				t.Fatal(err)
			}
			got := ids(ans.Items)
			if len(got) == 0 || got[0] != c.first {
				t.Fatalf("got %v (%+v), want %s first", got, ans.Items, c.first)
			}
			if c.want != nil {
				g, w := slices.Clone(got), slices.Clone(c.want)
				slices.Sort(g)
				slices.Sort(w)
				if !slices.Equal(g, w) {
					t.Fatalf("got %v, want %v", got, c.want)
				}
			}
			if !strings.HasPrefix(ans.Items[0].Reason, "buy again") {
				t.Fatalf("reason %q", ans.Items[0].Reason)
			}
		})
	}
	// Reasons claim an interval only where repurchases were seen.
	ans, _ := svc.BuyAgainAt(ctx, "me", day(110), Request{N: 10})
	for _, it := range ans.Items {
		want := map[string]string{"c0i0": "buy again: you bought it 3×, usually every 1", "c9i0": "buy again: you bought it before"}[it.ID]
		if want != "" && !strings.HasPrefix(it.Reason, want) {
			t.Errorf("%s: reason %q, want it to start %q", it.ID, it.Reason, want)
		}
		if it.ID == "c9i0" && strings.Contains(it.Reason, "every") {
			t.Errorf("lamp reason %q claims an interval nobody showed", it.Reason)
		}
	}
	if ans, err := svc.BuyAgain(ctx, "nobody", Request{N: 5}); err != nil || len(ans.Items) != 0 {
		t.Fatalf("unknown user: %+v %v", ans, err)
	}
	// A deleted user's purchases are forgotten.
	svc.UserDeleted("me")
	if ans, _ := svc.BuyAgain(ctx, "me", Request{N: 5}); len(ans.Items) != 0 {
		t.Fatalf("deleted user still has %v", ids(ans.Items))
	}
}

func TestDue(t *testing.T) {
	m, sd := math.Log(10), 0.5
	at := func(d float64) float64 { return due(int64(d*86400), m, sd, 2) }
	if v := at(10); math.Abs(v-1) > 1e-9 {
		t.Fatalf("due at the interval = %v, want 1", v)
	}
	if !(at(2) < at(5) && at(5) < at(10)) {
		t.Fatalf("due must rise towards the interval: %v %v %v", at(2), at(5), at(10))
	}
	if !(at(40) < at(20) && at(20) < at(10)) {
		t.Fatalf("due must fall once overdue: %v %v", at(20), at(40))
	}
	if at(20) <= at(5) { // same log distance, overdue falls off slower
		t.Fatalf("overdue %v should beat early %v", at(20), at(5))
	}
}

func TestRecentlyViewed(t *testing.T) {
	evs := []events.Event{
		ev("me", "c0i0", events.View, 1), ev("me", "c1i0", events.View, 2), ev("me", "c0i0", events.Click, 3),
		ev("me", "c2i0", events.Purchase, 4), ev("me", "c3i0", events.AddToCart, 5),
	}
	svc, _ := rowsShop(t, evs, nil)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		req  Request
		want []string
	}{
		{"newest first, once each", Request{N: 10}, []string{"c3i0", "c0i0", "c1i0"}},
		{"n", Request{N: 2}, []string{"c3i0", "c0i0"}},
		{"exclude", Request{N: 10, Filter: Filter{Exclude: []string{"c0i0"}}}, []string{"c3i0", "c1i0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ans, err := svc.RecentlyViewed(ctx, "me", c.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(ans.Items); !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestNewArrivalsReachColdItemsThroughContent(t *testing.T) {
	evs := []events.Event{ev("me", "c3i0", events.View, 1), ev("me", "c3i1", events.Purchase, 2), ev("other", "c5i0", events.Purchase, 1)}
	svc, st := rowsShop(t, evs, nil)
	ctx := context.Background()
	// Two items arrive 40 days later, with no events: a stapler (the
	// shopper's category) and a lamp.
	p := 9.0
	fresh := []catalog.Item{
		{ID: "new-lamp", Title: "lamp deluxe", Brand: "brand9", Categories: []string{"Shop/C9"}, Price: &p, Available: true, CreatedAt: day(40)},
		{ID: "new-stapler", Title: "stapler heavy duty", Brand: "brandX", Categories: []string{"Shop/C3"}, Price: &p, Available: true, CreatedAt: day(41)},
	}
	if err := st.PutItems(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	svc.ItemsUpserted(fresh)

	ans, err := svc.NewArrivals(ctx, "me", Request{N: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(ans.Items); !slices.Equal(got, []string{"new-stapler", "new-lamp"}) {
		t.Fatalf("got %v, want the new stapler then the lamp (old items are not new)", got)
	}
	if !strings.Contains(ans.Items[0].Reason, "Shop/C3") {
		t.Fatalf("reason %q should name the category", ans.Items[0].Reason)
	}
	// A user with no history gets the newest first.
	ans, _ = svc.NewArrivals(ctx, "stranger", Request{N: 10})
	if got := ids(ans.Items); !slices.Equal(got, []string{"new-stapler", "new-lamp"}) {
		t.Fatalf("cold user got %v", got)
	}
	// Filters apply; deleted items go at once.
	ans, _ = svc.NewArrivals(ctx, "me", Request{N: 10, Filter: Filter{Categories: []string{"Shop/C9"}}})
	if got := ids(ans.Items); !slices.Equal(got, []string{"new-lamp"}) {
		t.Fatalf("category filter: got %v", got)
	}
	svc.ItemsDeleted([]string{"new-stapler"})
	ans, _ = svc.NewArrivals(ctx, "me", Request{N: 10})
	if got := ids(ans.Items); !slices.Equal(got, []string{"new-lamp"}) {
		t.Fatalf("after delete: got %v", got)
	}
}

// TestNewArrivalsWordsFollowRenames checks that the title words new
// arrivals score with are the current title's, also after a rename of an
// item already answered (the words are analysed when asked for and kept).
func TestNewArrivalsWordsFollowRenames(t *testing.T) {
	evs := []events.Event{ev("me", "c3i0", events.View, 1), ev("me", "c3i1", events.View, 2)}
	svc, st := rowsShop(t, evs, nil)
	ctx := context.Background()
	p := 9.0
	// Neither new item shares the shopper's category or brand; only the
	// words can tell them apart.
	fresh := []catalog.Item{
		{ID: "new-a", Title: "lamp deluxe", Brand: "brandA", Categories: []string{"Shop/C8"}, Price: &p, Available: true, CreatedAt: day(41)},
		{ID: "new-b", Title: catWord[3] + " special", Brand: "brandB", Categories: []string{"Shop/C9"}, Price: &p, Available: true, CreatedAt: day(40)},
	}
	upsert := func(its ...catalog.Item) {
		t.Helper()
		if err := st.PutItems(ctx, its); err != nil {
			t.Fatal(err)
		}
		svc.ItemsUpserted(its)
	}
	upsert(fresh...)
	ans, err := svc.NewArrivals(ctx, "me", Request{N: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(ans.Items); !slices.Equal(got, []string{"new-b", "new-a"}) {
		t.Fatalf("got %v, want new-b (its title shares the shopper's words) first", got)
	}
	a, b := fresh[0], fresh[1]
	a.Title, b.Title = catWord[3]+" special", "lamp deluxe"
	upsert(a, b)
	ans, _ = svc.NewArrivals(ctx, "me", Request{N: 10})
	if got := ids(ans.Items); !slices.Equal(got, []string{"new-a", "new-b"}) {
		t.Fatalf("after the renames got %v, want new-a first", got)
	}
}

func TestBecauseYouViewed(t *testing.T) {
	evs := []events.Event{ev("me", "c2i0", events.View, 1), ev("me", "c4i0", events.View, 2), ev("me", "c4i1", events.Purchase, 2)}
	svc, _ := rowsShop(t, evs, nil)
	rows, err := svc.BecauseYouViewed(context.Background(), "me", 2, Request{N: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].AnchorID != "c4i0" || rows[1].AnchorID != "c2i0" {
		t.Fatalf("anchors %+v, want c4i0 then c2i0", rows)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if len(r.Items) == 0 {
			t.Fatalf("row for %s is empty", r.AnchorID)
		}
		for _, it := range r.Items {
			if it.ID == "c4i0" || it.ID == "c2i0" || it.ID == "c4i1" || seen[it.ID] {
				t.Fatalf("row %s holds %s (an anchor, a bought item or a repeat)", r.AnchorID, it.ID)
			}
			seen[it.ID] = true
			if it.Reason != "because you viewed "+r.AnchorTitle {
				t.Fatalf("reason %q", it.Reason)
			}
		}
	}
	if rows[0].AnchorTitle != "folder item 0" {
		t.Fatalf("anchor title %q", rows[0].AnchorTitle)
	}
}

func TestCompleteBasket(t *testing.T) {
	var evs []events.Event
	// Toner is bought with paper (often) and a lamp (sometimes); people
	// also buy two toners together, but another toner is a substitute.
	for u := 0; u < 6; u++ {
		user := fmt.Sprintf("u%d", u)
		d := float64(u)
		evs = append(evs, ev(user, "c0i0", events.Purchase, d), ev(user, "c1i0", events.Purchase, d), ev(user, "c0i1", events.Purchase, d))
		if u < 2 {
			evs = append(evs, ev(user, "c9i0", events.Purchase, d))
		}
	}
	svc, _ := rowsShop(t, evs, nil)
	ctx := context.Background()
	ans, err := svc.CompleteBasket(ctx, []string{"c0i0", "unknown-id"}, Request{N: 5})
	if err != nil {
		t.Fatal(err)
	}
	got := ids(ans.Items)
	if len(got) < 2 || got[0] != "c1i0" || got[1] != "c9i0" {
		t.Fatalf("got %v, want paper then the lamp first", got)
	}
	for _, it := range ans.Items {
		if strings.HasPrefix(it.ID, "c0") {
			t.Fatalf("%s is in the basket or a substitute of it: %v", it.ID, got)
		}
	}
	if ans.Items[0].Reason != "often bought with toner item 0" {
		t.Fatalf("reason %q", ans.Items[0].Reason)
	}
	if len(got) != 5 {
		t.Fatalf("want the row filled to 5, got %v", got)
	}
	// Filters apply.
	ans, _ = svc.CompleteBasket(ctx, []string{"c0i0"}, Request{N: 5, Filter: Filter{Exclude: []string{"c1i0"}}})
	if got := ids(ans.Items); len(got) == 0 || got[0] != "c9i0" {
		t.Fatalf("exclude: got %v", got)
	}
	if _, err := svc.CompleteBasket(ctx, []string{"nope"}, Request{N: 5}); !errors.Is(err, ErrEmptyBasket) {
		t.Fatalf("empty basket: %v", err)
	}
}

// TestCompleteBasketSharedBasketsFirst: the item the shop's baskets hold
// most often with the basket's item completes it first, even when it is
// bought with everything (lift 1, so bought together's blend does not
// rank it first); a pair that met in one basket only is not ranked by its
// baskets; and a substitute stays out however often bought with it.
func TestCompleteBasketSharedBasketsFirst(t *testing.T) {
	var evs []events.Event
	for u := 0; u < 40; u++ {
		user := fmt.Sprintf("u%d", u)
		d := float64(u)
		evs = append(evs, ev(user, "c1i0", events.Purchase, d)) // paper: in every basket
		if u < 10 {
			evs = append(evs, ev(user, "c0i0", events.Purchase, d))
		}
		if u < 3 { // tape: with toner only, in three baskets
			evs = append(evs, ev(user, "c5i0", events.Purchase, d))
		}
		if u < 4 { // another toner, bought with it
			evs = append(evs, ev(user, "c0i3", events.Purchase, d))
		}
		if u == 5 { // a lamp, in one basket with toner
			evs = append(evs, ev(user, "c9i0", events.Purchase, d))
		}
	}
	svc, _ := rowsShop(t, evs, nil)
	ctx := context.Background()
	bt, err := svc.BoughtTogether(ctx, "c0i0", Request{N: 5})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := svc.CompleteBasket(ctx, []string{"c0i0"}, Request{N: 5})
	if err != nil {
		t.Fatal(err)
	}
	got := ids(ans.Items)
	if len(got) < 3 || got[0] != "c1i0" || got[1] != "c5i0" {
		t.Fatalf("complete basket %v (bought together %v): want paper, then tape", got, ids(bt.Items))
	}
	if ans.Items[1].Reason != "often bought with toner item 0" || ans.Items[2].Reason == ans.Items[1].Reason {
		t.Fatalf("reasons %q, %q: only pairs of two baskets or more are ranked by them", ans.Items[1].Reason, ans.Items[2].Reason)
	}
	if slices.Contains(got, "c0i3") {
		t.Fatalf("complete basket %v offers another toner", got)
	}
}

func TestColdStartFromAttributes(t *testing.T) {
	var evs []events.Event
	var users []catalog.User
	// Shoppers in Germany buy clips; everyone else (more of them) pens.
	for u := 0; u < 20; u++ {
		id := fmt.Sprintf("u%02d", u)
		country, item := "UK", "c2i0"
		if u%4 == 0 {
			country, item = "Germany", "c8i0"
		}
		users = append(users, catalog.User{ID: id, Attributes: map[string]any{"country": country}, CreatedAt: t0})
		evs = append(evs, ev(id, item, events.Purchase, float64(u)))
	}
	users = append(users,
		catalog.User{ID: "new-de", Attributes: map[string]any{"country": "germany", "segment": "b2b"}, CreatedAt: t0},
		catalog.User{ID: "new-plain", CreatedAt: t0},
		catalog.User{ID: "new-fr", Attributes: map[string]any{"country": "France"}, CreatedAt: t0})
	svc, _ := rowsShop(t, evs, users)
	ctx := context.Background()
	if p := svc.Popular(0, Request{N: 1}); p.Items[0].ID != "c2i0" {
		t.Fatalf("global popularity should favour pens, got %v", ids(p.Items))
	}
	for _, c := range []struct {
		user   string
		ok     bool
		first  string
		reason string
	}{
		{"new-de", true, "c8i0", "country=germany"}, // case-insensitive; segment has no peers
		{"new-plain", false, "", ""},
		{"new-fr", false, "", ""}, // no peers
		{"not-stored", false, "", ""},
	} {
		t.Run(c.user, func(t *testing.T) {
			ans, ok, err := svc.ColdStart(ctx, c.user, Request{N: 3})
			if err != nil {
				t.Fatal(err)
			}
			if ok != c.ok {
				t.Fatalf("ok = %v, want %v (%+v)", ok, c.ok, ans)
			}
			if !ok {
				return
			}
			if ans.Items[0].ID != c.first || !strings.Contains(ans.Items[0].Reason, c.reason) {
				t.Fatalf("got %+v, want %s first, reason naming %s", ans.Items, c.first, c.reason)
			}
			// The personal route answers a user with no history the same way.
			rec, err := svc.Recommend(ctx, c.user, Request{N: 3})
			if err != nil {
				t.Fatal(err)
			}
			if rec.Items[0].ID != c.first || !strings.Contains(rec.Items[0].Reason, c.reason) {
				t.Fatalf("Recommend gave %+v, want the attribute cold start (%s first)", rec.Items, c.first)
			}
		})
	}
}

// benchShop is a service over 2,000 items in 10 categories and 500 users
// with 40 purchases each, fed through the listener calls (no store reads
// but the users' own events).
func benchShop(b *testing.B) *Service {
	b.Helper()
	st, err := boltstore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	var its []catalog.Item
	for i := 0; i < 2000; i++ {
		its = append(its, catalog.Item{ID: fmt.Sprintf("i%d", i), Title: fmt.Sprintf("%s number %d", catWord[i%10], i), Categories: []string{fmt.Sprintf("Shop/C%d", i%10)}, Available: true, CreatedAt: day(float64(i % 60))})
	}
	var evs []events.Event
	for u := 0; u < 500; u++ {
		for k := 0; k < 40; k++ {
			item := (u*7 + (k%10)*13 + k/10) % 2000
			evs = append(evs, events.Event{UserID: fmt.Sprintf("u%d", u), ItemID: its[item].ID, Type: events.Purchase, Timestamp: day(float64(k * 3)), SessionID: fmt.Sprintf("s%d-%d", u, k/4)})
		}
	}
	ctx := context.Background()
	if err := st.PutItems(ctx, its); err != nil {
		b.Fatal(err)
	}
	if err := st.AppendEvents(ctx, evs); err != nil {
		b.Fatal(err)
	}
	svc := New(st, Config{}, nil)
	if err := svc.Load(ctx); err != nil {
		b.Fatal(err)
	}
	return svc
}

func BenchmarkRows(b *testing.B) {
	svc := benchShop(b)
	ctx := context.Background()
	req := Request{N: 10, Filter: Filter{AvailableOnly: true}}
	for _, c := range []struct {
		name string
		fn   func() error
	}{
		{"BuyAgain", func() error { _, err := svc.BuyAgain(ctx, "u7", req); return err }},
		{"RecentlyViewed", func() error { _, err := svc.RecentlyViewed(ctx, "u7", req); return err }},
		{"NewArrivals", func() error { _, err := svc.NewArrivals(ctx, "u7", req); return err }},
		{"BecauseYouViewed", func() error { _, err := svc.BecauseYouViewed(ctx, "u7", 3, req); return err }},
		{"CompleteBasket", func() error { _, err := svc.CompleteBasket(ctx, []string{"i7", "i20"}, req); return err }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := c.fn(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestRowsConcurrent runs the rows while events, items and deletions
// arrive (meaningful under -race).
func TestRowsConcurrent(t *testing.T) {
	users := []catalog.User{}
	for u := 0; u < 10; u++ {
		users = append(users, catalog.User{ID: fmt.Sprintf("u%d", u), Attributes: map[string]any{"country": "UK"}, CreatedAt: t0})
	}
	svc, _ := rowsShop(t, nil, users)
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for k := 0; k < 200; k++ {
			u := fmt.Sprintf("u%d", k%10)
			svc.EventsAppended([]events.Event{ev(u, fmt.Sprintf("c%di%d", k%10, k%6), events.Purchase, float64(k))})
			if k%50 == 0 {
				p := 1.0
				svc.ItemsUpserted([]catalog.Item{{ID: fmt.Sprintf("c%di%d", k%10, k%6), Title: "renamed", Categories: []string{"Shop/C1"}, Price: &p, Available: true, CreatedAt: day(float64(k))}})
				svc.UserDeleted("u3")
			}
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
		}
		req := Request{N: 5}
		if _, err := svc.BuyAgain(ctx, "u1", req); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.NewArrivals(ctx, "u1", req); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.PopularAmong(ctx, "new", map[string]any{"country": "UK"}, req); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CompleteBasket(ctx, []string{"c1i1"}, req); err != nil {
			t.Fatal(err)
		}
	}
}
