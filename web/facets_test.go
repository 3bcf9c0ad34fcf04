package web

import (
	"net/url"
	"testing"
)

// Category facets become a tree of short names (each under its nearest
// listed ancestor, with the whole path on hover); price facets keep only
// ranges with results and disappear when none has a price.
func TestFacetTreeAndPrices(t *testing.T) {
	u, _ := url.Parse("/search?q=pen")
	got := facetLinksOf(u, []Facet{
		{Field: "category", Values: []FacetValue{
			{Value: "Office Products/Ink & Toner/Laser Printer Toner", Count: 3},
			{Value: "Office Products", Count: 9},
			{Value: "Office Products/Pens", Count: 5},
			{Value: "Office Products/Ink & Toner", Count: 4},
			{Value: "Office Products/Pens/Gel/Blue", Count: 2},
		}},
		{Field: "price", Values: []FacetValue{{Value: "0-10", Count: 0}, {Value: "10-25", Count: 0}}},
	})
	if len(got) != 1 {
		t.Fatalf("facets %+v: want the category facet only (no result has a price)", got)
	}
	var tree []string
	for _, l := range got[0].Links {
		tree = append(tree, string(rune('0'+l.Depth))+" "+l.Label)
		if l.Title == "" {
			t.Errorf("%q has no whole path to show", l.Label)
		}
	}
	want := []string{"0 Office Products", "1 Pens", "2 Gel/Blue", "1 Ink & Toner", "2 Laser Printer Toner"}
	if len(tree) != len(want) {
		t.Fatalf("tree %q, want %q", tree, want)
	}
	for i := range want {
		if tree[i] != want[i] {
			t.Errorf("tree %q, want %q", tree, want)
			break
		}
	}
	got = facetLinksOf(u, []Facet{{Field: "price", Values: []FacetValue{{Value: "0-10", Count: 0}, {Value: "10-25", Count: 4}, {Value: "25+", Count: 1}}}})
	if len(got) != 1 || len(got[0].Links) != 2 || got[0].Links[0].Label != "10-25" {
		t.Errorf("price facet %+v: want the two ranges with results", got)
	}
}

func TestPriceText(t *testing.T) {
	for _, c := range []struct {
		cur  any
		want string
	}{{"GBP", "£2.50"}, {"usd", "$2.50"}, {nil, "2.50"}, {"CHF", "2.50 CHF"}, {3, "2.50"}} {
		if got := priceText(2.5, c.cur); got != c.want {
			t.Errorf("priceText(2.5, %v) = %q, want %q", c.cur, got, c.want)
		}
	}
}
