package assistant

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/recommend"
)

var toolList = []string{"search_products", "recommend_for_user", "similar_items", "bought_together", "item_details", "compare_items", "add_to_cart"}

var toolNames = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range toolList {
		m[n] = true
	}
	return m
}()

// toolRun executes the model's tool calls of one turn and remembers what
// they returned: the grounded ids, why each fits, the last list.
type toolRun struct {
	a        *Assistant
	conv     *Conversation
	grounded map[string]bool
	why      map[string]string
	last     []string
	intent   Intent
}

type toolItem struct {
	ID       string            `json:"id"`
	Title    string            `json:"title"`
	Brand    string            `json:"brand,omitempty"`
	Category string            `json:"category,omitempty"`
	Price    *float64          `json:"price,omitempty"`
	Attrs    map[string]string `json:"attributes,omitempty"`
	Why      string            `json:"why,omitempty"`
}

type toolArgs struct {
	Query        string   `json:"query"`
	Category     string   `json:"category"`
	Brand        string   `json:"brand"`
	ExcludeBrand string   `json:"exclude_brand"`
	MinPrice     *float64 `json:"min_price"`
	MaxPrice     *float64 `json:"max_price"`
	Color        string   `json:"color"`
	Sort         string   `json:"sort"`
	ItemID       string   `json:"item_id"`
	ItemIDs      []string `json:"item_ids"`
}

func (r *toolRun) items(cards []Card) []toolItem {
	out := make([]toolItem, 0, len(cards))
	r.last = r.last[:0]
	if r.why == nil {
		r.why = map[string]string{}
	}
	for _, c := range cards {
		p, ok := r.a.o.Catalogue.Get(c.ID)
		if !ok {
			continue
		}
		r.grounded[c.ID] = true
		r.why[c.ID] = c.Why
		r.last = append(r.last, c.ID)
		out = append(out, toolItem{ID: p.ID, Title: p.Title, Brand: p.Brand, Category: lastSeg(p.Category()), Price: p.Price, Attrs: p.Attributes, Why: c.Why})
	}
	return out
}

// call runs one tool; a malformed call (arguments that are not the JSON
// object the tool takes) is an error that ends the model's turn.
func (r *toolRun) call(ctx context.Context, name, raw string) (string, error) {
	var args toolArgs
	if strings.TrimSpace(raw) == "" {
		raw = "{}"
	}
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		return "", fmt.Errorf("%w: %s arguments %.100q: %v", errMalformed, name, raw, err)
	}
	a := r.a
	v := a.o.Catalogue.Vocabulary()
	out := func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	}
	needItem := func(id string) (*Product, string) {
		p, ok := a.o.Catalogue.Get(id)
		if !ok {
			return nil, fmt.Sprintf(`{"error":"no product has id %q: use an id from a search result"}`, id)
		}
		return p, ""
	}
	switch name {
	case "search_products":
		r.intent = IntentSearch
		c := Constraints{Query: args.Query, MinPrice: args.MinPrice, MaxPrice: args.MaxPrice}
		if args.Category != "" {
			if paths, ok := v.categories[phrase(tokens(lastSeg(args.Category)))]; ok {
				c.Categories = paths
			} else if c.Query == "" {
				c.Query = args.Category
			}
		}
		if args.Brand != "" {
			if b, ok := v.Brand(args.Brand); ok {
				c.Brands = []string{b}
			} else {
				c.Brands = []string{args.Brand}
			}
		}
		if args.ExcludeBrand != "" {
			c.ExcludeBrands = []string{args.ExcludeBrand}
		}
		if args.Color != "" {
			c.Attributes = map[string]string{"color": strings.ToLower(args.Color)}
		}
		switch args.Sort {
		case "price_asc", "price_desc", "newest", "popular":
			c.Sort = args.Sort
		}
		r.conv.Constraints = c
		cards, total, relaxed, err := a.find(ctx, c, v, false)
		if err != nil {
			return "", err
		}
		return out(map[string]any{"total": total, "relaxed": relaxed, "items": r.items(cards)})
	case "recommend_for_user":
		r.intent = IntentRecommend
		user := r.conv.UserID
		var cards []Card
		if a.o.Recommend != nil && user != "" {
			if res, err := a.o.Recommend.Recommend(ctx, user, recommend.Request{N: a.o.N, Filter: recommend.Filter{AvailableOnly: true}}); err == nil {
				cards = a.cards(res.Items, "picked for this shopper")
			}
		}
		if len(cards) == 0 && a.o.Recommend != nil {
			cards = a.cards(a.o.Recommend.Popular(0, recommend.Request{N: a.o.N}).Items, "popular in the shop")
		}
		return out(map[string]any{"items": r.items(cards)})
	case "similar_items", "bought_together":
		r.intent = IntentSimilar
		p, bad := needItem(args.ItemID)
		if p == nil {
			return bad, nil
		}
		r.grounded[p.ID] = true
		var cards []Card
		if a.o.Recommend != nil {
			f := a.o.Recommend.Similar
			reason := "similar to " + p.Title
			if name == "bought_together" {
				r.intent = IntentTogether
				f, reason = a.o.Recommend.BoughtTogether, "often bought with "+p.Title
			}
			if res, err := f(ctx, p.ID, recommend.Request{N: a.o.N}); err == nil {
				cards = a.cards(res.Items, reason)
			}
		}
		return out(map[string]any{"item": r.items([]Card{cardOf(p, "")})[0], "items": r.items(cards)})
	case "item_details":
		r.intent = IntentDetail
		p, bad := needItem(args.ItemID)
		if p == nil {
			return bad, nil
		}
		it := r.items([]Card{cardOf(p, "the product asked about")})
		r.conv.Focus = p.ID
		return out(map[string]any{"item": it[0], "available": p.Available})
	case "compare_items":
		r.intent = IntentCompare
		var cards []Card
		for _, id := range args.ItemIDs {
			p, bad := needItem(id)
			if p == nil {
				return bad, nil
			}
			cards = append(cards, cardOf(p, "compared"))
		}
		its := r.items(cards)
		pop := map[string]float64{}
		if a.o.Recommend != nil {
			for _, c := range cards {
				pop[c.ID] = a.o.Recommend.Popularity(c.ID)
			}
		}
		return out(map[string]any{"items": its, "popularity": pop})
	case "add_to_cart":
		r.intent = IntentCart
		p, bad := needItem(args.ItemID)
		if p == nil {
			return bad, nil
		}
		r.items([]Card{cardOf(p, "added to the cart")})
		user := r.conv.UserID
		if user == "" && r.conv.SessionID != "" {
			user = "anon-" + r.conv.SessionID
		}
		if user == "" || a.o.Events == nil {
			return `{"added":false,"error":"the shopper is unknown: ask them to use the Add to cart button"}`, nil
		}
		if err := a.o.Events.AddEvents(ctx, []events.Event{{UserID: user, SessionID: r.conv.SessionID, ItemID: p.ID, Type: events.AddToCart, Timestamp: time.Now().UTC()}}); err != nil {
			return "", fmt.Errorf("assistant: add to cart: %w", err)
		}
		return `{"added":true}`, nil
	}
	return "", fmt.Errorf("%w: unknown tool %q", errMalformed, name)
}
