package ads

import (
	"context"
	"fmt"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/internal/reqid"
)

// The eligible items of a (surface, query, context) are kept for a
// second, but never past a change of the campaigns or of an item, and
// what depends on the answer (its organic items, the shopper) is not
// kept.
func TestEligibleCacheFollowsChanges(t *testing.T) {
	ctx := context.Background()
	sh := newTestShop(t)
	s := sh.service(t)
	a := saveCampaign(t, s, Campaign{Name: "A", Advertiser: "Acme", Items: []string{"i0"}, Bid: 5, DailyBudget: 100, Pacing: "asap"})
	ads := func(surface, query string, organic ...string) string {
		var got []string
		for _, p := range s.Fill(ctx, Request{RequestID: reqid.New(), Surface: surface, Query: query, Organic: organic}) {
			got = append(got, p.Item)
		}
		return fmt.Sprint(got)
	}
	steps := []struct {
		name           string
		change         func()
		surface, query string
		organic        []string
		want           string
	}{
		{"first answer", nil, "search", "red stapler", nil, "[i0]"},
		{"same query, from the cache", nil, "search", "red stapler", nil, "[i0]"},
		{"the item becomes unavailable", func() {
			it := sh.items["i0"]
			it.Available = false
			sh.items["i0"] = it
			s.ItemsUpserted([]catalog.Item{it})
		}, "search", "red stapler", nil, "[]"},
		{"available again", func() {
			it := sh.items["i0"]
			it.Available = true
			sh.items["i0"] = it
			s.ItemsUpserted([]catalog.Item{it})
		}, "search", "red stapler", nil, "[i0]"},
		{"the campaign now advertises the pen", func() {
			a.Items = []string{"i3"}
			a = saveCampaign(t, s, a)
		}, "search", "red stapler", nil, "[]"},
		{"and shows it for pens", nil, "search", "gel pen", nil, "[i3]"},
		// off search relevance is the answer's: the cached item, another row
		{"a row of desk items", nil, "recommend", "", []string{"i1", "i2"}, "[i3]"},
		{"a row of unknown items", nil, "recommend", "", []string{"unknown"}, "[]"},
		{"the item is deleted", func() {
			delete(sh.items, "i3")
			s.ItemsDeleted([]string{"i3"})
		}, "recommend", "", []string{"i1", "i2"}, "[]"},
	}
	for _, st := range steps {
		if st.change != nil {
			st.change()
		}
		if got := ads(st.surface, st.query, st.organic...); got != st.want {
			t.Fatalf("%s: ads %s, want %s", st.name, got, st.want)
		}
	}
}
