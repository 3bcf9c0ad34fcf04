package web

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestShopRowsAndCart(t *testing.T) {
	s := newShop(t, Options{AdminKey: testAdminKey})
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
