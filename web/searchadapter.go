package web

import (
	"context"
	"html"
	"strings"

	"github.com/aisle-dev/aisle/api"
	"github.com/aisle-dev/aisle/search"
)

// IndexSearcher answers the search page from a search.Index.
type IndexSearcher struct {
	Index *search.Index
	Mode  search.Mode
	// Personaliser, when set, personalises searches for the current
	// shopper as the API does (affinity, click-through).
	Personaliser *api.Personaliser
	// Merch, when set, runs the search as the API does, personalised and
	// with merchandising rules and ads, in the shopper's search experiment
	// variant and logged as an impression (api.Server.StorefrontSearch); the
	// Personaliser is then not used.
	Merch func(ctx context.Context, req search.Request, user string) (*api.SearchAnswer, error)
}

// Search implements Searcher.
func (s *IndexSearcher) Search(ctx context.Context, q SearchQuery) (*SearchResult, error) {
	req := search.Request{Query: q.Text, N: q.PerPage, Offset: (max(q.Page, 1) - 1) * q.PerPage,
		MinPrice: q.MinPrice, MaxPrice: q.MaxPrice, Facets: []string{"category", "brand", "price"}, Mode: s.Mode}
	if q.Brand != "" {
		req.Brands = []string{q.Brand}
	}
	if q.Category != "" {
		req.Categories = []string{q.Category}
	}
	if q.Sort != "" {
		sort, err := search.ParseSort(q.Sort)
		if err != nil {
			return nil, err
		}
		req.Sort = sort
	}
	var res *search.Result
	var merch *api.SearchAnswer
	if s.Merch != nil {
		a, err := s.Merch(ctx, req, q.User)
		if err != nil {
			return nil, err
		}
		merch = a
		res = &search.Result{Items: a.Items, Total: a.Total, Facets: a.Facets, TookMS: a.TookMS, Mode: a.Mode}
	} else {
		if err := s.Personaliser.Personalise(ctx, &req, q.User); err != nil {
			// a shop page still answers: search without personalisation
			req.Boost = nil
			s.Personaliser.Personalise(ctx, &req, "")
		}
		var err error
		if res, err = s.Index.Search(ctx, req); err != nil {
			return nil, err
		}
	}
	if q.Text != "" && q.Page <= 1 && res.Total > 0 {
		// the search event the page logs counts it (search.Index.EventsAppended);
		// here the shopper and their network vouch for it (decision 0061)
		src := search.Source{Shopper: q.User, Network: q.Network}
		if q.NewSession || q.Network == "" {
			src.Shopper = "" // no cookie: a new session is free, the network is not
		}
		if q.Network == "" {
			src.Network = "unknown"
		}
		s.Index.VouchSearch(q.Text, src)
	}
	out := &SearchResult{Total: res.Total}
	if merch != nil {
		out.RequestID, out.Redirect = merch.RequestID, merch.Redirect
	}
	for _, h := range res.Items {
		title := []Fragment{{Text: h.Title}}
		if hl, ok := h.Highlights["title"]; ok {
			title = fragments(hl)
		}
		out.Hits = append(out.Hits, SearchHit{ID: h.ID, Title: title, Sponsored: h.Sponsored, Pinned: h.Pinned})
	}
	if f := res.Facets; f != nil {
		add := func(field string, vals []search.FacetValue) {
			if len(vals) == 0 {
				return
			}
			fc := Facet{Field: field}
			for _, v := range vals {
				fc.Values = append(fc.Values, FacetValue{Value: v.Value, Count: v.Count})
			}
			out.Facets = append(out.Facets, fc)
		}
		add("category", f.Category)
		add("brand", f.Brand)
		if len(f.Price) > 0 {
			fc := Facet{Field: "price"}
			for _, p := range f.Price {
				fc.Values = append(fc.Values, FacetValue{Value: p.Range, Count: p.Count})
			}
			out.Facets = append(out.Facets, fc)
		}
	}
	return out, nil
}

// fragments splits an HTML-escaped highlight with <em>…</em> marks into
// plain-text fragments.
func fragments(hl string) []Fragment {
	var out []Fragment
	for hl != "" {
		i := strings.Index(hl, "<em>")
		if i < 0 {
			out = append(out, Fragment{Text: html.UnescapeString(hl)})
			break
		}
		if i > 0 {
			out = append(out, Fragment{Text: html.UnescapeString(hl[:i])})
		}
		hl = hl[i+4:]
		j := strings.Index(hl, "</em>")
		if j < 0 {
			out = append(out, Fragment{Text: html.UnescapeString(hl), Match: true})
			break
		}
		out = append(out, Fragment{Text: html.UnescapeString(hl[:j]), Match: true})
		hl = hl[j+5:]
	}
	return out
}

// Suggest implements Searcher.
func (s *IndexSearcher) Suggest(ctx context.Context, prefix string, n int) ([]string, error) {
	var out []string
	for _, sg := range s.Index.Suggest(prefix, n) {
		out = append(out, sg.Text)
	}
	return out, nil
}
