package related

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func item(id, title, cat, brand string) catalog.Item {
	return catalog.Item{ID: id, Title: title, Categories: []string{cat}, Brand: brand, Available: true}
}

func buy(user, it, session string, at time.Duration) events.Event {
	return events.Event{UserID: user, ItemID: it, Type: events.Purchase, SessionID: session, Timestamp: t0.Add(at)}
}

func build(t *testing.T, items []catalog.Item, evs []events.Event, cfg Config) *Index {
	t.Helper()
	ix, err := Build(context.Background(), items, evs, nil, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func ids(rs []Result) []string {
	out := make([]string, len(rs))
	for k, r := range rs {
		out[k] = r.ID
	}
	return out
}

// Behaviour similarity is c / (sqrt(ni·nj) + shrink): a pair seen once
// between two rare items must not beat a pair many shoppers share.
func TestBehaviourShrinkage(t *testing.T) {
	items := []catalog.Item{item("a", "", "x", ""), item("b", "", "y", ""), item("c", "", "x", ""), item("d", "", "y", "")}
	var evs []events.Event
	evs = append(evs, buy("solo", "a", "", 0), buy("solo", "b", "", 48*time.Hour))
	for u := 0; u < 10; u++ {
		user := fmt.Sprintf("u%d", u)
		evs = append(evs, buy(user, "c", "", 0))
		if u < 5 {
			evs = append(evs, buy(user, "d", "", 48*time.Hour))
		} else {
			evs = append(evs, buy("v"+user, "d", "", 48*time.Hour))
		}
	}
	for _, tc := range []struct {
		shrink     float64
		ab, cd     float64 // want
		cdBeatsAB  bool
		rawCosines string
	}{
		{shrink: 5, ab: 1.0 / (1 + 5), cd: 5.0 / (10 + 5), cdBeatsAB: true},
		{shrink: 0.001, ab: 1 / (1 + 0.001), cd: 5 / (10 + 0.001), cdBeatsAB: false},
	} {
		ix := build(t, items, evs, Config{Shrink: tc.shrink})
		pos := ix.content.pos
		ab, cd := ix.beh.simOf(pos["a"], pos["b"]), ix.beh.simOf(pos["c"], pos["d"])
		if math.Abs(ab-tc.ab) > 1e-5 || math.Abs(cd-tc.cd) > 1e-5 {
			t.Errorf("shrink %v: sim(a,b)=%v sim(c,d)=%v, want %v %v", tc.shrink, ab, cd, tc.ab, tc.cd)
		}
		if (cd > ab) != tc.cdBeatsAB {
			t.Errorf("shrink %v: sim(c,d)=%v > sim(a,b)=%v is %v", tc.shrink, cd, ab, cd > ab)
		}
	}
}

// Basket scores are shrunk confidence among pairs with lift above 1: an
// item in every basket is not a complement of anything, a pair that meets
// more often than chance is.
func TestBasketLift(t *testing.T) {
	items := []catalog.Item{item("bag", "", "bags", ""), item("x", "", "pens", ""), item("y", "", "ink", ""), item("z", "", "paper", "")}
	var evs []events.Event
	for b := 0; b < 20; b++ {
		s := fmt.Sprintf("order%d", b)
		u := fmt.Sprintf("u%d", b)
		evs = append(evs, buy(u, "bag", s, 0))
		switch {
		case b < 4:
			evs = append(evs, buy(u, "x", s, 0), buy(u, "y", s, 0))
		case b < 12:
			evs = append(evs, buy(u, "z", s, 0))
		}
	}
	ix := build(t, items, evs, Config{})
	p := ix.content.pos
	xy, xbag := ix.beh.basketOf(p["x"], p["y"]), ix.beh.basketOf(p["x"], p["bag"])
	// 12 baskets of two or more items; lift(x,y) = 4·12/(4·4) = 3 > 1;
	// confidence 4/4 shrunk by 4/(4+5)
	want := 4.0 / 9

	if math.Abs(xy-want) > 1e-5 {
		t.Errorf("basket(x,y) = %v, want %v", xy, want)
	}
	if xbag != 0 {
		t.Errorf("basket(x,bag) = %v: an item in every basket has lift 1, want 0", xbag)
	}
	if got := ids(ix.Complements("x", 3, nil)); len(got) == 0 || got[0] != "y" {
		t.Errorf("complements of x = %v, want y first", got)
	}
}

// Without session ids, one shopper's purchases within the window form a
// basket; purchases days apart do not.
func TestBasketsByTime(t *testing.T) {
	for _, tc := range []struct {
		name   string
		gap    time.Duration
		window time.Duration
		want   int // baskets
	}{
		{"same day", 2 * time.Hour, 24 * time.Hour, 1},
		{"a week apart", 7 * 24 * time.Hour, 24 * time.Hour, 0},
		{"a week apart, long window", 7 * 24 * time.Hour, 8 * 24 * time.Hour, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := []touch{{item: 1, ts: 0, buy: true}, {item: 2, ts: int64(tc.gap.Seconds()), buy: true}}
			if got := len(baskets(ts, int64(tc.window.Seconds()), func(int32) string { return "" })); got != tc.want {
				t.Errorf("%d baskets, want %d", got, tc.want)
			}
		})
	}
}

// Another calculator is not a complement of a calculator, unless
// shoppers do buy the two together (inks of two colours). The Casio is
// another maker's, with little title in common in so small a catalogue
// (0.12): it is a substitute because calculators are bought one at a time
// (TestOnceBoughtKind).
func TestSubstituteSuppression(t *testing.T) {
	items := []catalog.Item{
		item("ti30", "Texas Instruments TI-30X scientific calculator", "Office/Calculators/Scientific", "Texas Instruments"),
		item("ti34", "Texas Instruments TI-34 scientific calculator", "Office/Calculators/Scientific", "Texas Instruments"),
		item("casio", "Casio fx-300 scientific calculator", "Office/Calculators/Scientific", "Casio"),
		item("batt", "AAA batteries 4 pack", "Office/Batteries/AAA", "Duracell"),
		item("cyan", "HP 564 ink cartridge cyan", "Office/Ink/Inkjet", "HP"),
		item("mag", "HP 564 ink cartridge magenta", "Office/Ink/Inkjet", "HP"),
	}
	var evs []events.Event
	for u := 0; u < 12; u++ {
		user, s := fmt.Sprintf("u%d", u), fmt.Sprintf("s%d", u)
		evs = append(evs, buy(user, "ti30", s, 0), buy(user, "batt", s, 0), buy(user, "cyan", s+"ink", time.Hour), buy(user, "mag", s+"ink", time.Hour))
		evs = append(evs, buy("other"+user, "ti34", "", 0), buy("other"+user, "casio", "", 72*time.Hour)) // one calculator at a time
	}
	ix := build(t, items, evs, Config{})
	for _, tc := range []struct {
		anchor   string
		want     string
		mustNot  []string
		whyWant  string
		whyNever string
	}{
		{anchor: "ti30", want: "batt", mustNot: []string{"ti34", "casio"}, whyNever: "other calculators are substitutes"},
		{anchor: "cyan", want: "mag", whyWant: "same kind, but bought together: a complement"},
	} {
		got := ids(ix.Complements(tc.anchor, 5, nil))
		if !slices.Contains(got, tc.want) {
			t.Errorf("complements of %s = %v, want %s (%s)", tc.anchor, got, tc.want, tc.whyWant)
		}
		for _, n := range tc.mustNot {
			if slices.Contains(got, n) {
				t.Errorf("complements of %s = %v contain %s: %s", tc.anchor, got, n, tc.whyNever)
			}
		}
	}
	// …and the calculators are each other's similar items.
	if got := ids(ix.Similar("ti30", 2, nil)); !slices.Contains(got, "ti34") {
		t.Errorf("similar to ti30 = %v, want ti34", got)
	}
}

// A new item is answered, and reached, through its content at once.
func TestNewItemReachableThroughContent(t *testing.T) {
	items := []catalog.Item{
		item("p1", "gel pen blue 12 pack", "Office/Pens/Gel", "Pilot"),
		item("p2", "gel pen black 12 pack", "Office/Pens/Gel", "Pilot"),
		item("n1", "spiral notebook college ruled", "Office/Paper/Notebooks", "Mead"),
	}
	evs := []events.Event{buy("u", "p1", "", 0), buy("u", "n1", "", 0)}
	ix := build(t, items, evs, Config{})
	next := ix.WithItems(append(slices.Clone(items), item("p3", "gel pen red 12 pack", "Office/Pens/Gel", "Pilot")))
	if got := ids(next.Similar("p3", 2, nil)); len(got) != 2 || !slices.Contains(got, "p1") || !slices.Contains(got, "p2") {
		t.Errorf("similar to the new p3 = %v, want p1 and p2", got)
	}
	if got := ids(next.Similar("p2", 2, nil)); !slices.Contains(got, "p3") {
		t.Errorf("similar to p2 = %v, want the new p3", got)
	}
	// behaviour survives the catalogue change
	if s := next.beh.simOf(next.content.pos["p1"], next.content.pos["n1"]); s <= 0 {
		t.Errorf("behaviour lost by WithItems: sim(p1,n1) = %v", s)
	}
	if next.Has("gone") || !next.Has("p3") {
		t.Error("Has")
	}
}

// Reasons name the signal that placed an item; allow filters.
func TestReasonsAndFilter(t *testing.T) {
	items := []catalog.Item{
		item("a", "red stapler heavy duty", "Office/Staplers", "Swingline"),
		item("b", "red stapler compact", "Office/Staplers", "Swingline"),
		item("c", "staples box 5000", "Office/Staples", "Swingline"),
	}
	ix := build(t, items, nil, Config{})
	got := ix.Similar("a", 5, nil)
	if len(got) == 0 || got[0].ID != "b" || !strings.Contains(got[0].Reason, "similar text") {
		t.Fatalf("similar to a = %+v, want b first for its text", got)
	}
	if got := ids(ix.Similar("a", 5, func(id string) bool { return id != "b" })); slices.Contains(got, "b") {
		t.Errorf("allow ignored: %v", got)
	}
	if ix.Similar("nope", 5, nil) != nil || ix.Complements("nope", 5, nil) != nil {
		t.Error("unknown item answered")
	}
}

// With no behaviour, Learn keeps the content-led defaults; with plenty of
// browsing that follows something the text does not show, it learns to
// trust behaviour.
func TestLearnAdapts(t *testing.T) {
	var items []catalog.Item
	for i := 0; i < 60; i++ {
		// titles and categories say nothing about the hidden group i%3
		items = append(items, item(fmt.Sprintf("i%02d", i), fmt.Sprintf("widget model %d", i), fmt.Sprintf("Shop/Kind%d", i%5), ""))
	}
	ctx := context.Background()
	_, rep, err := Learn(ctx, items, nil, nil, nil, Config{}, nil)
	if err != nil || rep.Learned || rep.Similar != DefaultSimilar() {
		t.Fatalf("no behaviour: learned=%v weights %s, err %v; want the defaults", rep.Learned, rep.Similar, err)
	}
	var evs []events.Event
	rng := rand.New(rand.NewPCG(1, 2))
	for u := 0; u < 400; u++ {
		g := u % 3
		for k := 0; k < 6; k++ {
			i := g + 3*rng.IntN(20)
			evs = append(evs, events.Event{UserID: fmt.Sprintf("u%d", u), ItemID: items[i].ID, Type: events.View, Timestamp: t0.Add(time.Duration(u*10+k) * time.Minute)})
		}
	}
	ix, rep, err := Learn(ctx, items, evs, nil, nil, Config{}, nil)
	if err != nil || !rep.Learned {
		t.Fatalf("busy shop: learned=%v err %v", rep.Learned, err)
	}
	if rep.Similar.W[SigBehaviour] <= DefaultSimilar().W[SigBehaviour] || rep.SimilarAfter <= rep.SimilarBefore {
		t.Errorf("busy shop: behaviour weight %v (default %v), held-out NDCG %v → %v: want behaviour trusted more",
			rep.Similar.W[SigBehaviour], DefaultSimilar().W[SigBehaviour], rep.SimilarBefore, rep.SimilarAfter)
	}
	inGroup := 0
	for _, id := range ids(ix.Similar("i00", 10, nil)) {
		var n int
		fmt.Sscanf(id, "i%d", &n)
		if n%3 == 0 {
			inGroup++
		}
	}
	if inGroup < 8 {
		t.Errorf("busy shop: %d of 10 similar items in the hidden group, want ≥ 8", inGroup)
	}
}

func TestParseWeights(t *testing.T) {
	for _, tc := range []struct {
		in      string
		wantErr bool
		text    float64
	}{
		{"text=1,leaf=0.5", false, 1},
		{"", false, 0},
		{"texture=1", true, 0},
		{"text=heavy", true, 0},
		{"text", true, 0},
	} {
		w, err := ParseWeights(tc.in)
		if (err != nil) != tc.wantErr || (err == nil && w.W[SigText] != tc.text) {
			t.Errorf("ParseWeights(%q) = %s, %v", tc.in, w, err)
		}
	}
}

// BasketLift trades confidence (popular partners) for lift (rare ones):
// p is in 4 of x's 6 baskets and 6 others, r in 2 of x's and nowhere else.
func TestBasketLiftExponent(t *testing.T) {
	items := []catalog.Item{item("x", "", "a", ""), item("p", "", "b", ""), item("r", "", "c", ""), item("f", "", "d", ""), item("g", "", "e", "")}
	var evs []events.Event
	for b := 0; b < 20; b++ {
		s, u := fmt.Sprintf("order%d", b), fmt.Sprintf("u%d", b)
		switch {
		case b < 4:
			evs = append(evs, buy(u, "x", s, 0), buy(u, "p", s, 0))
		case b < 6:
			evs = append(evs, buy(u, "x", s, 0), buy(u, "r", s, 0))
		case b < 12:
			evs = append(evs, buy(u, "p", s, 0), buy(u, "f", s, 0))
		default:
			evs = append(evs, buy(u, "f", s, 0), buy(u, "g", s, 0))
		}
	}
	for _, tc := range []struct {
		lift  float64
		p, r  float64
		first string
	}{
		{0, 4.0 / 9 * 4 / 6, 2.0 / 7 * 2 / 6, "p"},
		{1, 4.0 / 9 * 4 / 10, 2.0 / 7 * 2 / 2, "r"},
	} {
		ix := build(t, items, evs, Config{BasketLift: tc.lift, Complement: &Weights{W: [NumSignals]float64{SigBasket: 1}}})
		pos := ix.content.pos
		p, r := ix.beh.basketOf(pos["x"], pos["p"]), ix.beh.basketOf(pos["x"], pos["r"])
		if math.Abs(p-tc.p) > 1e-5 || math.Abs(r-tc.r) > 1e-5 {
			t.Errorf("lift exponent %v: basket(x,p)=%v basket(x,r)=%v, want %v %v", tc.lift, p, r, tc.p, tc.r)
		}
		if got := ids(ix.Complements("x", 2, nil)); len(got) == 0 || got[0] != tc.first {
			t.Errorf("lift exponent %v: complements of x = %v, want %s first", tc.lift, got, tc.first)
		}
	}
}

// BasketSupport below 0 means no support shrink, in Learn as in Build:
// Learn's defaults run again in its builds and must not turn it into 5.
func TestBasketSupportNegativeInLearn(t *testing.T) {
	items := []catalog.Item{item("x", "", "a", ""), item("p", "", "b", ""), item("r", "", "c", ""), item("f", "", "d", ""), item("g", "", "e", "")}
	var evs []events.Event
	for b := 0; b < 10; b++ {
		u := fmt.Sprintf("u%d", b)
		if b >= 6 { // baskets without x or p, so x and p meet more often than chance
			evs = append(evs, buy(u, "f", u, 0), buy(u, "g", u, 0))
			continue
		}
		evs = append(evs, buy(u, "x", u, 0), buy(u, []string{"p", "r"}[b%2], u, 0))
	}
	cfg := Config{BasketSupport: -1}
	ix, _, err := Learn(context.Background(), items, evs, nil, nil, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	// x and p share 3 baskets of x's 6 and p's 3: confidence 3/6, no shrink
	if got := ix.beh.basketOf(ix.content.pos["x"], ix.content.pos["p"]); math.Abs(got-0.5) > 1e-6 {
		t.Errorf("basket(x,p) = %v after Learn with BasketSupport -1, want 0.5 (c/(c+0) · c/b_x)", got)
	}
}

// When purchases carry order ids, the hold-out is per basket: the item
// held out is predicted from the other items of its own basket, not from
// the shopper's earlier orders.
func TestHoldOutByBasket(t *testing.T) {
	var items []catalog.Item
	for i := 0; i < 40; i++ {
		items = append(items, item(fmt.Sprintf("i%02d", i), "", "Shop/Kind", ""))
	}
	var evs []events.Event
	for u := 0; u < 50; u++ {
		user := fmt.Sprintf("u%d", u)
		for o := 0; o < 3; o++ {
			s := fmt.Sprintf("%s-o%d", user, o)
			for k := 0; k < 3; k++ {
				// basket o of user u holds 3 items of its own block
				evs = append(evs, buy(user, items[(u+o*7+k)%10+10*o].ID, s, time.Duration(o*24+k)*time.Hour))
			}
		}
	}
	skip, held := holdOut(items, newLogOf(evs, Config{}))
	if dropped := countTrue(skip); len(held) == 0 || dropped == 0 {
		t.Fatalf("held out %d anchors, dropped %d of %d events", len(held), dropped, len(evs))
	}
	for a, hs := range held {
		for _, h := range hs {
			if a/10 != h/10 {
				t.Errorf("anchor %s holds out %s from another basket", items[a].ID, items[h].ID)
			}
		}
	}
	// without order ids the same purchases are held out per shopper
	for k := range evs {
		evs[k].SessionID = ""
	}
	_, held = holdOut(items, newLogOf(evs, Config{}))
	cross := 0
	for a, hs := range held {
		for _, h := range hs {
			if a/10 != h/10 {
				cross++
			}
		}
	}
	if cross == 0 {
		t.Error("without order ids the hold-out should pair items across a shopper's orders")
	}
}

// Another model of the same maker's product line is a substitute even
// when the titles share less than SubstituteText (TI-30X, TI-34: 0.48);
// another maker's item of the same kind with that title overlap is not.
func TestSameBrandSubstitute(t *testing.T) {
	items := []catalog.Item{
		{ID: "ti30", Title: "TI-30X scientific calculator", Brand: "Texas Instruments", Categories: []string{"Office/Calculators/Scientific"}},
		{ID: "ti34", Title: "TI-34 scientific calculator", Brand: "Texas Instruments", Categories: []string{"Office/Calculators/Scientific"}},
		{ID: "aaa", Title: "AAA batteries, 4 pack", Brand: "Duracell", Categories: []string{"Office/Batteries"}},
		{ID: "pad", Title: "Graph paper pad", Brand: "Ampad", Categories: []string{"Office/Paper"}},
	}
	ix := build(t, items, nil, Config{})
	f := ix.complementFeatures(0, 1)
	if f[SigText] >= ix.cfg.SubstituteText || !ix.isSubstitute(0, 1, f) {
		t.Errorf("ti34 for ti30: text %.3f, substitute %v; want below %v and a substitute", f[SigText], ix.isSubstitute(0, 1, f), ix.cfg.SubstituteText)
	}
	items[1].Brand = "Casio"
	ix = build(t, items, nil, Config{})
	if f := ix.complementFeatures(0, 1); ix.isSubstitute(0, 1, f) {
		t.Errorf("another maker's calculator with text %.3f counts as a substitute", f[SigText])
	}
}

// In a kind the shop's baskets show bought one at a time, every other
// item of the leaf, an item of a sibling leaf with a little title in
// common, and one whose title names the same kind, is a substitute unless
// bought together; kinds bought in variety keep the title rule, and
// leaves the baskets say too little about too.
func TestOnceBoughtKind(t *testing.T) {
	items := []catalog.Item{
		item("ti30", "TI-30X scientific calculator", "Office/Calculators/Scientific", ""),   // 0
		item("casio", "Casio fx-300", "Office/Calculators/Scientific", ""),                  // 1
		item("ti84", "TI-84 graphing calculator", "Office/Calculators/Graphing", ""),        // 2
		item("gel1", "gel pen blue", "Office/Pens/Gel", ""),                                 // 3
		item("gel2", "gel pen black", "Office/Pens/Gel", ""),                                // 4
		item("batt", "AAA batteries", "Office/Batteries/AAA", ""),                           // 5
		item("rare1", "brass paperweight", "Office/Desk/Paperweights", ""),                  // 6
		item("rare2", "glass paperweight", "Office/Desk/Paperweights", ""),                  // 7
		item("lamp", "desk lamp", "Office/Lamps", ""),                                       // 8
		item("fan", "desk fan", "Office/Fans", ""),                                          // 9
		item("cover", "TI-84 slide cover", "Office/Calculators/Covers", ""),                 // 10
		item("cover2", "Casio fx-300 hard cover", "Office/Calculators/Covers", ""),          // 11
		item("el243", "Sharp EL243SB 8-Digit Twin Powered", "Office/Calculators/Basic", ""), // 12
	}
	var evs []events.Event
	for u := 0; u < 10; u++ {
		user := fmt.Sprintf("u%d", u)
		evs = append(evs,
			buy(user, "ti30", user+"a", 0), buy(user, "batt", user+"a", 0), // calculators: one at a time
			buy(user, "gel1", user+"b", time.Hour), buy(user, "gel2", user+"b", time.Hour), // gel pens: in variety
			buy(user, "lamp", user+"c", 2*time.Hour), buy(user, "batt", user+"c", 2*time.Hour))
	}
	evs = append(evs, buy("v", "rare1", "v1", 0), buy("v", "batt", "v1", 0)) // one basket says little
	ix := build(t, items, evs, Config{})
	off := build(t, items, evs, Config{VarietyRepeat: -1})
	for _, tc := range []struct {
		name     string
		ix       *Index
		a, j     int32
		text     float64
		together bool
		want     bool
	}{
		{"same leaf of a kind bought once, nothing in common", ix, 0, 1, 0, false, true},
		{"the same, bought together", ix, 0, 1, 0, true, false},
		{"sibling leaf of a kind bought once, some title in common", ix, 0, 2, 0.25, false, true},
		{"sibling leaf of a kind bought once, little in common but the title names the kind", ix, 0, 2, 0.1, false, true},
		{"sibling leaf of a kind bought once, little in common", ix, 0, 10, 0.1, false, false},
		{"sibling leaf of a kind bought once, a title naming no kind", ix, 0, 12, 0, false, true},
		{"same leaf of a kind bought in variety, some title in common", ix, 3, 4, 0.3, false, false},
		{"same leaf of a kind bought in variety, alike titles", ix, 3, 4, 0.6, false, true},
		{"a leaf one basket holds: the title rule only", ix, 6, 7, 0.3, false, false},
		{"leaves under the root alone are not one kind", ix, 8, 9, 0.3, false, false},
		{"another kind altogether", ix, 0, 5, 0.3, false, false},
		{"the rule off (VarietyRepeat < 0)", off, 0, 1, 0.3, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f features
			f[SigText] = tc.text
			if tc.together {
				f[SigBasket] = 0.5
			}
			if got := tc.ix.isSubstitute(tc.a, tc.j, f); got != tc.want {
				t.Errorf("isSubstitute(%s, %s) = %v, want %v (leaf repeat %v)", items[tc.a].ID, items[tc.j].ID, got, tc.want, tc.ix.beh.leafRep)
			}
		})
	}
}

// A shop with no behaviour gets content-led complements: what names the
// anchor in another kind (its case, its batteries) comes first, and
// another of the same kind never.
func TestContentLedComplements(t *testing.T) {
	items := []catalog.Item{
		item("ti84", "TI-84 Plus graphing calculator", "Office/Calculators/Graphing", "Texas Instruments"),
		item("case", "Hard case for TI-84 Plus", "Office/Cases/Calculator Cases", "Guerrilla"),
		item("charger", "USB charger for TI-84 Plus CE", "Office/Chargers", "Generic"),
		item("ti83", "TI-83 Plus graphing calculator", "Office/Calculators/Graphing", "Texas Instruments"),
		item("stapler", "Desktop stapler", "Office/Staplers", "Swingline"),
		item("tape", "Clear tape", "Office/Tape", "Scotch"),
	}
	ix, rep, err := Learn(context.Background(), items, nil, nil, nil, Config{}, nil)
	if err != nil || rep.Learned {
		t.Fatalf("learned %v (want the defaults: no behaviour), err %v", rep.Learned, err)
	}
	for _, tc := range []struct {
		anchor  string
		first   []string // the first answers, in any order
		mustNot string
	}{
		{"ti84", []string{"case", "charger"}, "ti83"},
		{"case", []string{"ti84"}, ""},
	} {
		got := ix.Complements(tc.anchor, 5, nil)
		if len(got) < len(tc.first) {
			t.Fatalf("complements of %s = %v", tc.anchor, got)
		}
		for _, r := range got[:len(tc.first)] {
			if !slices.Contains(tc.first, r.ID) || !strings.Contains(r.Reason, "similar text") {
				t.Errorf("complements of %s = %v: want %v first, placed by their text", tc.anchor, got, tc.first)
			}
		}
		if tc.mustNot != "" && slices.Contains(ids(got), tc.mustNot) {
			t.Errorf("complements of %s = %v hold %s, another of the same kind", tc.anchor, ids(got), tc.mustNot)
		}
	}
}

// The head noun of a title names its kind; model numbers, colours after a
// comma or a dash, the brand and what the product goes with do not.
func TestTitleHead(t *testing.T) {
	var cfg Config
	cfg.defaults()
	for _, tc := range []struct{ title, brand, want string }{
		{"Texas Instruments TI-30X IIS 2-Line Scientific Calculator, Black", "Texas Instruments", "calcul"},
		{"Texas Instruments BA II Plus Professional Financial Calculator (Color May Vary)", "Texas Instruments", "calcul"},
		{"AmazonBasics 8 Digit Dual Power Calculator -Silver", "", "calcul"},
		{"Casio Advanced Scientific Calculator with 2-Line Natural Textbook Display (FX-115ES)", "Casio", "calcul"},
		{"PM Company Perfection POS/Calculator Rolls, 2.25 Inches x 150 Feet, White", "PM Company", "roll"},
		{"Hard case for TI-84 Plus", "Guerrilla", "case"},
		{"Five Star 1-Subject Notebooks in Red, Black, and Navy, 3-Pack", "Five Star", "notebook"},
		{"Texas Instruments TI-1795 SV", "Texas Instruments", ""},
		{"", "", ""},
	} {
		if got := titleHead(cfg.Analyzer, tc.title, tc.brand); got != tc.want {
			t.Errorf("titleHead(%q) = %q, want %q", tc.title, got, tc.want)
		}
	}
}

// The demo's calculator (issue 19): a kind bought one at a time keeps
// every other one out of its complements — in its leaf, in a sibling
// leaf (by a title in common, or one naming "scientific" or "calculator"
// as its title does), and filed elsewhere but named the same kind (a
// financial calculator under "Office Electronics") — even when one
// basket or a shopper or two held both; its accessories stay. A leaf whose few
// baskets look bought once, while the kind its titles name is bought in
// variety (ink cartridges), keeps the lighter title rule.
func TestKindBoughtOnceWhateverTheShelf(t *testing.T) {
	const calcs = "Office Products/Calculators/"
	items := []catalog.Item{
		item("ti30", "Texas Instruments TI-30X IIS 2-Line Scientific Calculator, Black", calcs+"Scientific", "Texas Instruments"),
		item("casio", "Casio fx-300 Scientific Calculator", calcs+"Scientific", "Casio"),
		item("ti1795", "Texas Instruments TI-1795 SV", calcs+"Standard Function Calculator Basic", "Texas Instruments"),
		item("amzn", "AmazonBasics 8 Digit Dual Power Calculator -Silver", calcs+"Basic", ""),
		item("baii", "Texas Instruments BA II Plus Professional Financial Calculator (Color May Vary)", "Office Products/Office Electronics", "Texas Instruments"),
		item("hp35", "HP 35s Scientific Calculator", "Office Products/Office Electronics", "HP"),
		item("fx300", "Casio FX-300ES Plus Scientific", calcs+"Calculator Scientific", "Casio"),
		item("ti34", "Texas Instruments TI-34 MultiView Scientific", calcs+"Calculator Scientific", "Texas Instruments"),
		// a title naming no kind: its sibling leaf says what it is (decision 0084)
		item("sharp", "Sharp Electronics EL243SB 8-Digit Twin Powered", calcs+"Calculator Scientific", "Sharp"),
		item("usb", "Casio USB Graphing Calculator Model FX-9860GII", calcs+"Graphing", "Casio"),
		item("rolls", "PM Company Perfection POS/Calculator Rolls, 2.25 Inches x 150 Feet, White", "Office Products/Paper/Machine Rolls", "PM Company"),
		item("batt", "Duracell AAA batteries, 8 pack", "Office Products/Batteries/AAA", "Duracell"),
		item("pad", "Ampad graph paper pad", "Office Products/Paper/Pads", "Ampad"),
		item("epson", "Epson 126 High-capacity Black Ink Cartridge", "Office Products/Ink/Inkjet Ink", "Epson"),
		item("hp22", "HP 22 Tri-color Ink Cartridge", "Office Products/Ink/Inkjet Ink", "HP"),
		item("cn40", "Canon PG-40 Black Ink Cartridge", "Office Products/Ink/Canon Ink", "Canon"),
		item("cn41", "Canon CL-41 Color Ink Cartridge", "Office Products/Ink/Canon Ink", "Canon"),
		item("paper", "Copy paper, 500 sheets", "Office Products/Paper/Copy Paper", "Boise"),
	}
	var evs []events.Event
	for u := range 30 {
		user := fmt.Sprintf("u%d", u)
		partner := []string{"batt", "rolls", "pad"}[u%3]
		evs = append(evs, buy(user, "ti30", user+"a", 0), buy(user, partner, user+"a", 0))
		if u < 10 {
			// ink: a cartridge of one maker with one of another's
			ink := []string{"epson", "hp22"}[u%2]
			evs = append(evs, buy(user, ink, user+"b", time.Hour), buy(user, []string{"cn40", "cn41"}[u%2], user+"b", time.Hour),
				buy(user, "paper", user+"b", time.Hour))
		}
	}
	for u := range 6 {
		// the other calculators sell too, each on its own
		user := fmt.Sprintf("v%d", u)
		for k, it := range []string{"casio", "ti1795", "amzn", "baii", "hp35", "fx300", "ti34", "sharp", "usb"} {
			evs = append(evs, buy(user, it, fmt.Sprintf("%s%d", user, k), time.Duration(k)*48*time.Hour), buy(user, "batt", fmt.Sprintf("%s%d", user, k), time.Duration(k)*48*time.Hour))
		}
	}
	// one basket held two calculators; a shopper bought another later
	evs = append(evs, buy("w", "ti30", "w1", 0), buy("w", "ti1795", "w1", 0), buy("w", "amzn", "w1", 0),
		buy("u0", "baii", "u0z", 90*24*time.Hour), buy("u1", "hp35", "u1z", 90*24*time.Hour))
	ix, _, err := Learn(context.Background(), items, evs, nil, nil, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := ids(ix.Complements("ti30", 10, nil))
	for _, other := range []string{"casio", "ti1795", "amzn", "baii", "hp35", "fx300", "ti34", "sharp", "usb"} {
		if slices.Contains(got, other) {
			t.Errorf("complements of the TI-30X %v hold %s, another calculator", got, other)
		}
	}
	for _, want := range []string{"batt", "rolls", "pad"} {
		if !slices.Contains(got, want) {
			t.Errorf("complements of the TI-30X %v lack %s", got, want)
		}
	}
	// Substitute tells a caller ranking partners by other evidence (the
	// complete-basket row's shared baskets) the same
	for _, other := range []string{"casio", "ti1795", "amzn", "baii", "hp35", "fx300", "ti34", "sharp", "usb"} {
		if !ix.Substitute("ti30", other) {
			t.Errorf("Substitute(ti30, %s) = false", other)
		}
	}
	for _, id := range []string{"batt", "rolls", "pad", "ti30", "nope"} {
		if ix.Substitute("ti30", id) {
			t.Errorf("Substitute(ti30, %s) = true", id)
		}
	}
	// Inkjet Ink: ten baskets, never two of the leaf; but cartridges go
	// in pairs
	epson, hp22 := ix.content.pos["epson"], ix.content.pos["hp22"]
	if !ix.beh.onceBought(ix.content.leaf[epson], ix.cfg.VarietyRepeat) {
		t.Fatalf("the ink leaf does not look bought once (%v): the case proves nothing", ix.beh.leafRep)
	}
	var f features
	f[SigText] = ix.content.textCos(epson, hp22)
	if f[SigText] >= ix.cfg.SubstituteText || ix.isSubstitute(epson, hp22, f) {
		t.Errorf("an HP cartridge (text %.2f) is a substitute of an Epson one: cartridges are bought in variety (head repeat %v)",
			f[SigText], ix.beh.headRep)
	}
}

// Text that a calculator shares with a telephone ("2-Line") is chance; text
// it shares with a cover is what the cover goes with. The shop's baskets
// tell the two apart at the level of kinds (decision 0084): calculators
// are bought with covers, telephones with cords, never a calculator with a
// telephone. So the anchor's text counts in full for covers and siblings
// of its leaf and for half for telephones, although the anchor itself was
// never bought: before any learning its covers lead, not the telephones
// an ungated text signal puts first.
func TestTextGatedByKindsBoughtTogether(t *testing.T) {
	items := []catalog.Item{
		item("ti30", "TI-30X 2-Line Scientific Calculator", "Office/Calculators/Scientific", "Texas Instruments"),
		item("phone", "2-Line Corded Phone with Caller ID and Speaker", "Office/Telephones/Corded", "AT&T"),
		item("cover", "Scientific calculator slide cover", "Office/Accessories/Calculator Covers", "Generic"),
		item("casio", "Casio FX-300 Scientific Calculator", "Office/Calculators/Scientific", "Casio"),
		item("casio-cover", "Hard cover for Casio FX-300", "Office/Accessories/Calculator Covers", "Generic"),
		item("graphing", "Graphing Calculator Plus", "Office/Calculators/Graphing", "Casio"),
		item("cordless", "Panasonic Cordless Phone", "Office/Telephones/Cordless", "Panasonic"),
		item("cord", "Coiled telephone cord", "Office/Accessories/Phone Cords", "Generic"),
		item("pens", "Ballpoint pens", "Office/Writing/Pens", "Bic"),
		item("paper", "Copy paper", "Office/Paper/Copy Paper", "Hammermill"),
	}
	var evs []events.Event
	for u := range 20 {
		user := fmt.Sprintf("u%d", u)
		at := time.Duration(u) * 24 * time.Hour
		switch u % 4 {
		case 0:
			evs = append(evs, buy(user, "casio", "", at), buy(user, "casio-cover", "", at+time.Minute))
		case 1:
			evs = append(evs, buy(user, "cordless", "", at), buy(user, "cord", "", at+time.Minute))
		case 2:
			evs = append(evs, buy(user, "pens", "", at), buy(user, "paper", "", at+time.Minute))
		case 3:
			evs = append(evs, buy(user, "graphing", "", at), buy(user, "pens", "", at+time.Minute))
		}
	}
	ix := build(t, items, evs, Config{})
	pos := func(id string) int32 { return ix.content.pos[id] }
	a := pos("ti30")
	for _, tc := range []struct {
		j    string
		want float64
	}{{"cover", 1}, {"graphing", 1}, {"phone", kindTextOther}, {"cord", kindTextOther}, {"pens", kindTextOther}} {
		if got := ix.kindText(a, pos(tc.j)); got != tc.want {
			t.Errorf("text share of %s for ti30 = %v, want %v (leaf pairs that go together: %v)", tc.j, got, tc.want, ix.beh.goesWith)
		}
	}
	rank := func(ix *Index) []string { return ids(ix.Complements("ti30", 10, nil)) }
	got := rank(ix)
	ungated := *ix
	beh := *ix.beh
	beh.goesWith = nil // as restored from a snapshot that never counted kinds: the text counts in full
	ungated.beh = &beh
	before := rank(&ungated)
	at := func(v []string, id string) int {
		if k := slices.Index(v, id); k >= 0 {
			return k
		}
		return len(v)
	}
	if at(before, "phone") > at(before, "cover") {
		t.Fatalf("without the kind gate the telephone ranks below the cover (%v): the fixture does not test the gate", before)
	}
	if at(got, "cover") > at(got, "phone") || got[0] != "cover" {
		t.Errorf("bought together with ti30 = %v (ungated %v): want the cover first, above the telephone", got, before)
	}
}
