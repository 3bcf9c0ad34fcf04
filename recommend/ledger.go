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
// their trending weights relative to its start, so memory grows with items
// × time span, not with the log (decision 0040). Buckets are an hour wide
// for at least the 30 days before the newest event and a day wide before
// that. Forgetting a user subtracts each of their removed events from the
// bucket it fell in (forget.go), which is exact: a bucket's sums are what
// its events added, and one whose count drops to 0 is removed.
type ledger struct {
	mu sync.RWMutex

	// hs and hl are the trending half-lives in seconds.
	hs, hl float64
	// items are the buckets of each item (by item number), by start.
	items [][]bucket
	// fine is the Unix hour from which buckets are an hour wide; before
	// it they are a day wide (it is a multiple of 24 and only grows).
	fine   int32
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

// bucket is the weighted events of one item in one hour (or day).
type bucket struct {
	start int32   // Unix hour of its first second
	n     int32   // events counted
	w     float64 // their weight
	// ds and dl are Σ w·2^((ts−start)/half-life) for the short and long
	// trending half-lives, so that trending is exact whatever the width.
	ds, dl float64
}

const (
	// fineHours is how many hours before the newest event buckets stay an
	// hour wide at least; older ones are merged into days, at most once a
	// week of log time.
	fineHours  = 30 * 24
	mergeEvery = 7 * 24
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
	return &ledger{hs: short.Seconds(), hl: long.Seconds(), fine: math.MinInt32,
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

// hourOf is the start of the bucket that Unix second ts falls in.
func (l *ledger) hourOf(ts int64) int32 {
	h := floorDiv(ts, 3600)
	if h < int64(l.fine) {
		h = floorDiv(h, 24) * 24
	}
	return int32(max(min(h, math.MaxInt32), math.MinInt32))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
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
	rel := float64(ts - int64(h)*3600)
	b.n++
	b.w += w
	b.ds += w * math.Exp2(rel/l.hs)
	b.dl += w * math.Exp2(rel/l.hl)
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
		rel := float64(ts - int64(h)*3600)
		b.w = max(b.w-w, 0)
		b.ds = max(b.ds-w*math.Exp2(rel/l.hs), 0)
		b.dl = max(b.dl-w*math.Exp2(rel/l.hl), 0)
	}
	l.total--
	return true
}

// merge turns the hour buckets more than fineHours before the newest
// event into day buckets, once the newest has moved a week past the last
// merge. Caller holds mu.
func (l *ledger) merge() {
	to := floorDiv(floorDiv(l.newest, 3600)-fineHours, 24) * 24
	if to < int64(l.fine)+mergeEvery {
		return
	}
	fine := int32(max(to, math.MinInt32))
	for it, bs := range l.items {
		out := bs[:0]
		for _, b := range bs {
			if b.start >= l.fine && b.start < fine {
				day := int32(floorDiv(int64(b.start), 24) * 24)
				rel := float64(int64(b.start-day) * 3600)
				if n := len(out); n > 0 && out[n-1].start == day {
					d := &out[n-1]
					d.n += b.n
					d.w += b.w
					d.ds += b.ds * math.Exp2(rel/l.hs)
					d.dl += b.dl * math.Exp2(rel/l.hl)
					continue
				}
				b.ds *= math.Exp2(rel / l.hs)
				b.dl *= math.Exp2(rel / l.hl)
				b.start = day
			}
			out = append(out, b)
		}
		clear(bs[len(out):])
		l.items[it] = out
	}
	l.fine = fine
}

// width is how many hours the bucket starting at h spans.
func (l *ledger) width(h int32) int64 {
	if h < l.fine {
		return 24
	}
	return 1
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
// hour within 30 days of the newest event, a day before).
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
			if (int64(bs[k].start)+l.width(bs[k].start))*3600 <= from {
				break
			}
			sum += bs[k].w
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
	for it, bs := range l.items {
		if it >= len(scores) {
			break
		}
		var s, lg float64
		for _, b := range bs {
			age := float64(l.newest - int64(b.start)*3600)
			s += b.ds * math.Exp2(-age/l.hs)
			lg += b.dl * math.Exp2(-age/l.hl)
		}
		scores[it] = float32(s - lg*l.hs/l.hl)
	}
	for i := len(l.items); i < len(scores); i++ {
		scores[i] = 0
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
