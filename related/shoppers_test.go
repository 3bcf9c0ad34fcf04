package related

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// groupShop is 60 items in 5 leaves and 400 shoppers, each buying six
// items of one of three hidden groups (i%3) on six different days: the
// same shopper's items are related, no basket holds two of them.
func groupShop() ([]catalog.Item, []events.Event) {
	var items []catalog.Item
	for i := 0; i < 60; i++ {
		items = append(items, item(fmt.Sprintf("i%02d", i), fmt.Sprintf("widget model %d", i), fmt.Sprintf("Shop/Kind%d", i%5), ""))
	}
	var evs []events.Event
	rng := rand.New(rand.NewPCG(3, 4))
	for u := 0; u < 400; u++ {
		g := u % 3
		for k := 0; k < 6; k++ {
			evs = append(evs, buy(fmt.Sprintf("u%d", u), items[g+3*rng.IntN(20)].ID, "", time.Duration(u+k*48)*time.Hour))
		}
	}
	return items, evs
}

// The folds set aside whole shoppers: each shopper's every record in
// exactly one fold, and the held-out shoppers' bought items as they are.
func TestShopperHoldOutFolds(t *testing.T) {
	items, evs := groupShop()
	log := newLogOf(evs, Config{})
	times := make([]int, len(log.users.ids))
	held := 0
	for fold := range uint32(heldShopperShare) {
		skip, shoppers := shopperHoldOut(items, log, fold, 0)
		held += len(shoppers)
		inFold := map[int32]bool{}
		for q, r := range log.recs {
			if skip[q] {
				inFold[r.user] = true
			}
		}
		for q, r := range log.recs {
			if inFold[r.user] != skip[q] {
				t.Fatalf("fold %d: shopper %s only partly held out", fold, log.users.ids[r.user])
			}
		}
		for u := range inFold {
			times[u]++
		}
		for _, its := range shoppers {
			for _, i := range its[1:] {
				if i%3 != its[0]%3 {
					t.Fatalf("fold %d: a held-out shopper's items %v mix groups", fold, its)
				}
			}
		}
	}
	for u, n := range times {
		if n != 1 {
			t.Errorf("shopper %s is held out in %d folds, want 1", log.users.ids[u], n)
		}
	}
	if held < 350 {
		t.Errorf("%d of 400 shoppers held out with two items or more", held)
	}
	// in baskets of a day: every purchase is two days from the next
	if _, bs := shopperHoldOut(items, log, 0, 24*3600); len(bs) != 0 {
		t.Errorf("one-day baskets: %d held-out groups, want none", len(bs))
	}
	if _, bs := shopperHoldOut(items, log, 0, 4*24*3600); len(bs) < 80 {
		t.Errorf("four-day baskets: %d held-out groups, want one or more per held-out shopper", len(bs))
	}
}

// The hold-out rewards a blend that ranks what the anchor's buyers also
// bought above one that does not, and a blend that ranks them perfectly
// scores 1.
func TestShopperSetScoresBlends(t *testing.T) {
	items, evs := groupShop()
	ss, err := shopperFolds(context.Background(), items, newLogOf(evs, Config{}), nil, nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ss.cands) < 50 {
		t.Fatalf("%d anchors, want about 60", len(ss.cands))
	}
	var shoppers, content Weights
	shoppers.W[SigBehaviour] = 1
	content.W[SigLeaf] = 1
	content.W[SigPopular] = 0.1
	if s, c := ss.ndcg(shoppers), ss.ndcg(content); s <= 2*c {
		t.Errorf("hold-out NDCG@10: shoppers in common %.4f, same leaf and popularity %.4f; want the first far ahead", s, c)
	}

	// one anchor, one buyer of two more items, one candidate ranked first
	one := &shopperSet{cands: [][]features{{{1}, {0.5}, {0.2}}},
		buyers: [][]buyer{{{pos: []int32{0, 2}, gain: []float64{1, 1}, idcg: 1 + 1/math.Log2(3)}}}}
	want := (1 + 1/math.Log2(4)) / (1 + 1/math.Log2(3))
	if got := one.ndcg(shoppers); math.Abs(got-want) > 1e-12 {
		t.Errorf("NDCG@10 %v, want %v", got, want)
	}
}

// A held-out shopper's second calculator is no complement the surface
// could answer: it neither counts as relevant nor is a candidate.
func TestShopperSetSkipsSubstitutes(t *testing.T) {
	items := []catalog.Item{
		item("ti30", "TI-30X scientific calculator", "Office/Calculators", "Texas Instruments"),
		item("ti34", "TI-34 scientific calculator", "Office/Calculators", "Texas Instruments"),
		item("aaa", "AAA batteries, 4 pack", "Office/Batteries", "Duracell"),
	}
	ix := build(t, items, nil, Config{})
	ss := ix.shopperSet([][]int32{{0, 1, 2}}, 10, 0)
	for k, bs := range ss.buyers {
		for _, b := range bs {
			if k == 0 && b.idcg != 1 {
				t.Errorf("ti30's buyer: ideal DCG %v, want 1 (the batteries only)", b.idcg)
			}
		}
	}
	if len(ss.cands) == 0 {
		t.Fatal("no anchors")
	}
	for _, f := range ss.cands[0] {
		if f[SigText] >= 0.4 && f[SigLeaf] == 1 {
			t.Errorf("ti30's candidates hold a substitute: %v", f)
		}
	}
}

// Learn fits the complement blend on whole shoppers when asked, and
// reports the hold-out it used.
func TestLearnOnShoppers(t *testing.T) {
	items, evs := groupShop()
	_, rep, err := Learn(context.Background(), items, evs, nil, nil, Config{ComplementHoldOut: HoldOutShoppers}, nil)
	if err != nil || !rep.Learned {
		t.Fatalf("learned=%v err %v", rep.Learned, err)
	}
	if rep.ComplementAfter < rep.ComplementBefore || rep.ComplementBefore <= 0 {
		t.Errorf("hold-out NDCG@10 %v → %v", rep.ComplementBefore, rep.ComplementAfter)
	}
	if rep.Complement.W[SigBehaviour] <= DefaultComplement().W[SigBehaviour] {
		t.Errorf("complement blend %s: want shoppers in common trusted more than by default", rep.Complement)
	}
}

func TestParseHoldOut(t *testing.T) {
	for in, want := range map[string]HoldOut{"": HoldOutNext, "next": HoldOutNext, " Shoppers ": HoldOutShoppers} {
		if got, err := ParseHoldOut(in); got != want || err != nil {
			t.Errorf("ParseHoldOut(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseHoldOut("baskets"); err == nil {
		t.Error("ParseHoldOut(baskets): want an error")
	}
	if s := HoldOut(7).String(); s != "HoldOut(7)" {
		t.Errorf("HoldOut(7) is %q", s)
	}
}

// ParseHoldOut reads a flag: any input gives a known hold-out or an
// error, and a hold-out it reads reads back from its name.
func FuzzParseHoldOut(f *testing.F) {
	for _, s := range []string{"", "next", "SHOPPERS", " x "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHoldOut(s)
		if err != nil {
			if h != HoldOutNext {
				t.Fatalf("%q: error %v with hold-out %v", s, err, h)
			}
			return
		}
		if back, err := ParseHoldOut(h.String()); err != nil || back != h {
			t.Fatalf("%q → %v does not read back: %v, %v", s, h, back, err)
		}
	})
}
