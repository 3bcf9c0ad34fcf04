package related

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// genShop is a generated shop: items in a few leaf categories, and
// shoppers who browse, cart, buy and rate, with timestamps that often tie
// (the order of ties must be kept), events for items the catalogue does
// not hold, an empty user id, and session ids on some or all purchases.
func genShop(seed uint64, nEvents int, sessionShare float64) ([]catalog.Item, []events.Event) {
	r := rand.New(rand.NewPCG(seed, 7))
	items := make([]catalog.Item, 300)
	for i := range items {
		items[i] = catalog.Item{ID: fmt.Sprintf("i%d", i), Title: fmt.Sprintf("item %d kind %d", i, i%17),
			Brand: fmt.Sprintf("b%d", i%9), Categories: []string{fmt.Sprintf("Shop/C%d/L%d", i%5, i%23)}}
	}
	types := []events.Type{events.View, events.View, events.Click, events.AddToCart, events.Purchase, events.Purchase, events.Rating, events.Search}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := make([]events.Event, 0, nEvents)
	for len(evs) < nEvents {
		u := r.IntN(400)
		user := fmt.Sprintf("u%d", u)
		if u == 0 {
			user = ""
		}
		item := fmt.Sprintf("i%d", (u*13+r.IntN(40))%320) // i300..i319 are not in the catalogue
		e := events.Event{Type: types[r.IntN(len(types))], UserID: user, ItemID: item,
			Timestamp: t0.Add(time.Duration(r.IntN(2000)) * 37 * time.Minute)}
		if (e.Type == events.Purchase || e.Type == events.AddToCart) && r.Float64() < sessionShare {
			e.SessionID = fmt.Sprintf("o%d-%d", u, r.IntN(4))
		}
		if e.Type == events.Rating {
			v := float64(r.IntN(5) + 1)
			e.Value = &v
		}
		evs = append(evs, e)
	}
	return items, evs
}

// The relations built from a Log (one pass, int32 records, the hold-out
// as a mask) are those built from the whole []events.Event before it:
// the behaviour of the full build and of the hold-out's training build,
// and the held-out items, on generated shops with and without order ids
// and on the demo shop.
func TestLogBuildMatchesEventBuild(t *testing.T) {
	type shop struct {
		name  string
		items []catalog.Item
		evs   []events.Event
		cfg   Config
	}
	var shops []shop
	for _, tc := range []struct {
		name  string
		share float64
	}{{"no order ids", 0}, {"some order ids", 0.3}, {"order ids", 0.9}} {
		items, evs := genShop(uint64(len(shops)+1), 6000, tc.share)
		shops = append(shops, shop{tc.name, items, evs, Config{}})
	}
	items, evs := genShop(9, 6000, 0.9)
	shops = append(shops, shop{"ratings weigh by value, small window", items, evs, Config{BasketWindow: time.Hour,
		Weight: func(t events.Type, v *float64) float64 {
			if t == events.Rating && v != nil {
				return *v - 3
			}
			return map[events.Type]float64{events.Purchase: 1, events.AddToCart: 0.5, events.View: 0.1}[t]
		}}})
	items, evs = demoData(t)
	shops = append(shops, shop{"demo", items, evs, Config{}})
	for _, sh := range shops {
		t.Run(sh.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := sh.cfg
			cfg.defaults()
			c := buildContent(sh.items, cfg.Analyzer, nil, false)
			log := newLogOf(sh.evs, cfg)

			want, err := legacyBuildBehaviour(ctx, c, sh.evs, cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := buildBehaviour(ctx, c, log, nil, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatal("the behaviour built from the log differs from the one built from the events")
			}

			train, wantHeld := legacyHoldOut(sh.items, sh.evs, cfg)
			skip, gotHeld := holdOut(sh.items, log)
			if len(wantHeld) < MinAnchors {
				t.Fatalf("only %d held-out anchors: the fixture does not exercise learning", len(wantHeld))
			}
			for _, m := range []map[int32][]int32{wantHeld, gotHeld} {
				for _, hs := range m {
					slices.Sort(hs) // their order depends on map iteration
				}
			}
			if !reflect.DeepEqual(gotHeld, wantHeld) {
				t.Fatalf("held out %d anchors, want %d (or different items)", len(gotHeld), len(wantHeld))
			}
			want, err = legacyBuildBehaviour(ctx, c, train, cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err = buildBehaviour(ctx, c, log, skip, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("the hold-out's training behaviour differs (%d records masked, %d of %d events kept)", countTrue(skip), len(train), len(sh.evs))
			}
			if log.browsing != legacyHasBrowsing(sh.evs) {
				t.Errorf("browsing %v, want %v", log.browsing, !log.browsing)
			}
		})
	}
}

func legacyHasBrowsing(evs []events.Event) bool {
	for _, e := range evs {
		if e.Type == events.View || e.Type == events.Click {
			return true
		}
	}
	return false
}
