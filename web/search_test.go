package web

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
)

// titleSearcher is a tiny Searcher for the page's tests: a case-insensitive
// substring match on titles, with brand facets. The real engine (package
// search) is wired by the CLI.
type titleSearcher struct{ items []catalog.Item }

func (s titleSearcher) Search(_ context.Context, q SearchQuery) (*SearchResult, error) {
	needle := strings.ToLower(q.Text)
	res := &SearchResult{}
	brands := map[string]int{}
	var order []string
	for _, it := range s.items {
		i := strings.Index(strings.ToLower(it.Title), needle)
		if i < 0 {
			continue
		}
		if brands[it.Brand] == 0 {
			order = append(order, it.Brand)
		}
		brands[it.Brand]++
		if q.Brand != "" && it.Brand != q.Brand {
			continue
		}
		res.Total++
		if res.Total > (q.Page-1)*q.PerPage && res.Total <= q.Page*q.PerPage {
			res.Hits = append(res.Hits, SearchHit{ID: it.ID, Title: []Fragment{{Text: it.Title[:i]}, {Text: it.Title[i : i+len(needle)], Match: true}, {Text: it.Title[i+len(needle):]}}})
		}
	}
	f := Facet{Field: "brand"}
	for _, b := range order {
		f.Values = append(f.Values, FacetValue{Value: b, Count: brands[b]})
	}
	res.Facets = []Facet{f, {Field: "price", Values: []FacetValue{{Value: "0-10", Count: 3}, {Value: "50+", Count: 1}}}}
	return res, nil
}

func (s titleSearcher) Suggest(_ context.Context, prefix string, n int) ([]string, error) {
	var out []string
	for _, it := range s.items {
		if strings.HasPrefix(strings.ToLower(it.Title), strings.ToLower(prefix)) && len(out) < n {
			out = append(out, it.Title)
		}
	}
	return out, nil
}

func TestSearchPageWithASearcher(t *testing.T) {
	s := newShop(t, Options{})
	s.ui.search = titleSearcher{s.its} // as Options.Searcher would set it
	c := s.client()
	for _, tc := range []struct {
		path    string
		want    []string
		notWant []string
	}{
		{"/search?q=pens", []string{"20 results for “pens”", "<mark>Pens</mark> item 1", "Page 1 of 1", `data-list="search"`, `href="/search?brand=Brother&amp;q=pens"`},
			[]string{"not available", "Popular right now"}},
		{"/search?q=pens&brand=Brother", []string{"7 results", `aria-current="true"`}, nil},
		{"/search?q=item", []string{"80 results", "Page 1 of 4", `rel="next"`}, []string{`rel="prev"`}},
		{"/search?q=item&page=2", []string{"Page 2 of 4", `rel="prev"`, `href="/search?page=3&amp;q=item"`}, nil},
		{"/search?q=zzz", []string{"No products match", "Popular right now"}, nil},
		{"/search?q=pens", []string{`Sort by:`, `href="/search?q=pens&amp;sort=price_asc"`, `href="/search?max_price=10&amp;min_price=0&amp;q=pens"`, `href="/search?min_price=50&amp;q=pens"`}, nil},
		{"/search?q=pens&min_price=50", []string{`aria-current="true" class="on">50&#43;`}, nil},
		{"/search?q=%3Cscript%3E", []string{"&lt;script&gt;"}, []string{"<script>"}},
	} {
		code, body := s.get(c, tc.path)
		if code != 200 {
			t.Errorf("GET %s: %d", tc.path, code)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s lacks %q", tc.path, w)
			}
		}
		for _, w := range tc.notWant {
			if strings.Contains(body, w) {
				t.Errorf("GET %s has %q", tc.path, w)
			}
		}
	}
	if code, body := s.get(c, "/ui/suggest?q="+url.QueryEscape("paper item 1")); code != 200 || !strings.Contains(body, `"Paper item 12"`) {
		t.Errorf("suggest: %d %s", code, body)
	}
	// The searches are events, so the dashboard can list top queries.
	_, body := s.get(c, "/admin")
	if !strings.Contains(body, "pens <span class=\"count\">") {
		t.Errorf("top queries missing from the dashboard")
	}
	zero := body[strings.Index(body, "Searches that found nothing"):]
	if !strings.Contains(zero, `id="zero-queries"`) || !strings.Contains(zero, "zzz <span") || strings.Contains(zero[:strings.Index(zero, "</section>")], "pens") {
		t.Errorf("zero-result searches not listed right: %.400s", zero)
	}
}

func TestSearchUnavailable(t *testing.T) {
	s := newShop(t, Options{})
	c := s.client()
	if code, _ := s.get(c, "/ui/suggest?q=pe"); code != 501 {
		t.Errorf("suggest without a searcher: %d", code)
	}
	_, body := s.get(c, "/")
	if strings.Contains(body, "data-suggest") {
		t.Error("the search box offers suggestions without a searcher")
	}
}
