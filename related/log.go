package related

import (
	"cmp"
	"slices"
	"sync"

	"github.com/aisle-dev/aisle/events"
)

// Log is the event log reduced to what the relations are built from: one
// 24-byte record per event that counts as behaviour (interned user, item
// and session numbers, the time in seconds, whether it is a purchase or a
// cart), plus the few log-wide facts Learn reads (does the shop record
// browsing, do its purchases carry session ids). A caller streams the
// store into it with Add, so a rebuild never holds the events themselves
// (about 175–345 bytes each and 110–220 MiB at 800k events, issue 12);
// the hold-out of Learn is a mask over the records, not a second copy.
//
// The Weight of the Config given to NewLog decides which events count;
// BuildLog and LearnLog use the log's choice. A Log is filled by one
// goroutine; once given to BuildLog or LearnLog it must not be added to
// and may then be shared by several builds.
type Log struct {
	weight func(t events.Type, value *float64) float64

	items    intern // item ids; an item not in a catalogue is skipped at build time
	users    intern
	sessions intern // number 0 is the empty session
	recs     []rec

	added            int  // events given to Add
	browsing         bool // a view or click was seen
	buys, buysWithSn int  // purchases and carts that count, and those with a session id

	sortOnce sync.Once
}

// rec is one event that counts as behaviour.
type rec struct {
	ts      int64
	user    int32
	item    int32
	session int32
	buy     bool
}

type intern struct {
	ids []string
	num map[string]int32
}

func (n *intern) of(s string) int32 {
	if k, ok := n.num[s]; ok {
		return k
	}
	if n.num == nil {
		n.num = map[string]int32{}
	}
	k := int32(len(n.ids))
	n.ids = append(n.ids, s)
	n.num[s] = k
	return k
}

// NewLog returns an empty log that keeps the events cfg.Weight counts.
func NewLog(cfg Config) *Log {
	cfg.defaultWeight()
	l := &Log{weight: cfg.Weight}
	l.sessions.of("")
	return l
}

// Grow makes room for n more events (a hint, e.g. the store's count).
func (l *Log) Grow(n int) {
	if n > 0 {
		l.recs = slices.Grow(l.recs, n)
	}
}

// Add records one event (any order). Events without an item or with a
// weight ≤ 0 are not kept, but still tell whether the shop records
// browsing and session ids.
func (l *Log) Add(e *events.Event) {
	l.added++
	if e.Type == events.View || e.Type == events.Click {
		l.browsing = true
	}
	w := l.weight(e.Type, e.Value)
	buy := e.Type == events.Purchase || e.Type == events.AddToCart
	if buy && w > 0 {
		l.buys++
		if e.SessionID != "" {
			l.buysWithSn++
		}
	}
	if w <= 0 || e.ItemID == "" {
		return
	}
	l.recs = append(l.recs, rec{ts: e.Timestamp.Unix(), user: l.users.of(e.UserID), item: l.items.of(e.ItemID),
		session: l.sessions.of(e.SessionID), buy: buy})
}

// Len is the number of events given to Add.
func (l *Log) Len() int { return l.added }

// Kept is the number of events kept as behaviour.
func (l *Log) Kept() int { return len(l.recs) }

// seal orders the records by user and then time, ties in the order added
// (as the per-shopper stable sort of the event slices did), once.
func (l *Log) seal() {
	l.sortOnce.Do(func() {
		slices.SortStableFunc(l.recs, func(x, y rec) int {
			if c := cmp.Compare(x.user, y.user); c != 0 {
				return c
			}
			return cmp.Compare(x.ts, y.ts)
		})
		l.recs = slices.Clip(l.recs)
	})
}

// eachUser calls fn with each shopper's records, in time order, and the
// index of the first of them among the log's records.
func (l *Log) eachUser(fn func(off int, rs []rec) error) error {
	for off := 0; off < len(l.recs); {
		n := off + 1
		for n < len(l.recs) && l.recs[n].user == l.recs[off].user {
			n++
		}
		if err := fn(off, l.recs[off:n]); err != nil {
			return err
		}
		off = n
	}
	return nil
}

// itemMap maps the log's item numbers to a catalogue's item indexes (-1
// for items the catalogue does not hold).
func (l *Log) itemMap(pos map[string]int32) []int32 {
	m := make([]int32, len(l.items.ids))
	for k, id := range l.items.ids {
		if i, ok := pos[id]; ok {
			m[k] = i
		} else {
			m[k] = -1
		}
	}
	return m
}

// sessionShop reports whether most purchases and carts carry a session or
// order id, so baskets are known rather than guessed from time.
func (l *Log) sessionShop() bool { return l.buys > 0 && 2*l.buysWithSn >= l.buys }

// newLogOf reads events into a Log (for Build and Learn).
func newLogOf(evs []events.Event, cfg Config) *Log {
	l := NewLog(cfg)
	l.Grow(len(evs))
	for k := range evs {
		l.Add(&evs[k])
	}
	return l
}
