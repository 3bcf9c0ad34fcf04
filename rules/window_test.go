package rules

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
)

// ArrangeWindow with the window's items read beforehand places exactly
// what Arrange places looking every item up, on random plans (hides both
// a few and many, pins inside and outside the window, filters, moves)
// and windows with unknown items.
func TestArrangeWindowMatchesArrange(t *testing.T) {
	cat := catalogue()
	rng := rand.New(rand.NewPCG(7, 16))
	pick := func() string { return fmt.Sprintf("a%d", rng.IntN(12)) } // a10, a11: unknown
	checked := 0
	var sc Scratch
	for round := range 3000 {
		var then Consequence
		for range rng.IntN(3) {
			then.Pin = append(then.Pin, Pin{ItemID: pick(), Position: 1 + rng.IntN(8)})
		}
		for range []int{0, 1, 3, 12}[rng.IntN(4)] {
			then.Hide = append(then.Hide, pick())
		}
		if rng.IntN(3) == 0 {
			then.Filter = &Filter{Brands: []string{[]string{"Acme", "Bolt"}[rng.IntN(2)]}}
		}
		if rng.IntN(2) == 0 {
			then.Boost = []Weighted{{Filter: Filter{Categories: []string{"Office/Pens"}}, Strength: []float64{0.1, 0.5, 1}[rng.IntN(3)]}}
		}
		if rng.IntN(3) == 0 {
			then.Bury = []Weighted{{Filter: Filter{MaxPrice: ptr(13.0)}, Strength: 0.3}}
		}
		r := Rule{ID: "r", Name: "n", Then: then}
		if err := r.Validate(); err != nil {
			continue // e.g. a pinned item also hidden twice over
		}
		p := NewSet([]Rule{r}).Plan(Request{Surface: "search", Now: now})
		var ids []string
		var scores []float64
		for _, i := range rng.Perm(12)[:rng.IntN(12)] {
			ids = append(ids, fmt.Sprintf("a%d", i))
			scores = append(scores, float64(20-len(scores))/(1+float64(rng.IntN(2))))
		}
		// the shopper's own filter: some items may not be shown
		keep := func(it *catalog.Item) bool { return it.ID != "a3" }
		look := func(id string) (catalog.Item, bool) {
			it, ok := cat[id]
			return it, ok && keep(&it)
		}
		items := make([]*catalog.Item, len(ids))
		for i, id := range ids {
			if it, ok := look(id); ok {
				items[i] = &it
			}
		}
		relevance := rng.IntN(4) > 0
		want := p.Arrange(ids, scores, relevance, look, now)
		got := p.ArrangeWindow(&sc, Window{IDs: ids, Scores: scores, Items: items, Relevance: relevance}, look, now) // storage reused
		if !slices.Equal(got, want) {
			t.Fatalf("round %d, rule %+v, window %v: got %v, want %v", round, then, ids, got, want)
		}
		checked++
	}
	if checked < 1000 {
		t.Fatalf("only %d of 3000 random rules were valid", checked)
	}
}

// The first rule to pin a position or an item wins it, also when the
// pins are many (they are hashed past 16).
func TestPinsTakenWhenMany(t *testing.T) {
	var first []Pin
	for k := range 20 {
		first = append(first, Pin{ItemID: fmt.Sprint("p", k), Position: k + 1})
	}
	second := []Pin{{"x", 19}, {"p5", 30}, {"y", 40}, {"p19", 41}, {"w", 42}}
	var rs []Rule
	for k, pins := range [][]Pin{first, second} {
		r := Rule{ID: fmt.Sprint("r", k), Name: "n", Priority: 2 - k, Then: Consequence{Pin: pins}}
		if err := r.Validate(); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	p := NewSet(rs).Plan(Request{Surface: "search", Now: now})
	want := append(slices.Clone(first), Pin{"y", 40}, Pin{"w", 42})
	if !slices.Equal(p.Pins, want) {
		t.Fatalf("pins %v, want %v", p.Pins, want)
	}
}

// Read answers held items under one lock and reads the others through
// the store, nil for one that cannot be read.
func TestItemCacheRead(t *testing.T) {
	cat := catalogue()
	reads := 0
	c := NewItemCache(func(_ context.Context, id string) (catalog.Item, error) {
		reads++
		if it, ok := cat[id]; ok {
			return it, nil
		}
		return catalog.Item{}, fmt.Errorf("no item %s", id)
	}, 100)
	ctx := context.Background()
	ids := []string{"a1", "a2", "zz", "a1"}
	for round := range 2 {
		out := make([]*catalog.Item, len(ids))
		c.Read(ctx, ids, out)
		for i, id := range ids {
			if (out[i] == nil) != (id == "zz") || (out[i] != nil && out[i].ID != id) {
				t.Fatalf("round %d: item %d = %v, want %s", round, i, out[i], id)
			}
		}
	}
	if reads != 4 { // a1, a2, zz, then zz again (errors are not kept)
		t.Fatalf("%d store reads, want 4", reads)
	}
}

// A set keeps the plan of a (surface, query, category page) while no
// rule the request may match starts or ends, and not for rules with a
// segment: every plan equals the plan of a fresh set, across the rules'
// time boundaries and for requests in any order.
func TestCachedPlansEqualFreshOnes(t *testing.T) {
	at := func(h int) *time.Time { v := now.Add(time.Duration(h) * time.Hour); return &v }
	rs := []Rule{
		{ID: "a", If: Condition{Query: "pen"}, Then: Consequence{Pin: []Pin{{"a1", 1}}}},
		{ID: "b", If: Condition{Query: "pen", From: at(2), Until: at(5)}, Then: Consequence{Hide: []string{"a2"}}},
		{ID: "c", If: Condition{Surfaces: []string{"popular"}}, Start: at(-1), End: at(3), Then: Consequence{Boost: []Weighted{{Filter: Filter{Brands: []string{"Acme"}}, Strength: 0.5}}}},
		{ID: "d", If: Condition{Surfaces: []string{"popular"}, Category: "Office/Pens"}, Then: Consequence{Filter: &Filter{InStock: true}}},
		{ID: "e", If: Condition{Surfaces: []string{"trending"}, Segment: map[string]string{"tier": "gold"}}, Then: Consequence{Hide: []string{"a3"}}},
		{ID: "f", If: Condition{Query: "pen", QueryMatch: "contains"}, Start: at(4), Then: Consequence{Pin: []Pin{{"a4", 2}, {"a1", 3}}}},
	}
	for i := range rs {
		rs[i].Name = "n"
		if err := rs[i].Validate(); err != nil {
			t.Fatal(err)
		}
	}
	cached := NewSet(rs)
	tiers := []string{"gold", "blue"}
	reqs := []Request{
		{Surface: "search", Query: "Pen"}, {Surface: "search", Query: "blue pen"}, {Surface: "search", Query: "pen", Categories: []string{"Office/Pens"}},
		{Surface: "popular"}, {Surface: "popular", Categories: []string{"Office/Pens"}}, {Surface: "popular", Categories: []string{"Office/Paper"}},
		{Surface: "trending"}, {Surface: "recommend"},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 2000 {
		q := reqs[rng.IntN(len(reqs))]
		q.Now = now.Add(time.Duration(rng.IntN(16)-4) * 30 * time.Minute)
		tier := tiers[rng.IntN(2)]
		q.UserAttrs = func() map[string]any { return map[string]any{"tier": tier} }
		got, want := cached.Plan(q), NewSet(rs).Plan(q)
		if fmt.Sprint(*got) != fmt.Sprint(*want) {
			t.Fatalf("round %d, %+v at %v: plan %+v, want %+v", round, q, q.Now, *got, *want)
		}
		if h, w := got.HiddenIDs(), (&Plan{Hide: want.Hide}).HiddenIDs(); !slices.Equal(h, w) {
			t.Fatalf("round %d, %+v at %v: hidden %v, want %v", round, q, q.Now, h, w)
		}
		// the caller may change its plan, the hidden items too
		got.Applied = append(got.Applied, "x")
		got.Pins = append(got.Pins, Pin{"zz", 9})
		if len(got.Hide) > 0 {
			got.Hide = map[string]bool{"a9": true}
			if h := got.HiddenIDs(); !slices.Equal(h, []string{"a9"}) {
				t.Fatalf("round %d: hidden %v after the caller's change, want [a9]", round, h)
			}
		}
	}
}

// A set says whether a rule may read the shopper's attributes: only an
// enabled rule with a segment condition does (the callers then leave the
// attributes reader out of their requests).
func TestUsesSegments(t *testing.T) {
	seg := Rule{ID: "s", If: Condition{Segment: map[string]string{"tier": "gold"}}, Then: Consequence{Hide: []string{"x"}}}
	plain := Rule{ID: "p", If: Condition{Surfaces: []string{"popular"}}, Then: Consequence{Hide: []string{"x"}}}
	off := seg
	off.ID, off.Disabled = "o", true
	for _, c := range []struct {
		name  string
		rules []Rule
		want  bool
	}{
		{"none", nil, false},
		{"no segment", []Rule{plain}, false},
		{"a segment rule", []Rule{plain, seg}, true},
		{"a disabled segment rule", []Rule{plain, off}, false},
	} {
		if got := NewSet(c.rules).UsesSegments(); got != c.want {
			t.Errorf("%s: UsesSegments %v, want %v", c.name, got, c.want)
		}
	}
	if (*Set)(nil).UsesSegments() {
		t.Error("a nil set uses segments")
	}
}
