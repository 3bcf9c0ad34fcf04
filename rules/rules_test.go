package rules

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/store/boltstore"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// catalogue: a0..a9, brand Acme for even, Bolt for odd; price = 10+i;
// a7 out of stock; a9 new.
func catalogue() map[string]catalog.Item {
	m := map[string]catalog.Item{}
	for i := range 10 {
		p := 10 + float64(i)
		it := catalog.Item{ID: fmt.Sprintf("a%d", i), Brand: []string{"Acme", "Bolt"}[i%2], Categories: []string{[]string{"Office/Paper", "Office/Pens"}[i%2]},
			Price: &p, Available: i != 7, CreatedAt: now.AddDate(0, -6, 0), Attributes: map[string]any{"color": []string{"red", "blue"}[i%2]}}
		if i == 9 {
			it.CreatedAt = now.AddDate(0, 0, -2)
		}
		m[it.ID] = it
	}
	return m
}

func TestConditions(t *testing.T) {
	base := Consequence{Hide: []string{"a0"}}
	cases := []struct {
		name string
		cond Condition
		rule func(*Rule)
		req  Request
		want bool
	}{
		{"query equals, case and spaces ignored", Condition{Query: "Calculator"}, nil, Request{Surface: "search", Query: "  calculator "}, true},
		{"query equals: longer query", Condition{Query: "calculator"}, nil, Request{Surface: "search", Query: "solar calculator"}, false},
		{"query contains", Condition{Query: "calculator", QueryMatch: "contains"}, nil, Request{Surface: "search", Query: "solar calculator"}, true},
		{"query contains: whole words", Condition{Query: "calc", QueryMatch: "contains"}, nil, Request{Surface: "search", Query: "calculator"}, false},
		{"synonym group", Condition{Query: "calculator", Synonyms: []string{"adding machine"}}, nil, Request{Surface: "search", Query: "Adding Machine"}, true},
		{"query rule off search", Condition{Query: "calculator"}, nil, Request{Surface: "recommend"}, false},
		{"category page", Condition{Category: "Office"}, nil, Request{Surface: "search", Categories: []string{"Office/Paper"}}, true},
		{"category page: other", Condition{Category: "Office/Pens"}, nil, Request{Surface: "search", Categories: []string{"Office/Paper"}}, false},
		{"surface", Condition{Surfaces: []string{"popular"}}, nil, Request{Surface: "popular"}, true},
		{"surface: other", Condition{Surfaces: []string{"popular"}}, nil, Request{Surface: "trending"}, false},
		{"segment", Condition{Segment: map[string]string{"tier": "gold"}}, nil, Request{Surface: "recommend", UserAttrs: func() map[string]any { return map[string]any{"tier": "gold"} }}, true},
		{"segment: other", Condition{Segment: map[string]string{"tier": "gold"}}, nil, Request{Surface: "recommend", UserAttrs: func() map[string]any { return map[string]any{"tier": "blue"} }}, false},
		{"segment: anonymous", Condition{Segment: map[string]string{"tier": "gold"}}, nil, Request{Surface: "recommend"}, false},
		{"date window", Condition{From: ptr(now.Add(-time.Hour)), Until: ptr(now.Add(time.Hour))}, nil, Request{Surface: "search"}, true},
		{"date window: over", Condition{Until: ptr(now)}, nil, Request{Surface: "search"}, false},
		{"schedule not started", Condition{}, func(r *Rule) { r.Start = ptr(now.Add(time.Minute)) }, Request{Surface: "search"}, false},
		{"disabled", Condition{}, func(r *Rule) { r.Disabled = true }, Request{Surface: "search"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Rule{ID: "r", Name: "n", If: c.cond, Then: base}
			if c.rule != nil {
				c.rule(&r)
			}
			if err := r.Validate(); err != nil {
				t.Fatal(err)
			}
			c.req.Now = now
			p := NewSet([]Rule{r}).Plan(c.req)
			if got := len(p.Applied) == 1; got != c.want {
				t.Fatalf("applied = %v, want %v", got, c.want)
			}
		})
	}
}

func TestArrange(t *testing.T) {
	cat := catalogue()
	look := func(id string) (catalog.Item, bool) { it, ok := cat[id]; return it, ok }
	ids := []string{"a0", "a1", "a2", "a3", "a4", "a5"}
	scores := []float64{6, 5, 4, 3, 2, 1}
	cases := []struct {
		name      string
		then      Consequence
		relevance bool
		want      string
	}{
		{"pin moves an item", Consequence{Pin: []Pin{{"a4", 1}}}, true, "a4* a0 a1 a2 a3 a5"},
		{"pin brings an item in", Consequence{Pin: []Pin{{"a9", 2}}}, true, "a0 a9* a1 a2 a3 a4 a5"},
		{"pins at several positions", Consequence{Pin: []Pin{{"a5", 3}, {"a8", 1}}}, true, "a8* a0 a5* a1 a2 a3 a4"},
		{"pin past the end goes last", Consequence{Pin: []Pin{{"a8", 50}}}, true, "a0 a1 a2 a3 a4 a5 a8*"},
		{"pin holds under a sort", Consequence{Pin: []Pin{{"a4", 1}}}, false, "a4* a0 a1 a2 a3 a5"},
		{"hide", Consequence{Hide: []string{"a1", "a3"}}, true, "a0 a2 a4 a5"},
		{"hide beats pin", Consequence{Hide: []string{"a4"}, Pin: []Pin{{"a4", 1}}}, true, "a0 a1 a2 a3 a5"},
		{"filter by brand", Consequence{Filter: &Filter{Brands: []string{"bolt"}}}, true, "a1 a3 a5"},
		{"filter by price", Consequence{Filter: &Filter{MaxPrice: ptr(12.0)}}, true, "a0 a1 a2"},
		{"filter by attribute", Consequence{Filter: &Filter{Attributes: map[string]string{"color": "red"}}}, true, "a0 a2 a4"},
		{"boost a brand fully", Consequence{Boost: []Weighted{{Filter: Filter{Brands: []string{"Bolt"}}, Strength: 1}}}, true, "a1 a3 a5 a0 a2 a4"},
		{"boost a little", Consequence{Boost: []Weighted{{Filter: Filter{Categories: []string{"Office/Pens"}}, Strength: 0.25}}}, true, "a1 a0 a3 a2 a5 a4"},
		{"bury a brand", Consequence{Bury: []Weighted{{Filter: Filter{Brands: []string{"Acme"}}, Strength: 1}}}, true, "a1 a3 a5 a0 a2 a4"},
		{"boost leaves a sort alone", Consequence{Boost: []Weighted{{Filter: Filter{Brands: []string{"Bolt"}}, Strength: 1}}}, false, "a0 a1 a2 a3 a4 a5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Rule{ID: "r", Name: "n", Then: c.then}
			if err := r.Validate(); err != nil {
				t.Fatal(err)
			}
			p := NewSet([]Rule{r}).Plan(Request{Surface: "search", Now: now})
			// the same through a window read beforehand (as the server
			// reads it from its item cache), into reused storage
			items := make([]*catalog.Item, len(ids))
			for i, id := range ids {
				if it, ok := look(id); ok {
					items[i] = &it
				}
			}
			w := Window{IDs: ids, Scores: scores, Items: items, Relevance: c.relevance}
			for _, placed := range [][]Placed{p.Arrange(ids, scores, c.relevance, look, now), p.ArrangeWindow(&Scratch{placed: make([]Placed, 3, 20)}, w, look, now)} {
				var got []string
				for _, pl := range placed {
					s := pl.ID
					if pl.Pinned {
						s += "*"
					}
					got = append(got, s)
				}
				if g := strings.Join(got, " "); g != c.want {
					t.Fatalf("got %s, want %s", g, c.want)
				}
			}
		})
	}
}

func TestValidateNamesTheField(t *testing.T) {
	for _, c := range []struct {
		r    Rule
		want string
	}{
		{Rule{Name: "", Then: Consequence{Hide: []string{"a"}}}, "name"},
		{Rule{Name: "x"}, "then"},
		{Rule{Name: "x", Then: Consequence{Pin: []Pin{{"a", 0}}}}, "then.pin[0].position"},
		{Rule{Name: "x", Then: Consequence{Boost: []Weighted{{Filter: Filter{InStock: true}, Strength: 2}}}}, "then.boost[0].strength"},
		{Rule{Name: "x", If: Condition{Query: "q"}, Then: Consequence{Redirect: "javascript:alert(1)"}}, "then.redirect"},
		{Rule{Name: "x", Then: Consequence{ReplaceQuery: "y"}}, "need a query condition"},
		{Rule{Name: "x", If: Condition{Surfaces: []string{"nope"}}, Then: Consequence{Hide: []string{"a"}}}, "if.surfaces"},
	} {
		err := c.r.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one naming %q", c.r, err, c.want)
		}
	}
}

func TestBookVersionsSurviveRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, st, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.Save(ctx, Rule{Name: "calc", If: Condition{Query: "calculator"}, Then: Consequence{Pin: []Pin{{"X", 1}}}})
	if err != nil || r.Version != 1 || !strings.HasPrefix(r.ID, "rule-") {
		t.Fatalf("save: %+v %v", r, err)
	}
	r.Then.Hide = []string{"Y"}
	if r, err = b.Save(ctx, r); err != nil || r.Version != 2 {
		t.Fatalf("second version: %+v %v", r, err)
	}
	other, _ := b.Save(ctx, Rule{Name: "gone", Then: Consequence{Hide: []string{"Z"}}})
	if err := b.Delete(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b, err = Open(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l := b.List(); len(l) != 1 || l[0].Version != 2 || l[0].Then.Hide[0] != "Y" {
		t.Fatalf("after restart: %+v", l)
	}
	vs, err := b.Versions(ctx, other.ID)
	if err != nil || len(vs) != 2 || !vs[1].Deleted {
		t.Fatalf("history of the deleted rule: %+v %v", vs, err)
	}
}

// The set's index (by surface, by exact query, "contains" rules) picks
// exactly the rules that checking every rule would: every combination of
// query condition, match type, synonyms, surfaces and disabled, against
// requests on every surface with and without a query.
func TestPlanIndexAgreesWithEveryRule(t *testing.T) {
	var rs []Rule
	k := 0
	for _, q := range []string{"", "pen", "Blue Pen"} {
		for _, match := range []string{"exact", "contains"} {
			for _, syn := range [][]string{nil, {"azure  pen", "pen"}} {
				for _, sf := range [][]string{nil, {"search"}, {"popular", "similar"}, {"search", "popular"}} {
					for _, off := range []bool{false, true} {
						if q == "" && (match == "contains" || syn != nil) {
							continue
						}
						k++
						rs = append(rs, Rule{ID: fmt.Sprintf("r%03d", k), Name: "r", Disabled: off, Priority: k % 3,
							If: Condition{Query: q, QueryMatch: match, Synonyms: syn, Surfaces: sf}, Then: Consequence{Hide: []string{"a0"}}})
					}
				}
			}
		}
	}
	set := NewSet(rs)
	for _, sf := range Surfaces {
		for _, q := range []string{"", "pen", "blue pen", " BLUE   pen ", "azure pen", "red pen case", "folder"} {
			req := Request{Surface: sf, Query: q, Now: now}
			var want []string
			for _, r := range set.Rules() {
				if r.Matches(&req) {
					want = append(want, r.ID)
				}
			}
			if got := set.Plan(req).Applied; strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s %q: applied %v, every rule checked gives %v", sf, q, got, want)
			}
		}
	}
}

// Each part of a filter, alone, keeps exactly the items it names: through
// Filter.Matches, a plan's Keeps (a filter consequence) and a boost of the
// same filter moving its items first; "new within days" and "in stock"
// included.
func TestFilterPartsKeepWhatTheyName(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	price := func(v float64) *float64 { return &v }
	items := []catalog.Item{
		{ID: "old", Brand: "Acme", Categories: []string{"Office/Pens"}, Price: price(3), Available: true, CreatedAt: at.Add(-30 * 24 * time.Hour), Attributes: map[string]any{"colour": "blue"}},
		{ID: "new", Brand: "Bic", Categories: []string{"Office/Paper"}, Price: price(9), Available: true, CreatedAt: at.Add(-2 * 24 * time.Hour), Attributes: map[string]any{"colour": "red"}},
		{ID: "gone", Brand: " acme", Categories: []string{"Garden"}, Price: price(20), Available: false, CreatedAt: at.Add(-1 * time.Hour)},
	}
	for _, c := range []struct {
		name string
		f    Filter
		want string // the items kept, in order
	}{
		{"brand (any case)", Filter{Brands: []string{"ACME"}}, "old"},
		{"category prefix", Filter{Categories: []string{"/Office/"}}, "old new"},
		{"min price", Filter{MinPrice: price(9)}, "new gone"},
		{"max price", Filter{MaxPrice: price(9)}, "old new"},
		{"attribute", Filter{Attributes: map[string]string{"colour": "red"}}, "new"},
		{"new within 7 days", Filter{NewWithinDays: 7}, "new gone"},
		{"in stock", Filter{InStock: true}, "old new"},
	} {
		var kept []string
		p := &Plan{Applied: []string{"r"}, Filters: []Filter{c.f}}
		for i := range items {
			m := c.f.Matches(&items[i], at)
			if p.Keeps(&items[i], at) != m {
				t.Fatalf("%s: Keeps and Matches disagree on %s", c.name, items[i].ID)
			}
			if m {
				kept = append(kept, items[i].ID)
			}
		}
		if got := strings.Join(kept, " "); got != c.want {
			t.Fatalf("%s: kept %q, want %q", c.name, got, c.want)
		}
		// a boost of the filter (strength 1) puts exactly those first,
		// in their own order
		boost := &Plan{Applied: []string{"r"}, Moves: []Weighted{{Filter: c.f, Strength: 1}}}
		look := func(id string) (catalog.Item, bool) {
			for _, it := range items {
				if it.ID == id {
					return it, true
				}
			}
			return catalog.Item{}, false
		}
		var order []string
		for _, pl := range boost.Arrange([]string{"gone", "new", "old"}, []float64{3, 2, 1}, true, look, at) {
			order = append(order, pl.ID)
		}
		if got := strings.Join(order[:len(kept)], " "); got != strings.Join(reverse(kept), " ") {
			t.Fatalf("%s: boosted order %v, want %v first", c.name, order, reverse(kept))
		}
	}
}

func reverse(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}
