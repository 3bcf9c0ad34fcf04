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
//
// Popularity and trending are per-item time buckets, not events: each
// bucket holds the number and weight of the events that fell in it and
// their trending weights relative to its end, so memory grows with items
// × time span (at most about 1,100 buckets per item for a year, and 13
// more a year beyond), not with the log (decision 0040). Buckets are an
// hour wide for at least the 30 days before the newest event, a day wide
// up to a year before it and four weeks wide beyond. Forgetting a user
// subtracts each of their removed events from the bucket it fell in
// (forget.go): a bucket's sums are what its events added, and one whose
// count drops to 0 is removed.
type ledger struct {
	mu sync.RWMutex

	// hs and hl are the trending half-lives in seconds.
	hs, hl float64
	// items are the buckets of each item (by item number), by start.
	items  [][]bucket
	tiers      // where buckets are an hour, a day or four weeks wide
	total  int // weighted events counted
	newest int64

	baskets  map[basketKey][]basketEntry
	co       map[int32]map[int32]float32 // bought-together counts, both directions
	buyCount map[int32]float32

	// uids numbers users (from 1), so that each basket entry knows whose
	// it is and a forgotten user's share can be subtracted exactly.
	uids    map[string]uint32
	lastUID uint32
}

// tiers are the bucket widths: an hour from Unix hour fine, four weeks
// before coarse, a day between. Both are multiples of coarseHours (so of
// 24) and only grow.
type tiers struct{ fine, coarse int32 }

// bucket is the weighted events of one item in one hour, day or four
// weeks.
type bucket struct {
	start int32   // Unix hour of its first second
	n     int32   // events counted
	w     float32 // their weight
	// ds and dl are Σ w·2^((ts−end)/half-life) for the short and long
	// trending half-lives (each factor at most 1, so no width overflows),
	// which keeps trending exact whatever the width.
	ds, dl float32
}

const (
	// fineHours is how many hours before the newest event buckets stay an
	// hour wide at least, dayHours how many they stay a day wide at most;
	// older ones are merged into buckets of coarseHours, at most once a
	// week of log time (mergeEvery).
	fineHours   = 30 * 24
	dayHours    = 365 * 24
	coarseHours = 28 * 24
	mergeEvery  = 7 * 24
)

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

// newLedger returns an empty ledger for trending half-lives short and long
// (the defaults, 1 and 14 days, when not positive).
func newLedger(short, long time.Duration) *ledger {
	if short <= 0 {
		short = 24 * time.Hour
	}
	if long <= 0 {
		long = 14 * 24 * time.Hour
	}
	low := int32(floorDiv(math.MinInt32, coarseHours)+1) * coarseHours
	return &ledger{hs: short.Seconds(), hl: long.Seconds(), tiers: tiers{fine: low, coarse: low},
		baskets: map[basketKey][]basketEntry{}, co: map[int32]map[int32]float32{}, buyCount: map[int32]float32{}, uids: map[string]uint32{}}
}

// weightOf is what add counts for weight w: 0 unless a finite float32.
func weightOf(w float64) float64 {
	if !(math.Abs(w) <= math.MaxFloat32) {
		return 0
	}
	return float64(float32(w))
}

// add records one event of weight w for item i. A weight that is not a
// finite float32 counts as 0, and a time ahead of the clock counts as now,
// so that one absurd event cannot take over popular or trending lists.
// With noCo the event is left out of the bought-together counts (a user
// who withheld consent to personalisation).
func (l *ledger) add(e events.Event, item int32, w float64, noCo bool) {
	ts := min(e.Timestamp.Unix(), time.Now().Unix())
	w = weightOf(w)
	l.mu.Lock()
	defer l.mu.Unlock()
	uid := l.uid(e.UserID)
	if w > 0 && item >= 0 {
		l.newest = max(l.newest, ts)
		l.put(item, ts, w)
		l.merge()
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

// keyOf is the start of the bucket that Unix hour h falls in.
func (l tiers) keyOf(h int64) int32 {
	switch {
	case h < int64(l.coarse):
		h = floorDiv(h, coarseHours) * coarseHours
	case h < int64(l.fine):
		h = floorDiv(h, 24) * 24
	}
	return int32(max(min(h, math.MaxInt32), math.MinInt32))
}

// hourOf is the start of the bucket that Unix second ts falls in.
func (l tiers) hourOf(ts int64) int32 { return l.keyOf(floorDiv(ts, 3600)) }

// width is how many hours the bucket starting at h spans.
func (l tiers) width(h int32) int64 {
	switch {
	case h < l.coarse:
		return coarseHours
	case h < l.fine:
		return 24
	}
	return 1
}

// end is the Unix second at which the bucket starting at h ends.
func (l tiers) end(h int32) int64 { return (int64(h) + l.width(h)) * 3600 }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// find returns item's bucket starting at h, or where to insert it.
func (l *ledger) find(item int32, h int32) (int, bool) {
	return slices.BinarySearchFunc(l.items[item], h, func(b bucket, h int32) int { return cmp.Compare(b.start, h) })
}

// put adds one event. Caller holds mu.
func (l *ledger) put(item int32, ts int64, w float64) {
	if int(item) >= len(l.items) {
		l.items = slices.Grow(l.items, int(item)+1-len(l.items))[:item+1]
	}
	h := l.hourOf(ts)
	k, ok := l.find(item, h)
	if !ok {
		l.items[item] = slices.Insert(l.items[item], k, bucket{start: h})
	}
	b := &l.items[item][k]
	rel := float64(ts - l.end(h))
	b.n++
	b.w += float32(w)
	b.ds += float32(w * math.Exp2(rel/l.hs))
	b.dl += float32(w * math.Exp2(rel/l.hl))
	l.total++
}

// take subtracts one event that put added; false when its bucket holds
// none. Caller holds mu.
func (l *ledger) take(item int32, ts int64, w float64) bool {
	if item < 0 || int(item) >= len(l.items) {
		return false
	}
	h := l.hourOf(ts)
	k, ok := l.find(item, h)
	if !ok {
		return false
	}
	b := &l.items[item][k]
	if b.n--; b.n <= 0 {
		l.items[item] = slices.Delete(l.items[item], k, k+1)
	} else {
		rel := float64(ts - l.end(h))
		b.w = max(b.w-float32(w), 0)
		b.ds = max(b.ds-float32(w*math.Exp2(rel/l.hs)), 0)
		b.dl = max(b.dl-float32(w*math.Exp2(rel/l.hl)), 0)
	}
	l.total--
	return true
}

// merge moves the boundaries of the hour and day buckets back to fineHours
// and dayHours before the newest event, once it moved a week past the last
// merge, and merges the buckets that became wider. Caller holds mu.
func (l *ledger) merge() {
	nh := floorDiv(l.newest, 3600)
	fine := floorDiv(nh-fineHours, coarseHours) * coarseHours
	if fine < int64(l.fine)+mergeEvery || fine > math.MaxInt32 {
		return
	}
	coarse := max(floorDiv(nh-dayHours, coarseHours)*coarseHours, int64(l.coarse))
	old, nl := l.tiers, tiers{fine: int32(fine), coarse: int32(coarse)}
	for it, bs := range l.items {
		out := bs[:0]
		for _, b := range bs {
			if int64(b.start) >= fine {
				out = append(out, b)
				continue
			}
			key := nl.keyOf(int64(b.start))
			fs, fl := float32(1), float32(1)
			if d := float64(old.end(b.start) - nl.end(key)); d != 0 {
				fs, fl = float32(math.Exp2(d/l.hs)), float32(math.Exp2(d/l.hl))
			}
			if n := len(out); n > 0 && out[n-1].start == key {
				o := &out[n-1]
				o.n += b.n
				o.w += b.w
				o.ds += b.ds * fs
				o.dl += b.dl * fl
				continue
			}
			out = append(out, bucket{start: key, n: b.n, w: b.w, ds: b.ds * fs, dl: b.dl * fl})
		}
		clear(bs[len(out):])
		l.items[it] = out
	}
	l.tiers = nl
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
	return l.total
}

// popular sums event weights per item over the window back from the newest
// event (window 0 = all time) into scores (len = number of items). The
// window starts at the start of the bucket its first second falls in (an
// hour within 30 days of the newest event, a day within a year, four weeks
// before).
func (l *ledger) popular(window time.Duration, scores []float32) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	from := int64(math.MinInt64)
	if window > 0 {
		from = l.newest - int64(window/time.Second)
	}
	for it, bs := range l.items {
		if it >= len(scores) {
			break
		}
		sum := 0.0
		for k := len(bs) - 1; k >= 0; k-- {
			if l.end(bs[k].start) <= from {
				break
			}
			sum += float64(bs[k].w)
		}
		scores[it] += float32(sum)
	}
}

// trending scores items by recent activity in excess of their long-run
// rate: decayed weight with the short half-life minus the long-half-life
// weight scaled to the same time span. Positive means growing.
func (l *ledger) trending(scores []float32) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	// every bucket ends on a whole hour, and the items' buckets end on
	// the same few hours: each end's two decay factors are computed once
	// an answer (two Exp2 per bucket were two thirds of trending's time)
	var memo [decayMemoSize]decayFactors
	for it, bs := range l.items {
		if it >= len(scores) {
			break
		}
		var s, lg float64
		for _, b := range bs {
			end := l.end(b.start)
			m := &memo[uint64(end/3600)%decayMemoSize]
			if !m.ok || m.end != end {
				age := float64(l.newest - end)
				*m = decayFactors{end: end, ok: true, fs: math.Exp2(-age / l.hs), fl: math.Exp2(-age / l.hl)}
			}
			s += float64(b.ds) * m.fs
			lg += float64(b.dl) * m.fl
		}
		scores[it] = float32(s - lg*l.hs/l.hl)
	}
	for i := len(l.items); i < len(scores); i++ {
		scores[i] = 0
	}
}

// decayMemoSize is how many bucket ends trending keeps the decay factors
// of (by end hour modulo the size): more than the hour-wide buckets of the
// last 30 days, so those never evict each other.
const decayMemoSize = 1024

// decayFactors are the short and long trending decays of the buckets
// ending at end (Unix seconds).
type decayFactors struct {
	end    int64
	ok     bool
	fs, fl float64
}

// partners returns the items bought in at least least baskets with item,
// most often first.
func (l *ledger) partners(item int32, least float32) []scored {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []scored
	for j, c := range l.co[item] {
		if c < least {
			continue
		}
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
