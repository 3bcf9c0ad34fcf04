package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/store"
)

// The rows a shop expects beside "recommended for you" (buy it again,
// because you viewed X, new for you, recently viewed) and the cart page
// with "complete your basket".

// recommended is the "recommended for you" row: the service's personal
// answer, or, for a shopper who has done nothing yet but whose attributes
// are known (country, segment…), what shoppers like them choose.
func (u *UI) recommended(ctx context.Context, v visitor, req recommend.Request) (*recommend.Answer, error) {
	if !v.Anonymous {
		evs, err := u.eng.UserEvents(ctx, v.User, 1)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("events of %q: %w", v.User, err)
		}
		if len(evs) == 0 {
			ans, ok, err := u.svc.ColdStart(ctx, v.User, req)
			if err != nil {
				return nil, err
			}
			if ok {
				return ans, nil
			}
		}
	}
	return u.svc.Recommend(ctx, v.User, req)
}

// servedRow runs a storefront row of a recommendation surface the way the
// API serves the surface: the shopper's experiment variant (its model or
// diversity, or two rankers interleaved), then rules and ads; the answer is
// logged as an impression with its variant. It returns the row's cards,
// which carry the answer's request id and each item's position, so the
// events the storefront sends are attributed to the variant shown.
func (u *UI) servedRow(r *http.Request, v visitor, list, surface string, req recommend.Request, run func(recommend.Request) (*recommend.Answer, error)) ([]card, error) {
	items, id, _, err := u.srv.StorefrontRecs(r, surface, v.User, v.Session, req, run)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	var out []card
	var ids []string
	for i, it := range items {
		c, err := u.eng.GetItem(ctx, it.ID)
		if err != nil {
			continue // deleted since: the others keep the place they were logged at
		}
		cd := cardOf(c, list, it.Reason)
		cd.RequestID, cd.Position = id, i+1
		cd.Sponsored = it.Sponsored
		out = append(out, cd)
		ids = append(ids, it.ID)
	}
	u.ctr.shown(v.Session, list, ids, u.now())
	return out, nil
}

// recommendedRow is the "recommended for you" row.
func (u *UI) recommendedRow(r *http.Request, v visitor) ([]card, error) {
	return u.servedRow(r, v, "recommended", "recommend", rowRequest(), func(req recommend.Request) (*recommend.Answer, error) {
		return u.recommended(r.Context(), v, req)
	})
}

// becauseRows is how many "because you viewed X" rows the home page shows.
const becauseRows = 2

// personalRows are the home page's rows built on what the shopper did:
// buy it again and because you viewed X first (rows without items are left
// out), then new for you.
func (u *UI) personalRows(ctx context.Context, v visitor) ([]row, error) {
	var rows []row
	again, err := u.svc.BuyAgain(ctx, v.User, rowRequest())
	if err != nil {
		return nil, err
	}
	if len(again.Items) > 0 {
		rows = append(rows, row{ID: "buy_again", Title: "Buy it again", Cards: u.cards(ctx, v, "buy_again", again.Items)})
	}
	because, err := u.svc.BecauseYouViewed(ctx, v.User, becauseRows, rowRequest())
	if err != nil {
		return nil, err
	}
	for k, r := range because {
		if len(r.Items) == 0 {
			continue
		}
		for j := range r.Items { // the title names the anchor; the card needs not repeat it
			r.Items[j].Reason = "like the one you viewed"
		}
		id := fmt.Sprintf("because_%d", k)
		rows = append(rows, row{ID: id, Title: "Because you viewed " + r.AnchorTitle, Cards: u.cards(ctx, v, "because_viewed", r.Items)})
	}
	return rows, nil
}

// newForYouRow is new arrivals ranked by the shopper's taste.
func (u *UI) newForYouRow(ctx context.Context, v visitor) (row, error) {
	fresh, err := u.svc.NewArrivals(ctx, v.User, rowRequest())
	if err != nil {
		return row{}, err
	}
	return row{ID: "new_for_you", Title: "New for you", Empty: "Nothing new in the catalogue lately.", Cards: u.cards(ctx, v, "new_for_you", fresh.Items)}, nil
}

// recentlyViewedRow is what the shopper looked at, newest first.
func (u *UI) recentlyViewedRow(ctx context.Context, v visitor) (row, error) {
	seen, err := u.svc.RecentlyViewed(ctx, v.User, recommend.Request{N: rowLen})
	if err != nil {
		return row{}, err
	}
	items := seen.Items
	for k := range items {
		items[k].Reason = "you viewed this"
	}
	return row{ID: "continue", Title: "Recently viewed", Note: "Continue where you left off.", Empty: "Open a product and it shows up here.", Cards: u.cards(ctx, v, "continue", items)}, nil
}

// maxCart bounds the items the cart page shows.
const maxCart = 30

// cartItems lists what the visitor put in the cart and has not bought
// since, newest first.
func (u *UI) cartItems(ctx context.Context, user string) ([]string, error) {
	evs, err := u.eng.UserEvents(ctx, user, 500)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("cart of %q: %w", user, err)
	}
	decided := map[string]bool{} // newest cart-or-purchase event seen
	var out []string
	for _, e := range evs { // newest first
		if e.ItemID == "" || decided[e.ItemID] || (e.Type != events.AddToCart && e.Type != events.Purchase) {
			continue
		}
		decided[e.ItemID] = true
		if e.Type == events.AddToCart {
			out = append(out, e.ItemID)
			if len(out) == maxCart {
				break
			}
		}
	}
	return out, nil
}

type cartData struct {
	Rows []row
}

// cart is the cart page: the cart's items and "complete your basket".
func (u *UI) cart(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := u.visitorOf(w, r)
	ids, err := u.cartItems(ctx, v.User)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	inCart := make([]recommend.Item, len(ids))
	for k, id := range ids {
		inCart[k] = recommend.Item{ID: id, Reason: "in your cart"}
	}
	rows := []row{{ID: "cart", Title: "Your cart", Empty: "Your cart is empty: open a product and add it.", Cards: u.cards(ctx, v, "cart", inCart)}}
	if len(ids) > 0 {
		ans, err := u.svc.CompleteBasket(ctx, ids, rowRequest())
		if err != nil && !errors.Is(err, recommend.ErrEmptyBasket) {
			u.fail(w, r, err)
			return
		}
		var items []recommend.Item
		if ans != nil {
			items = ans.Items
		}
		rows = append(rows, row{ID: "complete_basket", Title: "Complete your basket", Empty: "Nothing to suggest for this cart yet.", Cards: u.cards(ctx, v, "complete_basket", items)})
	}
	u.render(w, r, http.StatusOK, "cart.html", pageData{Title: "Your cart", Visitor: v, Body: cartData{Rows: rows}})
}
