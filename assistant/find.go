package assistant

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/search"
)

// searchDepth is how many search results are read before the filters the
// index does not apply (excluded brands, attributes) and re-ordering.
const searchDepth = 100

// find runs the constraints as a search; when nothing matches it relaxes
// them one at a time (words no product uses, attributes, price, brand,
// category) and says which it dropped. total counts the matches of the constraints as given.
func (a *Assistant) find(ctx context.Context, c Constraints, v *Vocabulary, zh bool) (cards []Card, total int, relaxed string, err error) {
	cards, total, err = a.search(ctx, c, v)
	if err != nil || len(cards) > 0 {
		return cards, total, "", err
	}
	steps := []struct {
		name, zh string
		drop     func(*Constraints) bool
	}{
		{"without the words no product uses", "去掉店里没有的词", func(k *Constraints) bool {
			var kept []string
			for _, w := range strings.Fields(k.Query) {
				if v.words == nil || v.words.known(w) {
					kept = append(kept, w)
				}
			}
			// all words unknown: the brand, category or price still say something
			ok := len(kept) < len(strings.Fields(k.Query)) && (len(kept) > 0 || len(k.Brands) > 0 || len(k.Categories) > 0)
			if ok {
				k.Query = strings.Join(kept, " ")
			}
			return ok
		}},
		{"without the colour or attribute", "不限颜色或属性", func(k *Constraints) bool {
			ok := len(k.Attributes)+len(k.ExcludeAttributes) > 0
			k.Attributes, k.ExcludeAttributes = nil, nil
			return ok
		}},
		{"without the price limit", "不限价格", func(k *Constraints) bool {
			ok := k.MinPrice != nil || k.MaxPrice != nil
			k.MinPrice, k.MaxPrice = nil, nil
			if k.Sort == "price_asc" || k.Sort == "price_desc" {
				k.Sort = ""
			}
			return ok
		}},
		{"from other brands", "其他品牌", func(k *Constraints) bool { ok := len(k.Brands) > 0; k.Brands = nil; return ok }},
		{"in other categories", "其他类别", func(k *Constraints) bool { ok := len(k.Categories) > 0; k.Categories = nil; return ok }},
	}
	k := c.clone()
	var dropped []string
	for _, s := range steps {
		if !s.drop(&k) {
			continue
		}
		dropped = append(dropped, say(zh, s.name, s.zh))
		cards, _, err = a.search(ctx, k, v)
		if err != nil || len(cards) > 0 {
			return cards, 0, strings.Join(dropped, say(zh, ", ", "，")), err
		}
	}
	return nil, 0, "", nil
}

// affinity is what a recommender that personalises search offers
// (recommend.Service.Affinity): the shopper's affinity for an item.
type affinity interface {
	Affinity(ctx context.Context, user string) (func(itemID string) float64, error)
}

func (a *Assistant) search(ctx context.Context, c Constraints, v *Vocabulary) ([]Card, int, error) {
	req := search.Request{Query: c.Query, Categories: c.Categories, Brands: v.brandSpellings(c.Brands),
		MinPrice: c.MinPrice, MaxPrice: c.MaxPrice, N: searchDepth, NoHighlights: true}
	if user := shopperOf(ctx); user != "" && req.Query != "" {
		if af, ok := a.o.Recommend.(affinity); ok {
			if boost, err := af.Affinity(ctx, user); err == nil {
				req.Boost = boost // the shopper's categories and brands first, as /api/search?user_id does
			}
		}
	}
	switch c.Sort {
	case "price_asc":
		req.Sort = search.SortPriceAsc
	case "price_desc":
		req.Sort = search.SortPriceDesc
	case "newest":
		req.Sort = search.SortNewest
	}
	if len(req.Query) > search.MaxQueryBytes {
		req.Query = req.Query[:search.MaxQueryBytes]
	}
	res, err := a.o.Search.Search(ctx, req)
	if err != nil {
		return nil, 0, fmt.Errorf("assistant: search: %w", err)
	}
	var ps []*Product
	excluded := 0
	for _, h := range res.Items {
		p, ok := a.o.Catalogue.Get(h.ID)
		if !ok || !a.fits(p, c) {
			excluded++
			continue
		}
		ps = append(ps, p)
	}
	total := res.Total - excluded
	if len(res.Items) == searchDepth && excluded > 0 {
		total = res.Total * len(ps) / searchDepth // an estimate past the depth read
	}
	if total < len(ps) {
		total = len(ps)
	}
	if (c.Sort == "popular" || (c.Query == "" && c.Sort == "")) && a.o.Recommend != nil {
		pop := make(map[string]float64, len(ps))
		for _, p := range ps {
			pop[p.ID] = a.o.Recommend.Popularity(p.ID)
		}
		sort.SliceStable(ps, func(i, j int) bool { return pop[ps[i].ID] > pop[ps[j].ID] })
	}
	if len(c.Categories) > 0 && c.Query != "" && len(ps) < a.o.N {
		// the category was read from the words: when it holds too few,
		// the words alone find the rest
		k := c.clone()
		k.Categories = nil
		more, n, err := a.search(ctx, k, v)
		if err != nil {
			return nil, 0, err
		}
		total = max(total, n)
		for _, m := range more {
			if len(ps) < a.o.N && !slices.ContainsFunc(ps, func(p *Product) bool { return p.ID == m.ID }) {
				if p, ok := a.o.Catalogue.Get(m.ID); ok {
					ps = append(ps, p)
				}
			}
		}
	}
	ps = ps[:min(len(ps), a.o.N)]
	cards := make([]Card, len(ps))
	for i, p := range ps {
		cards[i] = cardOf(p, why(p, c))
	}
	return cards, total, nil
}

type shopperKey struct{}

// withShopper tells search whose turn it is, for personalisation.
func withShopper(ctx context.Context, user string) context.Context {
	return context.WithValue(ctx, shopperKey{}, user)
}

func shopperOf(ctx context.Context) string {
	s, _ := ctx.Value(shopperKey{}).(string)
	return s
}

// fits checks the constraints the index does not filter itself.
func (a *Assistant) fits(p *Product, c Constraints) bool {
	if !p.Available {
		return false
	}
	for _, b := range c.ExcludeBrands {
		k := phrase(tokens(b))
		if phrase(tokens(p.Brand)) == k {
			return false
		}
		// an item without a brand that names it in its title ("DYMO
		// LetraTag …") is that brand's
		if p.Brand == "" && strings.Contains(" "+phrase(tokens(p.Title))+" ", " "+k+" ") {
			return false
		}
	}
	for k, v := range c.Attributes {
		if !p.has(k, v) {
			return false
		}
	}
	for k, v := range c.ExcludeAttributes {
		if p.has(k, v) {
			return false
		}
	}
	return true
}

// why says how a product fits the constraints.
func why(p *Product, c Constraints) string {
	var r []string
	if c.Query != "" {
		var hit []string
		for _, w := range tokens(c.Query) {
			if p.words[w] {
				hit = append(hit, w)
			}
		}
		if len(hit) > 0 {
			r = append(r, "title has "+strings.Join(hit, ", "))
		} else {
			r = append(r, "related to \""+c.Query+"\"")
		}
	}
	if len(c.Categories) > 0 {
		r = append(r, "in "+lastSeg(p.Category()))
	}
	if len(c.Brands) > 0 {
		r = append(r, "by "+p.Brand)
	}
	if len(c.ExcludeBrands) > 0 && p.Brand != "" {
		r = append(r, "not "+strings.Join(c.ExcludeBrands, "/"))
	}
	for _, k := range sortedKeys(c.Attributes) {
		r = append(r, c.Attributes[k])
	}
	if p.Price != nil && (c.MinPrice != nil || c.MaxPrice != nil) {
		r = append(r, "$"+money(*p.Price)+" is in your price range")
	}
	switch c.Sort {
	case "price_asc":
		r = append(r, "among the cheapest")
	case "newest":
		r = append(r, "among the newest")
	case "popular":
		r = append(r, "among the most popular")
	}
	if len(r) == 0 {
		return "popular in the shop"
	}
	return strings.Join(r, "; ")
}

func cardOf(p *Product, why string) Card {
	return Card{ID: p.ID, Title: p.Title, Brand: p.Brand, Category: lastSeg(p.Category()), Price: p.Price,
		ImageURL: p.ImageURL, URL: "/items/" + p.ID, Why: why}
}

// popularAnswer shows popular products (a greeting, or when nothing
// matches at all).
func (a *Assistant) popularAnswer(conv *Conversation, zh bool) *Answer {
	ans := &Answer{Constraints: conv.Constraints}
	if a.o.Recommend != nil {
		res := a.o.Recommend.Popular(0, recommend.Request{N: a.o.N, Filter: recommend.Filter{AvailableOnly: true}})
		ans.Products = a.cards(res.Items, "popular in the shop")
	}
	if len(ans.Products) == 0 { // no events yet: the search's own order
		if res, err := a.o.Search.Search(context.Background(), search.Request{N: a.o.N, NoHighlights: true}); err == nil {
			for _, h := range res.Items {
				if p, ok := a.o.Catalogue.Get(h.ID); ok {
					ans.Products = append(ans.Products, cardOf(p, "in the shop's catalogue"))
				}
			}
		}
	}
	conv.Shown = cardIDs(ans.Products)
	ans.Suggestions = suggestions(ans.Products, ans.Constraints, zh)
	return ans
}

func (a *Assistant) cards(items []recommend.Item, reason string) []Card {
	var out []Card
	for _, it := range items {
		p, ok := a.o.Catalogue.Get(it.ID)
		if !ok {
			continue
		}
		r := reason
		if it.Reason != "" && reason == "" {
			r = it.Reason
		}
		out = append(out, cardOf(p, r))
	}
	return out
}

func filterOf(c Constraints, v *Vocabulary) recommend.Filter {
	return recommend.Filter{Categories: c.Categories, Brands: v.brandSpellings(c.Brands), MinPrice: c.MinPrice, MaxPrice: c.MaxPrice, AvailableOnly: true}
}

// recommendTurn recommends for the shopper (popular items for a stranger).
func (a *Assistant) recommendTurn(ctx context.Context, conv *Conversation, p *Parsed, zh bool) (*Answer, error) {
	c := merge(conv, p, a.o.Catalogue)
	conv.Constraints = c
	ans := &Answer{Intent: IntentRecommend, Constraints: c}
	user := conv.UserID
	if user == "" && conv.SessionID != "" {
		user = "anon-" + conv.SessionID
	}
	if a.o.Recommend != nil && user != "" {
		res, err := a.o.Recommend.Recommend(ctx, user, recommend.Request{N: a.o.N * 3, Filter: filterOf(c, a.o.Catalogue.Vocabulary())})
		if err == nil {
			ans.Products = a.keepFitting(a.cards(res.Items, "picked for you from what you viewed and bought"), c)
		}
	}
	if len(ans.Products) == 0 {
		pop := a.popularAnswer(conv, zh)
		ans.Products = a.keepFitting(pop.Products, c)
		if len(ans.Products) == 0 {
			ans.Products = pop.Products
		}
		ans.Reply = say(zh, "I do not know your taste yet, so here is what shoppers like most:", "我还不了解您的喜好，这些是大家最喜欢的：") + listText(ans.Products, zh)
	} else {
		ans.Reply = say(zh, "Picked for you:", "为您推荐：") + listText(ans.Products, zh)
	}
	conv.Shown = cardIDs(ans.Products)
	ans.Suggestions = suggestions(ans.Products, c, zh)
	return ans, nil
}

func (a *Assistant) keepFitting(cs []Card, c Constraints) []Card {
	var out []Card
	for _, x := range cs {
		if p, ok := a.o.Catalogue.Get(x.ID); ok && a.fits(p, c) && len(out) < a.o.N {
			out = append(out, x)
		}
	}
	return out
}

// pick returns the shown product at a 1-based position (-1: the last).
func pick(conv *Conversation, ord int) (string, bool) {
	if ord == -1 {
		ord = len(conv.Shown)
	}
	if ord < 1 || ord > len(conv.Shown) {
		return "", false
	}
	return conv.Shown[ord-1], true
}

// aboutShown answers about products shown before: the Nth, a comparison,
// similar items, items that go with one, add to cart.
func (a *Assistant) aboutShown(ctx context.Context, conv *Conversation, p *Parsed, zh bool) (*Answer, error) {
	ans := &Answer{Intent: p.Intent, Constraints: conv.Constraints}
	if len(conv.Shown) == 0 && conv.Focus == "" {
		pop := a.popularAnswer(conv, zh)
		ans.Products, ans.Suggestions = pop.Products, pop.Suggestions
		ans.Reply = say(zh, "I have not shown you any products yet. Tell me what you are looking for. Popular right now:",
			"我还没有给您看过商品。请告诉我您想找什么。现在热门的有：") + listText(ans.Products, zh)
		return ans, nil
	}
	ords := p.Ordinals
	target := conv.Focus
	if len(ords) > 0 {
		id, ok := pick(conv, ords[0])
		if !ok {
			ans.Products = a.shownCards(conv)
			ans.Reply = say(zh, fmt.Sprintf("I showed %d products; pick one from 1 to %d:", len(conv.Shown), len(conv.Shown)),
				fmt.Sprintf("我展示了 %d 件商品，请在 1 到 %d 之间选择：", len(conv.Shown), len(conv.Shown))) + listText(ans.Products, zh)
			ans.Suggestions = suggestions(ans.Products, conv.Constraints, zh)
			return ans, nil
		}
		target = id
	} else if target == "" || p.Intent == IntentCompare {
		target = conv.Shown[0]
	}
	tp, ok := a.o.Catalogue.Get(target)
	if !ok {
		ans.Reply = say(zh, "That product is no longer in the shop.", "这件商品已下架。")
		return ans, nil
	}
	conv.Focus = target
	switch p.Intent {
	case IntentCompare:
		second := ""
		if len(ords) >= 2 {
			second, _ = pick(conv, ords[1])
		} else {
			for _, id := range conv.Shown {
				if id != target {
					second = id
					break
				}
			}
		}
		q, ok := a.o.Catalogue.Get(second)
		if !ok || second == target {
			ans.Products = []Card{cardOf(tp, "the product you named")}
			ans.Reply = say(zh, "I need two different products to compare; this is the one you named: ", "需要两件不同的商品才能比较；您指的是：") + tp.Title
			return ans, nil
		}
		ans.Products = []Card{cardOf(tp, "first of the two you compare"), cardOf(q, "second of the two you compare")}
		ans.Reply = a.compareText(tp, q, zh)
		ans.Suggestions = []string{say(zh, "Add the first one to my cart", "把第一个加入购物车"), say(zh, "Similar to the second one", "和第二个类似的")}
		return ans, nil
	case IntentSimilar, IntentTogether:
		var res *recommend.Answer
		var err error
		filter := filterOf(Constraints{ExcludeBrands: conv.Constraints.ExcludeBrands}, a.o.Catalogue.Vocabulary())
		if a.o.Recommend != nil {
			if p.Intent == IntentSimilar {
				res, err = a.o.Recommend.Similar(ctx, target, recommend.Request{N: a.o.N * 2, Filter: filter})
			} else {
				res, err = a.o.Recommend.BoughtTogether(ctx, target, recommend.Request{N: a.o.N * 2, Filter: filter})
			}
		}
		var cards []Card
		if err == nil && res != nil {
			reason := say(zh, "similar to ", "类似于 ") + tp.Title
			if p.Intent == IntentTogether {
				reason = say(zh, "often bought with ", "常与之一起购买：") + tp.Title
			}
			cards = a.keepFitting(a.cards(res.Items, reason), Constraints{ExcludeBrands: conv.Constraints.ExcludeBrands, Attributes: conv.Constraints.Attributes})
			cards = slices.DeleteFunc(cards, func(c Card) bool { return c.ID == target })
		}
		if len(cards) == 0 && p.Intent == IntentSimilar { // no behaviour yet: the title's words
			k := Constraints{Query: tp.Title, ExcludeBrands: conv.Constraints.ExcludeBrands}
			found, _, _ := a.search(ctx, k, a.o.Catalogue.Vocabulary())
			for _, c := range found {
				if c.ID != target {
					c.Why = say(zh, "similar title to ", "标题相近：") + tp.Title
					cards = append(cards, c)
				}
			}
		}
		if len(cards) == 0 {
			ans.Products = []Card{cardOf(tp, "the product you asked about")}
			ans.Reply = say(zh, "I know of nothing that goes with "+tp.Title+" yet; here it is again.", "暂时没有找到与 "+tp.Title+" 相关的商品。")
			return ans, nil
		}
		ans.Products = cards
		head := say(zh, "Similar to "+tp.Title+":", "与 "+tp.Title+" 类似的商品：")
		if p.Intent == IntentTogether {
			head = say(zh, "Shoppers who bought "+tp.Title+" also bought:", "购买了 "+tp.Title+" 的顾客还买了：")
		}
		ans.Reply = head + listText(cards, zh)
		conv.Shown = cardIDs(cards)
		ans.Suggestions = suggestions(cards, conv.Constraints, zh)
		return ans, nil
	case IntentCart:
		ans.Products = []Card{cardOf(tp, "added to your cart")}
		user := conv.UserID
		if user == "" && conv.SessionID != "" {
			user = "anon-" + conv.SessionID
		}
		if user == "" || a.o.Events == nil {
			ans.Reply = say(zh, "Use the Add to cart button on "+tp.Title+": I do not know who you are in this conversation.",
				"请点击 "+tp.Title+" 的“加入购物车”按钮：我不知道您的身份。")
			return ans, nil
		}
		err := a.o.Events.AddEvents(ctx, []events.Event{{UserID: user, SessionID: conv.SessionID, ItemID: target, Type: events.AddToCart, Timestamp: time.Now().UTC()}})
		if err != nil {
			return nil, fmt.Errorf("assistant: add %s to the cart of %s: %w", target, user, err)
		}
		ans.Reply = say(zh, "Added to your cart: "+tp.Title+".", "已加入购物车："+tp.Title+"。")
		ans.Suggestions = []string{say(zh, "What goes with it?", "有什么配件？")}
		return ans, nil
	}
	// detail
	ans.Products = []Card{cardOf(tp, say(zh, fmt.Sprintf("number %d of the list", max(1, slices.Index(conv.Shown, target)+1)), fmt.Sprintf("列表中的第 %d 个", max(1, slices.Index(conv.Shown, target)+1))))}
	ans.Reply = a.detailText(tp, zh)
	ans.Suggestions = []string{say(zh, "Similar ones", "类似的"), say(zh, "What goes with it?", "有什么配件？"), say(zh, "Add it to my cart", "加入购物车")}
	return ans, nil
}

func (a *Assistant) shownCards(conv *Conversation) []Card {
	var out []Card
	for i, id := range conv.Shown {
		if p, ok := a.o.Catalogue.Get(id); ok {
			out = append(out, cardOf(p, fmt.Sprintf("number %d of the list", i+1)))
		}
	}
	return out
}

func (a *Assistant) detailText(p *Product, zh bool) string {
	var b strings.Builder
	b.WriteString(p.Title)
	if p.Brand != "" {
		b.WriteString(say(zh, ", by ", "，品牌 ") + p.Brand)
	}
	if c := p.Category(); c != "" {
		b.WriteString(say(zh, ", in ", "，类别 ") + lastSeg(c))
	}
	if p.Price != nil {
		b.WriteString(fmt.Sprintf(say(zh, ", $%s", "，%s 元"), money(*p.Price)))
	}
	for _, k := range sortedKeys(p.Attributes) {
		b.WriteString(", " + k + ": " + p.Attributes[k])
	}
	if !p.Available {
		b.WriteString(say(zh, " (not available now)", "（暂时缺货）"))
	}
	b.WriteString(".")
	return b.String()
}

func (a *Assistant) compareText(p, q *Product, zh bool) string {
	var b strings.Builder
	b.WriteString(say(zh, "Side by side:", "对比："))
	row := func(label, x, y string) {
		if x == "" && y == "" {
			return
		}
		fmt.Fprintf(&b, "\n%s: %s | %s", label, orDash(x), orDash(y))
	}
	row(say(zh, "Product", "商品"), p.Title, q.Title)
	row(say(zh, "Brand", "品牌"), p.Brand, q.Brand)
	row(say(zh, "Category", "类别"), lastSeg(p.Category()), lastSeg(q.Category()))
	price := func(x *Product) string {
		if x.Price == nil {
			return ""
		}
		return "$" + money(*x.Price)
	}
	row(say(zh, "Price", "价格"), price(p), price(q))
	if a.o.Recommend != nil {
		pp, qp := a.o.Recommend.Popularity(p.ID), a.o.Recommend.Popularity(q.ID)
		if pp != qp {
			more := p.Title
			if qp > pp {
				more = q.Title
			}
			b.WriteString(say(zh, "\nMore shoppers bought ", "\n更受欢迎的是 ") + more + say(zh, ".", "。"))
		}
	}
	if p.Price != nil && q.Price != nil && *p.Price != *q.Price {
		cheap := p.Title
		if *q.Price < *p.Price {
			cheap = q.Title
		}
		b.WriteString(say(zh, "\nCheaper: ", "\n更便宜的是 ") + cheap + say(zh, ".", "。"))
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
