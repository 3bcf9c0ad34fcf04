package recommend

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
)

// legacyLedger is the popularity part of the ledger before decision 0040:
// one 24-byte record per weighted event, kept as the reference that the
// bucketed ledger's answers are compared with.
type legacyLedger struct {
	evs    []legacyEvent
	newest int64
}

type legacyEvent struct {
	item int32
	user string
	ts   int64
	w    float32
}

func (l *legacyLedger) add(e events.Event, item int32, w float64) {
	ts := min(e.Timestamp.Unix(), time.Now().Unix())
	if !(math.Abs(w) <= math.MaxFloat32) {
		w = 0
	}
	if w > 0 {
		l.evs = append(l.evs, legacyEvent{item: item, user: e.UserID, ts: ts, w: float32(w)})
		l.newest = max(l.newest, ts)
	}
}

func (l *legacyLedger) forget(user string) {
	out := l.evs[:0]
	for _, e := range l.evs {
		if e.user != user {
			out = append(out, e)
		}
	}
	l.evs = out
}

func (l *legacyLedger) popularFrom(from int64, scores []float32) {
	for _, e := range l.evs {
		if e.ts >= from && int(e.item) < len(scores) {
			scores[e.item] += e.w
		}
	}
}

func (l *legacyLedger) trending(short, long time.Duration, scores []float32) {
	hs, hl := short.Seconds(), long.Seconds()
	longS := make([]float64, len(scores))
	shortS := make([]float64, len(scores))
	for _, e := range l.evs {
		if int(e.item) >= len(scores) {
			continue
		}
		age := float64(l.newest - e.ts)
		shortS[e.item] += float64(e.w) * math.Exp2(-age/hs)
		longS[e.item] += float64(e.w) * math.Exp2(-age/hl)
	}
	for i := range scores {
		scores[i] = float32(shortS[i] - longS[i]*hs/hl)
	}
}

// genLedgerEvents makes n events of users over items spread over span
// back from now, with weights like the defaults' (views 1, carts 3,
// purchases 5, ratings fractional), some out of time order.
func genLedgerEvents(rng *rand.Rand, n, users, items int, span time.Duration) []events.Event {
	now := time.Now().UTC().Add(-time.Minute)
	start := now.Add(-span)
	evs := make([]events.Event, n)
	types := []events.Type{events.View, events.View, events.View, events.Click, events.AddToCart, events.Purchase, events.Rating}
	for k := range evs {
		at := start.Add(time.Duration(float64(span) * float64(k) / float64(n)))
		if rng.IntN(20) == 0 { // late arrivals
			at = at.Add(-time.Duration(rng.Int64N(int64(40 * 24 * time.Hour))))
		}
		u := rng.IntN(users)
		it := (u*7 + int(rng.ExpFloat64()*float64(items)/10)) % items
		e := events.Event{UserID: fmt.Sprintf("u%d", u), ItemID: fmt.Sprintf("i%d", it), Type: types[rng.IntN(len(types))], Timestamp: at}
		if e.Type == events.Rating {
			v := float64(1+rng.IntN(9)) / 2
			e.Value = &v
		}
		evs[k] = e
	}
	return evs
}

func ledgerWeight(e events.Event) float64 {
	switch e.Type {
	case events.View:
		return 1
	case events.Click:
		return 2
	case events.AddToCart:
		return 3
	case events.Purchase:
		return 5
	case events.Rating:
		return *e.Value
	}
	return 0
}

// closeScores reports whether two score lists agree to float32 rounding
// of sums taken in another order.
func closeScores(a, b []float32) (int, bool) {
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if d > 1e-5*max(1, math.Abs(float64(a[i]))) {
			return i, false
		}
	}
	return -1, true
}

// The bucketed ledger answers popular (all time and over windows that
// start on an hour, or on a day beyond 30 days) and trending as the
// per-event ledger did, before and after forgetting users, on generated
// data over a year with late arrivals (so day buckets and merges are
// exercised).
func TestBucketLedgerMatchesPerEventLedger(t *testing.T) {
	for _, tc := range []struct {
		name        string
		n, users    int
		items       int
		span        time.Duration
		short, long time.Duration
	}{
		{"year, default half-lives", 40_000, 300, 200, 365 * 24 * time.Hour, 24 * time.Hour, 14 * 24 * time.Hour},
		{"week, dense", 20_000, 50, 30, 7 * 24 * time.Hour, 6 * time.Hour, 3 * 24 * time.Hour},
		{"two months", 10_000, 1000, 500, 60 * 24 * time.Hour, 24 * time.Hour, 30 * 24 * time.Hour},
		{"three years, four-week buckets", 30_000, 200, 100, 3 * 365 * 24 * time.Hour, 24 * time.Hour, 14 * 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(tc.n)))
			evs := genLedgerEvents(rng, tc.n, tc.users, tc.items, tc.span)
			nb, old := newLedger(tc.short, tc.long), &legacyLedger{}
			item := func(e events.Event) int32 {
				var i int32
				fmt.Sscanf(e.ItemID, "i%d", &i)
				return i
			}
			for _, e := range evs {
				nb.add(e, item(e), ledgerWeight(e), false)
				old.add(e, item(e), ledgerWeight(e))
			}
			buckets := 0
			for _, bs := range nb.items {
				buckets += len(bs)
			}
			if nb.count() != len(old.evs) {
				t.Fatalf("counted %d events, the reference %d", nb.count(), len(old.evs))
			}
			compare := func(stage string) {
				t.Helper()
				all, want := make([]float32, tc.items+1), make([]float32, tc.items+1)
				nb.popular(0, all)
				old.popularFrom(math.MinInt64, want)
				if i, ok := closeScores(all, want); !ok {
					t.Fatalf("%s: all-time popularity of item %d: %v, reference %v", stage, i, all[i], want[i])
				}
				for _, w := range []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 90 * 24 * time.Hour, 400 * 24 * time.Hour, 1000 * 24 * time.Hour} {
					got := make([]float32, tc.items+1)
					nb.popular(w, got)
					// the reference window starts where the bucket holding
					// its first second starts
					from := nb.newest - int64(w/time.Second)
					ref := make([]float32, tc.items+1)
					old.popularFrom(int64(nb.hourOf(from))*3600, ref)
					if i, ok := closeScores(got, ref); !ok {
						t.Fatalf("%s: popular in %v, item %d: %v, reference %v", stage, w, i, got[i], ref[i])
					}
				}
				got, ref := make([]float32, tc.items+1), make([]float32, tc.items+1)
				nb.trending(got)
				old.trending(tc.short, tc.long, ref)
				for i := range got {
					if d := math.Abs(float64(got[i]) - float64(ref[i])); d > 1e-4*max(1, math.Abs(float64(ref[i]))) {
						t.Fatalf("%s: trending of item %d: %v, reference %v", stage, i, got[i], ref[i])
					}
				}
			}
			compare("all events")
			for _, u := range []string{"u3", "u17", "u42", "u5"} {
				var removed []counted
				for _, e := range evs {
					if e.UserID == u {
						removed = append(removed, counted{item: item(e), ts: min(e.Timestamp.Unix(), time.Now().Unix()), w: ledgerWeight(e)})
					}
				}
				n, _, _ := nb.forget(u, removed)
				old.forget(u)
				if n != len(removed) {
					t.Fatalf("forgetting %s subtracted %d of %d events", u, n, len(removed))
				}
			}
			if nb.count() != len(old.evs) {
				t.Fatalf("after forgetting: %d events, the reference %d", nb.count(), len(old.evs))
			}
			compare("after forgetting")
			t.Logf("%d events in %d buckets", tc.n, buckets)
		})
	}
}
