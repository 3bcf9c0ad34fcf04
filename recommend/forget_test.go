package recommend

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// ledgerState is what a ledger answers from, for comparison.
func ledgerState(l *ledger, nItems int) (pop []float32, co map[int32]map[int32]float32, buys map[int32]float32) {
	pop = make([]float32, nItems)
	l.popular(0, pop)
	return pop, l.co, l.buyCount
}

// Forgetting a user leaves the ledger exactly as if their events had
// never been recorded: popularity, bought-together pairs and buy counts,
// with baskets keyed by session, by user and day, and shared sessions.
func TestLedgerForgetIsExact(t *testing.T) {
	for _, tc := range []struct {
		name   string
		shared bool // some sessions hold events of two users
	}{{"own sessions", false}, {"shared sessions", true}} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			now := time.Now().UTC().Add(-time.Hour)
			var evs []events.Event
			types := []events.Type{events.View, events.AddToCart, events.Purchase}
			for k := 0; k < 3000; k++ {
				u := rng.IntN(20)
				e := events.Event{UserID: fmt.Sprintf("u%d", u), ItemID: fmt.Sprintf("i%d", rng.IntN(40)), Type: types[rng.IntN(3)],
					Timestamp: now.Add(-time.Duration(rng.IntN(72)) * time.Hour)}
				switch rng.IntN(3) {
				case 0: // basket by user and day
				case 1:
					e.SessionID = fmt.Sprintf("s%d-%d", u, rng.IntN(30))
				case 2:
					if tc.shared {
						e.SessionID = fmt.Sprintf("shared%d", rng.IntN(10))
					}
				}
				evs = append(evs, e)
			}
			item := func(e events.Event) int32 {
				var i int32
				fmt.Sscanf(e.ItemID, "i%d", &i)
				return i
			}
			all, without := newLedger(0, 0), newLedger(0, 0)
			for _, e := range evs {
				all.add(e, item(e), 1, false)
				if e.UserID != "u7" {
					without.add(e, item(e), 1, false)
				}
			}
			var removed []counted
			for _, e := range evs {
				if e.UserID == "u7" {
					removed = append(removed, counted{item: item(e), ts: e.Timestamp.Unix(), w: 1})
				}
			}
			n, _, buys := all.forget("u7", removed)
			if n == 0 || buys == 0 {
				t.Fatalf("forgot %d events, %d buys: the test proves nothing", n, buys)
			}
			p1, c1, b1 := ledgerState(all, 40)
			p2, c2, b2 := ledgerState(without, 40)
			if !reflect.DeepEqual(p1, p2) {
				t.Fatalf("popularity differs:\n%v\n%v", p1, p2)
			}
			if tc.shared {
				// with shared baskets, order and the basket bound can
				// make a pair that never formed without the user form
				// now; counts must still never be negative
				for _, m := range c1 {
					for _, c := range m {
						if c <= 0 {
							t.Fatalf("count %v left", c)
						}
					}
				}
				return
			}
			if !reflect.DeepEqual(c1, c2) || !reflect.DeepEqual(b1, b2) {
				t.Fatalf("bought-together counts differ after forgetting")
			}
		})
	}
}

func TestOptedOut(t *testing.T) {
	for _, tc := range []struct {
		attrs map[string]any
		want  bool
	}{
		{nil, false},
		{map[string]any{"personalization": false}, true},
		{map[string]any{"personalization": true}, false},
		{map[string]any{"personalization": "false"}, true},
		{map[string]any{"personalization": " No "}, true},
		{map[string]any{"personalization": "yes"}, false},
		{map[string]any{"personalization": 0.0}, true},
		{map[string]any{"personalization": 1.0}, false},
		{map[string]any{"other": false}, false},
	} {
		if got := OptedOut(catalog.User{ID: "u", Attributes: tc.attrs}); got != tc.want {
			t.Errorf("%v: opted out %v, want %v", tc.attrs, got, tc.want)
		}
	}
}

// BenchmarkLedgerForget1M measures subtracting one user from a ledger of
// one million counted events (100k users, 20% of them in baskets).
func BenchmarkLedgerForget1M(b *testing.B) {
	l := newLedger(0, 0)
	now := time.Now().UTC().Add(-time.Hour)
	removed := map[string][]counted{}
	for k := 0; k < 1_000_000; k++ {
		typ := events.View
		if k%5 == 0 {
			typ = events.Purchase
		}
		u := fmt.Sprintf("u%d", k%100_000)
		l.add(events.Event{UserID: u, ItemID: "x", Type: typ, SessionID: fmt.Sprintf("s%d", k%150_000), Timestamp: now}, int32(k%5000), 1, false)
		removed[u] = append(removed[u], counted{item: int32(k % 5000), ts: now.Unix(), w: 1})
	}
	k := 0
	for b.Loop() {
		u := fmt.Sprintf("u%d", k)
		l.forget(u, removed[u])
		k++
	}
}
