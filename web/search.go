package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/aisle-dev/aisle/api"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/ratelimit"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/search/analysis"
)

// Searcher is what the search page needs from a search engine. The lead
// wires package search in with a small adapter; without one the page says
// that search is not available.
type Searcher interface {
	// Search answers one page of results (Page counts from 1).
	Search(ctx context.Context, q SearchQuery) (*SearchResult, error)
	// Suggest completes a prefix for search-as-you-type, best first.
	Suggest(ctx context.Context, prefix string, n int) ([]string, error)
}

// SearchQuery is one search request from the page.
type SearchQuery struct {
	Text     string
	Page     int // from 1
	PerPage  int
	Brand    string // "" = any
	Category string // a category path prefix; "" = any
	MinPrice *float64
	MaxPrice *float64
	Sort     string // "" (relevance), "price_asc", "price_desc"
	User     string // the shopper, for personalisation; "" = none
	// Network is a keyed hash of the client's network (api.NetworkPseudonym
	// of its /24 or /48); NewSession says the visitor came without a
	// session cookie. A search of the first page vouches for its query in
	// the suggestions by both (decision 0061): a cookie-less visitor by
	// its network alone, since a new session costs nothing.
	Network    string
	NewSession bool
}

// SearchResult is one page of hits with the facets of all matches.
type SearchResult struct {
	Total  int
	Hits   []SearchHit
	Facets []Facet
	// RequestID names the answer (clicks on its ads carry it back);
	// Redirect, set by a merchandising rule, is where to send the shopper.
	RequestID string
	Redirect  string
}

// SearchHit is one matching item; Title holds the item's title cut into
// fragments, the matched ones marked, so the page highlights them without
// trusting any HTML.
type SearchHit struct {
	ID    string
	Title []Fragment
	// Sponsored marks an ad (labelled on the page); Pinned an item a
	// merchandising rule put at its place.
	Sponsored, Pinned bool
}

// Fragment is a piece of text, matched or not.
type Fragment struct {
	Text  string
	Match bool
}

// Facet counts the matches per value of one field ("brand", "category",
// "price").
type Facet struct {
	Field  string
	Values []FacetValue
}

// FacetValue is one facet value and how many matches have it.
type FacetValue struct {
	Value string
	Count int
}

const perPage = 20

type searchData struct {
	Available bool
	Query     SearchQuery
	Result    *SearchResult
	Hits      []searchHit
	Facets    []facetLinks
	Sorts     []facetLink
	Prev      string
	Next      string
	Pages     int
	Popular   row
	Problem   string
}

type searchHit struct {
	Card  card
	Title []Fragment
	// merchandising: an ad is labelled, and its click carries the
	// answer's request id and its position (ad billing)
	Sponsored, Pinned bool
	RequestID         string
	Position          int
}

type facetLinks struct {
	Field string
	Links []facetLink
}

type facetLink struct {
	Label    string
	Count    int
	URL      string
	Selected bool
	// Depth indents a category under its parent (0: top level); Title is
	// the category's whole path, shown on hover.
	Depth int
	Title string
}

func (u *UI) searchPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := u.visitorOf(w, r)
	q := r.URL.Query()
	sq := SearchQuery{Text: strings.TrimSpace(q.Get("q")), Page: 1, PerPage: perPage,
		Brand: q.Get("brand"), Category: q.Get("category"), Sort: q.Get("sort"), User: v.User,
		Network: api.NetworkPseudonym(u.secret, ratelimit.ClientNetwork(r, u.trustProxy)), NewSession: v.New}
	if p, err := strconv.Atoi(q.Get("page")); err == nil && p > 1 && p <= 1000 {
		sq.Page = p
	}
	for _, pr := range []struct {
		name string
		dst  **float64
	}{{"min_price", &sq.MinPrice}, {"max_price", &sq.MaxPrice}} {
		// the API's parser; a bad bound in a shop link is ignored, not an error page
		if f, err := api.Price(pr.name, q.Get(pr.name)); err == nil {
			*pr.dst = &f
		}
	}
	switch sq.Sort {
	case "", "price_asc", "price_desc", "newest":
	default:
		sq.Sort = ""
	}
	sq.Text = analysis.Truncate(sq.Text, 200)
	d := searchData{Available: u.search != nil, Query: sq}
	// One search event per query typed, not per facet click or page turn;
	// its value is the number of results, so the dashboard can list the
	// searches that found nothing.
	logSearch := func(results int) {
		if sq.Text == "" || sq.Page != 1 || sq.Brand != "" || sq.Category != "" || sq.MinPrice != nil || sq.MaxPrice != nil {
			return
		}
		n := float64(results)
		e := events.Event{UserID: v.User, Type: events.Search, Query: sq.Text, SessionID: v.Session, Timestamp: u.now().UTC(), Value: &n}
		if err := u.eng.AddEvents(ctx, []events.Event{e}); err != nil {
			u.log.Warn("cannot record a search", "error", err)
		}
	}
	if u.search != nil && sq.Text != "" {
		res, err := u.search.Search(ctx, sq)
		if err == nil && res.Redirect != "" {
			http.Redirect(w, r, res.Redirect, http.StatusSeeOther) // a merchandising rule
			return
		}
		if err != nil {
			d.Problem = err.Error()
		} else {
			logSearch(res.Total)
			d.Result = res
			d.Sorts = sortLinksOf(r.URL, sq.Sort)
			var ids []string
			for _, h := range res.Hits {
				it, err := u.eng.GetItem(ctx, h.ID)
				if err != nil {
					continue
				}
				d.Hits = append(d.Hits, searchHit{Card: cardOf(it, "search", ""), Title: h.Title,
					Sponsored: h.Sponsored, Pinned: h.Pinned, RequestID: res.RequestID, Position: len(d.Hits) + 1})
				ids = append(ids, h.ID)
			}
			u.ctr.shown(v.Session, "search", ids, u.now())
			d.Facets = facetLinksOf(r.URL, res.Facets)
			d.Pages = (res.Total + perPage - 1) / perPage
			if sq.Page > 1 {
				d.Prev = withParam(r.URL, "page", strconv.Itoa(sq.Page-1))
			}
			if sq.Page < d.Pages {
				d.Next = withParam(r.URL, "page", strconv.Itoa(sq.Page+1))
			}
		}
	}
	if len(d.Hits) == 0 {
		popular, err := u.servedRow(r, v, "popular", "popular", rowRequest(), func(req recommend.Request) (*recommend.Answer, error) {
			return u.svc.Popular(0, req), nil
		})
		if err != nil {
			u.fail(w, r, err)
			return
		}
		d.Popular = row{ID: "popular", Title: "Popular right now", Cards: popular}
	}
	title := "Search"
	if sq.Text != "" {
		title = fmt.Sprintf("Search: %s", sq.Text)
	}
	u.render(w, r, http.StatusOK, "search.html", pageData{Title: title, Visitor: v, Query: sq.Text, Body: d})
}

func withParam(u *url.URL, k, v string) string {
	q := u.Query()
	if v == "" {
		q.Del(k)
	} else {
		q.Set(k, v)
	}
	if k != "page" {
		q.Del("page")
	}
	return "/search?" + q.Encode()
}

func facetLinksOf(u *url.URL, facets []Facet) []facetLinks {
	var out []facetLinks
	for _, f := range facets {
		if f.Field == "price" {
			// only when results have prices: a catalogue without them
			// has no price filter
			if fl := priceLinksOf(u, f); len(fl.Links) > 0 {
				out = append(out, fl)
			}
			continue
		}
		if f.Field != "brand" && f.Field != "category" {
			continue
		}
		cur := u.Query().Get(f.Field)
		fl := facetLinks{Field: f.Field}
		values := f.Values
		if f.Field == "category" {
			values = categoryTree(values)
		}
		for _, v := range values {
			l := facetLink{Label: v.Value, Count: v.Count, URL: withParam(u, f.Field, v.Value), Selected: v.Value == cur}
			if f.Field == "category" {
				l.Label, l.Depth, l.Title = categoryLabel(v.Value, values)
			}
			if l.Selected {
				l.URL = withParam(u, f.Field, "")
			}
			fl.Links = append(fl.Links, l)
		}
		out = append(out, fl)
	}
	return out
}

// suggest answers search-as-you-type with a JSON list of completions.
func (u *UI) suggest(w http.ResponseWriter, r *http.Request) {
	prefix := strings.TrimSpace(r.URL.Query().Get("q"))
	if u.search == nil {
		api.WriteError(w, http.StatusNotImplemented, "search is not available on this server", nil)
		return
	}
	if prefix == "" || len(prefix) > 100 {
		api.WriteJSON(w, http.StatusOK, map[string]any{"suggestions": []string{}})
		return
	}
	list, err := u.search.Suggest(r.Context(), prefix, 8)
	if err != nil {
		u.srv.Error(w, r, err)
		return
	}
	if list == nil {
		list = []string{}
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"suggestions": list})
}

// categoryTree orders category paths as a tree: each under its nearest
// listed ancestor, siblings by count (most first) then name.
func categoryTree(vals []FacetValue) []FacetValue {
	byPath := map[string]FacetValue{}
	for _, v := range vals {
		byPath[v.Value] = v
	}
	parent := func(p string) string {
		for i := strings.LastIndex(p, "/"); i > 0; i = strings.LastIndex(p[:i], "/") {
			if _, ok := byPath[p[:i]]; ok {
				return p[:i]
			}
		}
		return ""
	}
	kids := map[string][]FacetValue{}
	for _, v := range vals {
		pp := parent(v.Value)
		kids[pp] = append(kids[pp], v)
	}
	out := make([]FacetValue, 0, len(vals))
	var walk func(string)
	walk = func(p string) {
		k := kids[p]
		sort.SliceStable(k, func(i, j int) bool {
			if k[i].Count != k[j].Count {
				return k[i].Count > k[j].Count
			}
			return k[i].Value < k[j].Value
		})
		for _, v := range k {
			out = append(out, v)
			walk(v.Value)
		}
	}
	walk("")
	return out
}

// categoryLabel is a category's short name (the part below its nearest
// listed ancestor), its depth in the tree and its whole path.
func categoryLabel(path string, tree []FacetValue) (label string, depth int, title string) {
	listed := map[string]bool{}
	for _, v := range tree {
		listed[v.Value] = true
	}
	label, rest := path, path
	found := false
	for i := strings.LastIndex(rest, "/"); i > 0; i = strings.LastIndex(rest[:i], "/") {
		if listed[rest[:i]] {
			if !found {
				label, found = path[i+1:], true
			}
			depth++
		}
	}
	if !found {
		if i := strings.LastIndex(path, "/"); i >= 0 {
			label = path[i+1:]
		}
	}
	return label, depth, path
}

// priceLinksOf turns price-range facet values ("10-25", "200+") into links
// that set min_price and max_price (and clear them when selected).
func priceLinksOf(u *url.URL, f Facet) facetLinks {
	fl := facetLinks{Field: "price"}
	curMin, curMax := u.Query().Get("min_price"), u.Query().Get("max_price")
	for _, v := range f.Values {
		if v.Count == 0 {
			continue // a range no result falls in is not a filter
		}
		lo, hi, _ := strings.Cut(strings.TrimSuffix(v.Value, "+"), "-")
		sel := lo == curMin && hi == curMax
		nu := withParam(u, "min_price", lo)
		if p, err := url.Parse(nu); err == nil {
			nu = withParam(p, "max_price", hi)
		}
		if sel {
			nu = withParam(u, "min_price", "")
			if p, err := url.Parse(nu); err == nil {
				nu = withParam(p, "max_price", "")
			}
		}
		fl.Links = append(fl.Links, facetLink{Label: v.Value, Count: v.Count, URL: nu, Selected: sel})
	}
	return fl
}

// sortLinksOf lists the orders a result page can take.
func sortLinksOf(u *url.URL, cur string) []facetLink {
	var out []facetLink
	for _, s := range []struct{ key, label string }{{"", "relevance"}, {"price_asc", "price: low to high"}, {"price_desc", "price: high to low"}, {"newest", "newest"}} {
		out = append(out, facetLink{Label: s.label, URL: withParam(u, "sort", s.key), Selected: s.key == cur})
	}
	return out
}
