package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"html/template"
	"net/http"
	"strings"
	"unicode"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/internal/reqid"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/store"
)

// pageNames are the page templates; each is parsed with layout.html.
var pageNames = []string{"home.html", "item.html", "search.html", "admin.html", "login.html", "message.html", "live.html", "cart.html", "experiments.html", "merch.html"}

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"pct":       func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) },
		"f4":        func(x float64) string { return fmt.Sprintf("%.4f", x) },
		"f2":        func(x float64) string { return fmt.Sprintf("%.2f", x) },
		"add":       func(a, b int) int { return a + b },
		"sparkline": sparkline,
		"sub":       func(a, b int) int { return a - b },
		"hasUser": func(list []string, id string) bool {
			for _, x := range list {
				if x == id {
					return true
				}
			}
			return false
		},
	}
	out := map[string]*template.Template{}
	for _, p := range pageNames {
		files := []string{"templates/layout.html", "templates/" + p}
		if p == "admin.html" {
			files = append(files, "templates/live.html")
		}
		t, err := template.New(p).Funcs(funcs).ParseFS(templateFS, files...)
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", p, err)
		}
		out[p] = t
	}
	return out, nil
}

// pageData is what every page gets; Body is the page's own data.
type pageData struct {
	Title     string
	Visitor   visitor
	Users     []string // the user switcher's choices
	Path      string   // where the switcher returns to
	Query     string   // the search box
	Suggest   bool     // search-as-you-type is available
	AdminOpen bool     // no admin key is set
	Assistant bool     // the chat panel is on (UI.AddAssistant)
	Shop      string   // the shop shown, when not the default one
	Body      any
}

type message struct {
	Heading, Text string
	Reload        bool
}

type loginData struct {
	Next         string
	Admin, Wrong bool
}

// render executes a page into a buffer first, so a template error never
// sends half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, code int, page string, d pageData) {
	if d.Path == "" {
		d.Path = r.URL.RequestURI()
	}
	d.Suggest = u.search != nil
	d.AdminOpen = len(u.admin) == 0
	d.Assistant = u.assistant
	d.Shop = u.shop
	if d.Users == nil && u.demo && u.srv.Ready() && u.allowed(r, levelRead) {
		d.Users = u.switcherUsers(r.Context())
	}
	var buf bytes.Buffer
	name := "layout"
	if page == "live.html" {
		name = "live"
	}
	if err := u.pages[page].ExecuteTemplate(&buf, name, d); err != nil {
		u.log.Error("render page", "page", page, "error", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// switcherUsers returns the demo users: the configured ones, or the users
// with the most events (chosen once, so the list stays put).
func (u *UI) switcherUsers(ctx context.Context) []string {
	u.usersMu.Lock()
	defer u.usersMu.Unlock()
	if len(u.demoUsers) > 0 {
		return u.demoUsers
	}
	if err := u.stats.refresh(ctx, u.eng.Store()); err != nil {
		u.log.Warn("read the event log", "error", err)
		return nil
	}
	u.demoUsers = u.stats.topUsers(5)
	return u.demoUsers
}

// card is one product in a row.
type card struct {
	ID, Title, Brand, Category, Price, ImageURL string
	Reason, RawReason                           string // shown, and the service's own words
	List                                        string // the row, for click-through counting
	// RequestID and Position tie a click on the card to the row it was
	// shown in (the storefront sends them with its events, issue 15).
	RequestID string
	Position  int
	Initials  string
	Hue       int // placeholder colour class 0..7
	// Sponsored labels an ad (its click is billed with RequestID and Position)
	Sponsored bool
}

// row is a titled list of cards.
type row struct {
	ID, Title, Empty string
	Note             string // a line under the title
	Cards            []card
}

func cardOf(it catalog.Item, list, reason string) card {
	c := card{ID: it.ID, Title: it.Title, Brand: it.Brand, Reason: humanReason(reason), RawReason: reason, ImageURL: it.ImageURL, List: list}
	if c.Title == "" {
		c.Title = it.ID
	}
	if len(it.Categories) > 0 {
		parts := strings.Split(it.Categories[0], "/")
		c.Category = parts[len(parts)-1]
	}
	if it.Price != nil {
		c.Price = priceText(*it.Price, it.Attributes["currency"])
	}
	c.Initials = initials(firstNonEmpty(it.Brand, c.Title))
	h := fnv.New32a()
	h.Write([]byte(firstNonEmpty(c.Category, it.ID)))
	c.Hue = int(h.Sum32() % 8)
	return c
}

// priceText writes a price with its currency's sign when the item's
// "currency" attribute names a known one (GBP £12.50), with the code after
// it for another (12.50 CHF), and bare without one.
func priceText(p float64, currency any) string {
	code, _ := currency.(string)
	switch strings.ToUpper(code) {
	case "GBP":
		return fmt.Sprintf("£%.2f", p)
	case "USD":
		return fmt.Sprintf("$%.2f", p)
	case "EUR":
		return fmt.Sprintf("€%.2f", p)
	case "":
		return fmt.Sprintf("%.2f", p)
	}
	return fmt.Sprintf("%.2f %s", p, code)
}

// humanReason says a service reason ("model:itemknn@3", "co-occurrence:
// itemknn@3") in shopper's words; the raw one stays in a tooltip.
func humanReason(r string) string {
	kind, rest, ok := strings.Cut(r, ":")
	if !ok {
		return r
	}
	switch kind {
	case "buy again":
		return strings.TrimSpace(rest)
	case "model":
		return "picked for you"
	case "co-occurrence":
		return "shoppers chose both"
	case "embedding":
		return "similar shoppers liked it"
	}
	return kind
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func initials(s string) string {
	var out []rune
	for _, w := range strings.Fields(s) {
		r := []rune(w)
		if len(r) > 0 && (unicode.IsLetter(r[0]) || unicode.IsDigit(r[0])) {
			out = append(out, unicode.ToUpper(r[0]))
		}
		if len(out) == 2 {
			break
		}
	}
	return string(out)
}

// cards looks up the items of a recommendation answer, skipping those
// deleted since, and records the list as shown to the session.
func (u *UI) cards(ctx context.Context, v visitor, list string, items []recommend.Item) []card {
	var out []card
	var ids []string
	id := reqid.New()
	for _, it := range items {
		c, err := u.eng.GetItem(ctx, it.ID)
		if err != nil {
			continue
		}
		cd := cardOf(c, list, it.Reason)
		cd.RequestID, cd.Position = id, len(out)+1
		cd.Sponsored = it.Sponsored
		out = append(out, cd)
		ids = append(ids, it.ID)
	}
	u.ctr.shown(v.Session, list, ids, u.now())
	if u.exp != nil && len(ids) > 0 {
		// the row is logged like an API answer, so clicks on it are attributed
		u.exp.Shown(impressions.Impression{RequestID: id, Surface: rowSurface(list), UserID: v.User, SessionID: v.Session, Items: ids}, "")
	}
	return out
}

// rowSurface names the surface of a storefront row in the impression log.
func rowSurface(list string) string {
	switch list {
	case "recommended":
		return "recommend"
	case "similar", "bought_together", "trending", "popular":
		return list
	}
	return "storefront_" + list
}

const rowLen = 8

func rowRequest() recommend.Request {
	return recommend.Request{N: rowLen, Filter: recommend.Filter{AvailableOnly: true}}
}

type homeData struct {
	Rows []row
}

func (u *UI) home(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := u.visitorOf(w, r)
	var rows []row
	recCards, err := u.recommendedRow(r, v)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	rows = append(rows, row{ID: "recommended", Title: "Recommended for you", Empty: "Nothing to recommend yet.", Cards: recCards})
	personal, err := u.personalRows(ctx, v)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	rows = append(rows, personal...)
	trending, err := u.servedRow(r, v, "trending", "trending", rowRequest(), func(req recommend.Request) (*recommend.Answer, error) {
		return &recommend.Answer{Items: u.trending(req)}, nil
	})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	rows = append(rows, row{ID: "trending", Title: "Trending", Empty: "Nothing is trending yet.", Cards: trending})
	fresh, err := u.newForYouRow(ctx, v)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	rows = append(rows, fresh)
	recent, err := u.recentlyViewedRow(ctx, v)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	rows = append(rows, recent)
	u.render(w, r, http.StatusOK, "home.html", pageData{Title: "Aisle shop", Visitor: v, Body: homeData{Rows: rows}})
}

// trending fills the trending row: items whose activity grows, then the
// all-time most popular (when the newest events are few, as when a visitor
// clicks through old demo data, little "grows").
func (u *UI) trending(req recommend.Request) []recommend.Item {
	items := u.svc.Trending(req).Items
	want := req.N + max(req.Room, 0) // the rules' room (recommend.Request.Room)
	if len(items) >= want {
		return items
	}
	have := map[string]bool{}
	for _, it := range items {
		have[it.ID] = true
	}
	for _, it := range u.svc.Popular(0, recommend.Request{N: 2 * want, Filter: recommend.Filter{AvailableOnly: true}}).Items {
		if len(items) == want {
			break
		}
		if !have[it.ID] {
			items = append(items, it)
		}
	}
	return items
}

type itemData struct {
	Item       catalog.Item
	Card       card
	Categories []string
	Rows       []row
}

func (u *UI) item(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	it, err := u.eng.GetItem(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		u.notFound(w, r, fmt.Sprintf("There is no product %q in the catalogue.", id))
		return
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	v := u.visitorOf(w, r)
	u.recordView(ctx, v, id)
	d := itemData{Item: it, Card: cardOf(it, "", ""), Categories: it.Categories}
	// an item the recommender does not know yet has no similar items
	known := func(a *recommend.Answer, err error) (*recommend.Answer, error) {
		if errors.Is(err, recommend.ErrUnknownItem) {
			return &recommend.Answer{}, nil
		}
		return a, err
	}
	similar, err := u.servedRow(r, v, "similar", "similar", rowRequest(), func(req recommend.Request) (*recommend.Answer, error) {
		return known(u.svc.Similar(ctx, id, req))
	})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	together, err := u.servedRow(r, v, "bought_together", "bought_together", rowRequest(), func(req recommend.Request) (*recommend.Answer, error) {
		return known(u.svc.BoughtTogether(ctx, id, req))
	})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	d.Rows = []row{
		{ID: "similar", Title: "Similar items", Empty: "No similar items known yet.", Cards: similar},
		{ID: "bought_together", Title: "Bought together", Empty: "Nobody has bought this with anything else yet.", Cards: together},
	}
	u.render(w, r, http.StatusOK, "item.html", pageData{Title: d.Card.Title, Visitor: v, Body: d})
}

// sparkline draws a training-loss curve as a small inline SVG (120×28),
// first epoch on the left; nothing for fewer than two points.
func sparkline(values []float64) template.HTML {
	if len(values) < 2 {
		return ""
	}
	lo, hi := values[0], values[0]
	for _, v := range values {
		lo, hi = min(lo, v), max(hi, v)
	}
	span := hi - lo
	if span == 0 {
		span = 1
	}
	const w, h = 120.0, 28.0
	var pts strings.Builder
	for i, v := range values {
		x := 2 + (w-4)*float64(i)/float64(len(values)-1)
		y := 2 + (h-4)*(1-(v-lo)/span)
		fmt.Fprintf(&pts, "%.1f,%.1f ", x, y)
	}
	label := fmt.Sprintf("training loss over %d epochs, from %.4g to %.4g", len(values), values[0], values[len(values)-1])
	return template.HTML(fmt.Sprintf(`<svg class="spark" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s"><title>%s</title><polyline fill="none" stroke="currentColor" stroke-width="1.5" points="%s"/></svg>`,
		int(w), int(h), int(w), int(h), template.HTMLEscapeString(label), template.HTMLEscapeString(label), strings.TrimSpace(pts.String())))
}
