package web

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
)

func TestShopRowsAndCart(t *testing.T) {
	s := newShop(t, Options{AdminKey: testAdminKey, Demo: true})
	c := s.client()
	s.postForm(c, "/ui/user", url.Values{"user": {"u000"}, "next": {"/"}})
	bought := map[string]bool{}
	for _, e := range s.userEvents("u000") {
		bought[e.ItemID] = true
	}
	_, body := s.get(c, "/")
	again := rowIDs(body, "buy_again")
	if len(again) == 0 || !strings.Contains(body, "Buy it again") {
		t.Fatalf("no buy-again row for u000")
	}
	for _, id := range again {
		if !bought[id] {
			t.Fatalf("buy again shows %s, which u000 never bought", id)
		}
	}
	if !strings.Contains(body, `<span class="reason" title="buy again: you bought it`) || !strings.Contains(body, `">you bought it`) {
		t.Fatal("buy-again cards should say, in words, that the shopper bought it")
	}
	if fresh := rowIDs(body, "new_for_you"); len(fresh) == 0 {
		t.Fatal("no new-for-you row")
	}
	if strings.Contains(body, "Because you viewed") {
		t.Fatal("because-you-viewed row before any view")
	}
	// A product page view gives a "because you viewed" row named after it.
	s.get(c, "/items/P001")
	_, body = s.get(c, "/")
	because := rowIDs(body, "because_0")
	if len(because) == 0 || !strings.Contains(body, "Because you viewed Pens item 1") || slices.Contains(because, "P001") {
		t.Fatalf("because-you-viewed row: %v", because)
	}
	if cont := rowIDs(body, "continue"); len(cont) == 0 || cont[0] != "P001" || !strings.Contains(body, "Recently viewed") {
		t.Fatalf("recently viewed row: %v", cont)
	}
	// The cart page lists the cart and completes it.
	_, body = s.get(c, "/cart")
	if !strings.Contains(body, "Your cart is empty") || rowIDs(body, "complete_basket") != nil {
		t.Fatal("empty cart page")
	}
	for _, id := range []string{"P001", "P005"} {
		if code, got := s.postJSON(c, "/ui/events", `{"type":"add_to_cart","item_id":"`+id+`"}`); code != 200 {
			t.Fatalf("add to cart: %d %s", code, got)
		}
	}
	_, body = s.get(c, "/cart")
	if cart := rowIDs(body, "cart"); !slices.Equal(cart, []string{"P005", "P001"}) {
		t.Fatalf("cart row %v, want [P005 P001]", cart)
	}
	complete := rowIDs(body, "complete_basket")
	if len(complete) == 0 || slices.Contains(complete, "P001") || slices.Contains(complete, "P005") {
		t.Fatalf("complete-your-basket row %v", complete)
	}
	// A purchase takes the item out of the cart.
	s.postJSON(c, "/ui/events", `{"type":"purchase","item_id":"P005"}`)
	_, body = s.get(c, "/cart")
	if cart := rowIDs(body, "cart"); !slices.Equal(cart, []string{"P001"}) {
		t.Fatalf("cart after buying P005: %v", cart)
	}
}

// A shopper with no events but a known country gets, as "recommended for
// you", what shoppers of that country choose; without attributes, the
// usual fallbacks.
func TestColdStartRowFromAttributes(t *testing.T) {
	s := newShop(t, Options{AdminKey: testAdminKey, Demo: true})
	ctx := context.Background()
	var users []catalog.User
	for u := 0; u < 120; u++ {
		country := "UK"
		if u%4 == 2 { // group 2 buys toner (P002, P006, …)
			country = "DE"
		}
		users = append(users, catalog.User{ID: fmt.Sprintf("u%03d", u), Attributes: map[string]any{"country": country}})
	}
	users = append(users, catalog.User{ID: "newbie", Attributes: map[string]any{"country": "de"}}, catalog.User{ID: "plain"})
	if err := s.eng.AddUsers(ctx, users); err != nil {
		t.Fatal(err)
	}
	c := s.client()
	s.postForm(c, "/ui/user", url.Values{"user": {"newbie"}, "next": {"/"}})
	_, body := s.get(c, "/")
	rec := rowIDs(body, "recommended")
	if len(rec) == 0 || !strings.Contains(body, "popular with shoppers like you (country=de)") {
		t.Fatalf("newbie's recommendations %v are not seeded by the country", rec)
	}
	for _, id := range rec[:3] {
		var n int
		fmt.Sscanf(id, "P%d", &n)
		if n%4 != 2 {
			t.Fatalf("newbie's first recommendations %v are not what DE shoppers buy (group 2)", rec)
		}
	}
	s.postForm(c, "/ui/user", url.Values{"user": {"plain"}, "next": {"/"}})
	_, body = s.get(c, "/")
	if strings.Contains(body, "shoppers like you") || len(rowIDs(body, "recommended")) == 0 {
		t.Fatal("a user without attributes should get the usual fallbacks")
	}
}
