package recommend

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/aisle-dev/aisle/events"
)

// ledger keeps the counts behind popular, trending and bought-together
// lists, updated with every event.
type ledger struct {
	mu     sync.RWMutex
	evs    []ledgerEvent
	newest int64

	baskets  map[basketKey][]basketEntry
	co       map[int32]map[int32]float32 // bought-together counts, both directions
	buyCount map[int32]float32

	// uids numbers users (from 1), so that each counted event and basket
	// entry knows whose it is and a forgotten user's share can be
	// subtracted exactly (see forget.go); the field fits in padding.
	uids    map[string]uint32
	lastUID uint32
}

type ledgerEvent struct {
	item int32
	user uint32
	ts   int64
	w    float32
}

// basketEntry is one item of a basket and the user who put it there.
type basketEntry struct {
	item int32
	user uint32
}

type basketKey struct {
	session string
	user    string
	day     int64
}

// maxBasket bounds how many items one basket pairs up.
const maxBasket = 50

func newLedger() *ledger {
	return &ledger{baskets: map[basketKey][]basketEntry{}, co: map[int32]map[int32]float32{}, buyCount: map[int32]float32{}, uids: map[string]uint32{}}
}

// add records one event of weight w for item i. A weight that is not a
// finite float32 counts as 0, and a time ahead of the clock counts as now,
// so that one absurd event cannot take over popular or trending lists.
// With noCo the event is left out of the bought-together counts (a user
// who withheld consent to personalisation).
func (l *ledger) add(e events.Event, item int32, w float64, noCo bool) {
	ts := min(e.Timestamp.Unix(), time.Now().Unix())
	if !(math.Abs(w) <= math.MaxFloat32) {
		w = 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	uid := l.uid(e.UserID)
	if w > 0 {
		l.evs = append(l.evs, ledgerEvent{item: item, user: uid, ts: ts, w: float32(w)})
		l.newest = max(l.newest, ts)
	}
	if noCo || (e.Type != events.Purchase && e.Type != events.AddToCart) {
		return
	}
	key := basketKey{session: e.SessionID}
	if key.session == "" {
		key = basketKey{user: e.UserID, day: ts / 86400}
	}
	b := l.baskets[key]
	if len(b) >= maxBasket || slices.ContainsFunc(b, func(be basketEntry) bool { return be.item == item }) {
		return
	}
	l.buyCount[item]++
	for _, other := range b {
		l.bump(item, other.item)
		l.bump(other.item, item)
	}
	l.baskets[key] = append(b, basketEntry{item: item, user: uid})
}

func (l *ledger) bump(a, b int32) {
	m := l.co[a]
	if m == nil {
		m = map[int32]float32{}
		l.co[a] = m
	}
	m[b]++
}

// count is the number of weighted item events recorded.
func (l *ledger) count() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.evs)
}

// popular sums event weights per item over the window back from the newest
// event (window 0 = all time) into scores (len = number of items).
func (l *ledger) popular(window time.Duration, scores []float32) {
	l.mu.RLock()
	from := int64(math.MinInt64)
	if window > 0 {
		from = l.newest - int64(window/time.Second)
	}
	l.mu.RUnlock()
	l.popularBetween(from, math.MaxInt64, scores)
}

// popularBetween sums event weights per item over events with from <= ts <
// to (Unix seconds) into scores (len = number of items).
func (l *ledger) popularBetween(from, to int64, scores []float32) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, e := range l.evs {
		if e.ts >= from && e.ts < to && int(e.item) < len(scores) {
			scores[e.item] += e.w
		}
	}
}

// trending scores items by recent activity in excess of their long-run
// rate: decayed weight with a short half-life minus the long-half-life
// weight scaled to the same time span. Positive means growing.
func (l *ledger) trending(short, long time.Duration, scores []float32) {
	l.mu.RLock()
	defer l.mu.RUnlock()
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

// partners returns the items bought together with item, most often first.
func (l *ledger) partners(item int32) []scored {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []scored
	for j, c := range l.co[item] {
		// Co-count, with a small preference for partners that are not
		// simply bought with everything.
		out = append(out, scored{item: j, score: c + c/(1+l.buyCount[j])})
	}
	slices.SortFunc(out, func(a, b scored) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(a.item, b.item)
	})
	return out
}

// scored is one candidate item with its score.
type scored struct {
	item  int32
	score float32
}
