package rules

import (
	"context"
	"fmt"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
)

// benchSet is 50 rules as in api.BenchmarkMerchOverhead: 45 exact-query
// rules that do not match, and on "blue pen" a pin and hide, a boost (a
// "contains" rule) and a price filter; on popular a pin, a bury and a hide.
func benchSet() *Set {
	var rs []Rule
	for k := range 50 {
		r := Rule{ID: fmt.Sprintf("r%02d", k), Name: "r", If: Condition{Query: fmt.Sprintf("query %d", k)}, Then: Consequence{Hide: []string{"i0001"}}}
		switch k {
		case 0:
			r.If.Query = "blue pen"
			r.Then = Consequence{Pin: []Pin{{ItemID: "i0003", Position: 1}}, Hide: []string{"i0000"}}
		case 1:
			r.If = Condition{Query: "pen", QueryMatch: "contains"}
			r.Then = Consequence{Boost: []Weighted{{Filter: Filter{Brands: []string{"Bic"}}, Strength: 0.3}}}
		case 2:
			r.If = Condition{Surfaces: []string{"popular"}}
			r.Then = Consequence{Pin: []Pin{{ItemID: "i0042", Position: 2}}, Bury: []Weighted{{Filter: Filter{Brands: []string{"Acme"}}, Strength: 0.2}}}
		case 3:
			r.If = Condition{Surfaces: []string{"popular"}}
			r.Then = Consequence{Hide: []string{"i0007"}}
		case 4:
			r.If = Condition{Query: "blue pen", Synonyms: []string{"azure pen"}}
			r.Then = Consequence{Filter: &Filter{MaxPrice: ptr(90.0)}}
		}
		if err := r.Validate(); err != nil {
			panic(err)
		}
		rs = append(rs, r)
	}
	return NewSet(rs)
}

// BenchmarkPlanArrange matches a request against 50 rules and arranges a
// window of 41 candidates (a page of 20, a pin, one page of room), the
// items read through an ItemCache as the server does.
func BenchmarkPlanArrange(b *testing.B) {
	set := benchSet()
	items := map[string]catalog.Item{}
	for i := range 5000 {
		p := 1 + float64(i%100)
		it := catalog.Item{ID: fmt.Sprintf("i%04d", i), Title: fmt.Sprint("item ", i), Brand: []string{"Pilot", "Bic", "Acme"}[i%3],
			Categories: []string{"Office/x"}, Price: &p, Available: true}
		items[it.ID] = it
	}
	cache := NewItemCache(func(_ context.Context, id string) (catalog.Item, error) { return items[id], nil }, 10000)
	ctx := context.Background()
	look := func(id string) (catalog.Item, bool) {
		it, err := cache.Get(ctx, id)
		return it, err == nil
	}
	ids := make([]string, 41)
	scores := make([]float64, 41)
	for i := range ids {
		ids[i], scores[i] = fmt.Sprintf("i%04d", i*7), float64(100-i)
	}
	for _, c := range []struct {
		name string
		req  Request
	}{
		{"search", Request{Surface: "search", Query: "Blue  pen", Now: now}},
		{"popular", Request{Surface: "popular", Now: now}},
		{"unmatched", Request{Surface: "search", Query: "green folder", Now: now}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p := set.Plan(c.req)
				if !p.Empty() {
					p.Arrange(ids, scores, true, look, now)
				}
			}
		})
	}
}

// BenchmarkArrangeMoveWindow arranges a window of MoveWindow candidates,
// read beforehand, under a plan with a boost and a bury (three runs to
// merge), as an answer no kept arrangement serves does.
func BenchmarkArrangeMoveWindow(b *testing.B) {
	r := Rule{ID: "r", Name: "r", If: Condition{Surfaces: []string{"popular"}}, Then: Consequence{
		Pin:   []Pin{{ItemID: "i0042", Position: 2}},
		Boost: []Weighted{{Filter: Filter{Brands: []string{"Bic"}}, Strength: 0.3}},
		Bury:  []Weighted{{Filter: Filter{Brands: []string{"Acme"}}, Strength: 0.2}}}}
	if err := r.Validate(); err != nil {
		b.Fatal(err)
	}
	plan := NewSet([]Rule{r}).Plan(Request{Surface: "popular", Now: now})
	w := Window{Relevance: true}
	for i := range MoveWindow {
		p := 1 + float64(i%100)
		it := &catalog.Item{ID: fmt.Sprintf("i%04d", i*7), Brand: []string{"Pilot", "Bic", "Acme"}[i%3], Price: &p, Available: true}
		w.IDs, w.Scores, w.Items = append(w.IDs, it.ID), append(w.Scores, float64(1000-i)), append(w.Items, it)
	}
	look := func(id string) (catalog.Item, bool) { return catalog.Item{ID: id, Available: true}, true }
	var sc Scratch
	b.ReportAllocs()
	for b.Loop() {
		plan.ArrangeWindow(&sc, w, look, now)
	}
}
