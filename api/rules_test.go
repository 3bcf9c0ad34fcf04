package api

import (
	"slices"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/rules"
)

// TestPushRecFiltersKeepsWhatTheRulesKeep checks that a recommendation
// request narrowed by a plan's filters (what the model then applies)
// keeps exactly the items that pass both the shopper's own filter and
// the rule filters, and that the filters' other parts are returned.
func TestPushRecFiltersKeepsWhatTheRulesKeep(t *testing.T) {
	price := func(v float64) *float64 { return &v }
	items := []catalog.Item{
		{ID: "a", Brand: "Casio", Categories: []string{"Office/Calculators"}, Price: price(10)},
		{ID: "b", Brand: "Sharp", Categories: []string{"Office/Calculators/Solar"}, Price: price(30)},
		{ID: "c", Brand: "casio", Categories: []string{"Office/Pens"}, Price: price(50)},
		{ID: "d", Brand: "Bic", Categories: []string{"Office/Pens"}},
		{ID: "e", Brand: "Sharp", Categories: []string{"Home"}, Price: price(5), Attributes: map[string]any{"solar": "yes"}},
	}
	cases := []struct {
		name     string
		own      recommend.Filter
		filters  []rules.Filter
		want     []string
		unpushed int
	}{
		{"brand, spaced and any case", recommend.Filter{}, []rules.Filter{{Brands: []string{" CASIO "}}}, []string{"a", "c"}, 0},
		{"category with slashes", recommend.Filter{}, []rules.Filter{{Categories: []string{"/Office/Calculators/"}}}, []string{"a", "b"}, 0},
		{"category page narrowed further", recommend.Filter{Categories: []string{"Office"}}, []rules.Filter{{Categories: []string{"Office/Pens"}}}, []string{"c", "d"}, 0},
		{"disjoint categories show nothing", recommend.Filter{Categories: []string{"Home"}}, []rules.Filter{{Categories: []string{"Office"}}}, nil, 0},
		{"brands of both", recommend.Filter{Brands: []string{"Sharp", "Bic"}}, []rules.Filter{{Brands: []string{"bic", "Casio"}}}, []string{"d"}, 0},
		{"no brand in both", recommend.Filter{Brands: []string{"Sharp"}}, []rules.Filter{{Brands: []string{"Casio"}}}, nil, 0},
		{"price range of two filters, unpriced out", recommend.Filter{MaxPrice: price(40)}, []rules.Filter{{MinPrice: price(8)}, {MaxPrice: price(35), MinPrice: price(10)}}, []string{"a", "b"}, 0},
		{"attributes stay with the rules", recommend.Filter{}, []rules.Filter{{Brands: []string{"Sharp"}, Attributes: map[string]string{"solar": "yes"}}}, []string{"b", "e"}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := c.own
			rest := pushRecFilters(&f, c.filters)
			if len(rest) != c.unpushed {
				t.Fatalf("unpushed %v, want %d", rest, c.unpushed)
			}
			keeps := recFilterKeeps(f)
			plan := &rules.Plan{Applied: []string{"r"}, Filters: c.filters}
			var got []string
			for i := range items {
				pushed := keeps(&items[i])
				// the reference: the shopper's own filter and every rule
				// filter's category, brand and price parts
				own := recFilterKeeps(c.own)(&items[i])
				ref := own
				for _, rf := range c.filters {
					rf.Attributes = nil
					ref = ref && (&rules.Plan{Applied: []string{"r"}, Filters: []rules.Filter{rf}}).Keeps(&items[i], time.Now())
				}
				if pushed != ref {
					t.Errorf("%s: pushed filter keeps it %v, rules %v (plan %v)", items[i].ID, pushed, ref, plan.Filters)
				}
				if pushed {
					got = append(got, items[i].ID)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("kept %v, want %v", got, c.want)
			}
		})
	}
}
