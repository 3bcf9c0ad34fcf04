package ads

import (
	"context"
	"fmt"
	"testing"
	"time"

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

// Off search an ad's relevance is the share of the answer's organic items
// in its top-level category: the items the caller already read
// (OrganicItems) are used as given, the others read.
func TestOrganicItemsGivenAreNotReadAgain(t *testing.T) {
	ctx := context.Background()
	sh := newTestShop(t)
	one := sh.service(t)
	saveCampaign(t, one, Campaign{Name: "A", Advertiser: "Acme", Items: []string{"i3"}, Bid: 5, DailyBudget: 100, Pacing: "asap"})
	// and a service that reads many items at once (ReadItems)
	o := one.o
	batches := 0
	o.ReadItems = func(ctx context.Context, ids []string, out []*catalog.Item) {
		batches++
		for i, id := range ids {
			out[i] = nil
			if it, err := o.Item(ctx, id); err == nil {
				out[i] = &it
			}
		}
	}
	many, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	desk := &catalog.Item{ID: "g1", Categories: []string{"Office/Desk"}}
	garden := &catalog.Item{ID: "i1", Categories: []string{"Garden/Tools"}} // the shop says Office/Desk
	for _, c := range []struct {
		name    string
		organic []string
		items   []*catalog.Item
		want    string
	}{
		{"read from the shop", []string{"i1", "i2"}, nil, "[i3]"},
		{"unknown to the shop, given", []string{"g1", "g2"}, []*catalog.Item{desk, desk}, "[i3]"},
		{"given, not read", []string{"i1", "i2"}, []*catalog.Item{garden, garden}, "[]"},
		{"nil and missing ones read", []string{"i1", "i2", "g1"}, []*catalog.Item{nil, garden}, "[i3]"}, // g1 unknown: 1 of 2 in Office
		{"a third given", []string{"i1", "i2", "i4"}, []*catalog.Item{nil, garden, garden}, "[]"},       // 1 of 3 < floor 0.5
	} {
		for k, s := range []*Service{one, many} {
			var got []string
			for _, p := range s.Fill(ctx, Request{RequestID: reqid.New(), Surface: "recommend", Organic: c.organic, OrganicItems: c.items}) {
				got = append(got, p.Item)
			}
			if g := fmt.Sprint(got); g != c.want {
				t.Fatalf("%s (service %d): ads %s, want %s", c.name, k, g, c.want)
			}
		}
	}
	if batches != 3 { // the answers not all of whose items were given
		t.Fatalf("%d batch reads, want 3", batches)
	}
}

// A tally of the organic categories gives each ad exactly the share the
// list gives.
func TestCatTallyIsShareOf(t *testing.T) {
	pool := []string{"Office", "Garden", "", "Toys"}
	for n := range 25 {
		cats := make([]string, n)
		for i := range cats {
			cats[i] = pool[(i*i+n)%len(pool)]
		}
		tl := tallyOf(cats)
		for _, top := range append(pool, "Books") {
			if got, want := tl.share(top), shareOf(top, cats); got != want {
				t.Fatalf("%v: share of %q = %v, want %v", cats, top, got, want)
			}
		}
	}
}

// The organic tally of an answer is kept for the next answer carrying
// the same item values (the same pointers), and computed afresh when an
// item differs: a changed category then changes the ad's relevance.
func TestOrganicTallyFollowsTheItems(t *testing.T) {
	s := &Service{}
	cs := &campaignSet{}
	pen := &catalog.Item{ID: "p", Categories: []string{"Office/pen"}}
	desk := &catalog.Item{ID: "d", Categories: []string{"Home/desk"}}
	req := func(items ...*catalog.Item) *Request {
		r := &Request{Surface: "popular"}
		for _, it := range items {
			r.Organic, r.OrganicItems = append(r.Organic, it.ID), append(r.OrganicItems, it)
		}
		return r
	}
	ctx := context.Background()
	if tl := s.organicTally(ctx, cs, req(pen, pen, desk, desk)); tl.share("Office") != 0.5 {
		t.Fatalf("first answer: Office share %v, want 0.5", tl.share("Office"))
	}
	if tl := s.organicTally(ctx, cs, req(pen, pen, desk, desk)); tl.share("Office") != 0.5 || len(cs.elig.org) != 1 {
		t.Fatalf("same items: Office share %v (want 0.5), %d kept", tl.share("Office"), len(cs.elig.org))
	}
	moved := &catalog.Item{ID: "d", Categories: []string{"Office/desk"}} // the desk changed category
	if tl := s.organicTally(ctx, cs, req(pen, pen, moved, moved)); tl.share("Office") != 1 {
		t.Fatalf("changed item: Office share %v, want 1", tl.share("Office"))
	}
	if tl := s.organicTally(ctx, cs, req(pen, desk, desk, desk)); tl.share("Office") != 0.25 {
		t.Fatalf("other items: Office share %v, want 0.25", tl.share("Office"))
	}
}

// When the request does not carry its organic items (a pinned item the
// model did not propose, or no arranging at all), the ones missing are
// read together (Options.ReadItems, the item cache's own values) and the
// tally is still kept for the next answer with the same values; a value
// read anew (the item changed) is tallied afresh, and an unknown item is
// left out, that tally not kept.
func TestOrganicTallyOfReadItemsIsKept(t *testing.T) {
	pen := &catalog.Item{ID: "p", Categories: []string{"Office/pen"}}
	desk := &catalog.Item{ID: "d", Categories: []string{"Home/desk"}}
	shop := map[string]*catalog.Item{"p": pen, "d": desk}
	reads := 0
	s := &Service{o: Options{ReadItems: func(_ context.Context, ids []string, out []*catalog.Item) {
		reads++
		for i, id := range ids {
			out[i] = shop[id]
		}
	}}}
	cs := &campaignSet{}
	ctx := context.Background()
	key := eligibleKey{surface: "popular"}
	steps := []struct {
		name    string
		change  func()
		organic []string
		given   []*catalog.Item
		office  float64
		kept    bool // the tally kept after the step is the one kept before
	}{
		{"none given", nil, []string{"p", "d", "d", "d"}, nil, 0.25, false},
		{"none given, same items", nil, []string{"p", "d", "d", "d"}, nil, 0.25, true},
		{"some given, same items", nil, []string{"p", "d", "d", "d"}, []*catalog.Item{pen, nil, desk}, 0.25, true},
		{"the desk moved to Office", func() { shop["d"] = &catalog.Item{ID: "d", Categories: []string{"Office/desk"}} }, []string{"p", "d", "d", "d"}, nil, 1, false},
		// the unknown item is left out (the desk, back home, is the only
		// one tallied) and the tally is not kept: the kept one stays
		{"an unknown item", func() { shop["d"] = desk }, []string{"d", "x"}, nil, 0, true},
	}
	for _, st := range steps {
		if st.change != nil {
			st.change()
		}
		before := cs.elig.org[key]
		r := &Request{Surface: "popular", Organic: st.organic, OrganicItems: st.given}
		if got := s.organicTally(ctx, cs, r); got.share("Office") != st.office {
			t.Fatalf("%s: Office share %v, want %v", st.name, got.share("Office"), st.office)
		}
		if kept := before != nil && cs.elig.org[key] == before; kept != st.kept {
			t.Fatalf("%s: tally kept %v, want %v", st.name, kept, st.kept)
		}
	}
	if reads != len(steps) {
		t.Fatalf("%d reads, want one per answer (%d)", reads, len(steps))
	}
}

// The eligible items the last answer used are read without the lock and
// the map only while the map they came from would still give them: of the
// same key, the same item generation and younger than eligibleTTL. An
// answer of another key leaves a fresh entry alone.
func TestLastEligibleAgesWithTheMap(t *testing.T) {
	ctx := context.Background()
	s := newTestShop(t).service(t)
	saveCampaign(t, s, Campaign{Name: "A", Advertiser: "Acme", Items: []string{"i0"}, Bid: 5, DailyBudget: 100, Pacing: "asap"})
	cs := s.camps.Load()
	r := Request{Surface: "search", Query: "red stapler"}
	key := requestKey(&r)
	first, _ := s.eligible(ctx, cs, &r, time.Now())
	s.eligible(ctx, cs, &r, time.Now()) // a map hit: kept as the last entry
	if l := cs.elig.last.Load(); l == nil || l.key != key || len(l.list) != len(first) || len(first) == 0 {
		t.Fatalf("last entry %+v after two answers of one key, want the key's %d items", l, len(first))
	}
	gen := s.itemGen.Load()
	marker := []eligibleItem{{item: "marker"}}
	for _, c := range []struct {
		name   string
		last   lastEligible
		marked bool // the answer gets the last entry's list
	}{
		{"fresh, same key", lastEligible{key: key, list: marker, born: time.Now(), gen: gen}, true},
		{"older than the TTL", lastEligible{key: key, list: marker, born: time.Now().Add(-2 * eligibleTTL), gen: gen}, false},
		{"born later than the answer", lastEligible{key: key, list: marker, born: time.Now().Add(time.Hour), gen: gen}, false},
		{"another item generation", lastEligible{key: key, list: marker, born: time.Now(), gen: gen + 1}, false},
		{"another key", lastEligible{key: eligibleKey{surface: "search", query: "gel pen"}, list: marker, born: time.Now(), gen: gen}, false},
	} {
		cs.elig.last.Store(&c.last)
		got, _ := s.eligible(ctx, cs, &r, time.Now())
		if marked := len(got) == 1 && got[0].item == "marker"; marked != c.marked {
			t.Errorf("%s: got the last entry's list %v, want %v", c.name, marked, c.marked)
		}
	}
	// a fresh entry of another key stays; an aged one is replaced
	other := &lastEligible{key: eligibleKey{surface: "search", query: "gel pen"}, list: marker, born: time.Now(), gen: gen}
	cs.elig.last.Store(other)
	s.eligible(ctx, cs, &r, time.Now())
	if cs.elig.last.Load() != other {
		t.Errorf("a fresh entry of another key was replaced")
	}
	other.born = time.Now().Add(-2 * eligibleTTL)
	s.eligible(ctx, cs, &r, time.Now())
	if l := cs.elig.last.Load(); l.key != key {
		t.Errorf("an aged entry of another key was kept")
	}
}
