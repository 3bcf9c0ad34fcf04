package search

import (
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// Clicks learns from what shoppers do after a search: a click, add to cart
// or purchase of an item in the same session within Window after a search
// for q counts for the pair (q, item), purchases more than clicks. Boost
// turns the counts into a per-request boost in [0, 1] (see Request.Boost),
// smoothed so a single click moves little. It is an engine listener; feed
// it the event log at start so it survives restarts.
//
// Events may arrive out of order (searches are logged in batches, so a
// click can be stored before the search it followed): an action counts
// for the newest search of its session at or before its time, and a search
// heard late takes over the session's recent actions that followed it.
type Clicks struct {
	// Window is how long after a search its session's actions count.
	Window time.Duration
	// Prior is the smoothing: boost = weight(q,i) / (max weight of q + Prior).
	Prior float64
	// SkipUser, when set, leaves out the events of the users it names
	// (those who withheld consent: their clicks must not steer others'
	// searches). Set it before the first event.
	SkipUser func(userID string) bool
	// SkipEvent, when set, leaves out the events it is true for (clicks on
	// ads: organic click-through only). Asked only of events with a
	// request id.
	SkipEvent func(events.Event) bool
	// PositionWeight, when set, multiplies the weight of an action that
	// carries the position of the item in the answer it came from: the
	// inverse of how often that position is examined (see
	// impressions.Propensities), so that an item's weight measures its
	// relevance rather than where it was shown. Set it before the first
	// event.
	PositionWeight func(position int) float64
	// Consent, when set, identifies the users SkipUser leaves out (a hash
	// of the set): a snapshot learnt under another set is not loaded.
	Consent func() uint64

	mu       sync.RWMutex
	sessions map[string]*session           // session id → its recent searches and actions
	pairs    map[string]map[string]float64 // normalised query → item → weight
	maxPairs int
	// maxSessions bounds the sessions remembered; pruneAt is the count at
	// which the next new session first forgets stale ones
	maxSessions, pruneAt int
	// live, while Rebuild runs, collects the events recorded meanwhile
	live *[]events.Event
	// order is held (read) while a batch of events is recorded and
	// (write) while a snapshot reads the state, so its coverage is
	// exactly the events recorded
	order sync.RWMutex
	snap  clickSnap // (clicksnap.go)
}

// session is what Clicks remembers of one session: its searches and its
// actions of the last Window before the newest event heard of it, each
// action with the search it was counted for.
type session struct {
	searches []lastSearch // by time
	actions  []action
	newest   time.Time
}

type lastSearch struct {
	query string
	at    time.Time
}

type action struct {
	at     time.Time
	item   string
	w      float64
	search lastSearch // the search it counts for; query "" when none
}

const (
	// maxSessionActions and maxSessionSearches bound what is remembered
	// per session.
	maxSessionActions  = 64
	maxSessionSearches = 64
	// defaultMaxSessions bounds the sessions remembered; pruneFloor is the
	// count of sessions below which stale ones are not looked for.
	defaultMaxSessions = 1 << 20
	pruneFloor         = 100_000
)

// NewClicks returns an empty click model (window 30 min, prior 3).
func NewClicks() *Clicks {
	return &Clicks{Window: 30 * time.Minute, Prior: 3, sessions: map[string]*session{}, pairs: map[string]map[string]float64{}, maxPairs: 1 << 20,
		maxSessions: defaultMaxSessions, pruneAt: min(defaultMaxSessions, pruneFloor)}
}

var actionWeight = map[events.Type]float64{events.Click: 1, events.AddToCart: 2, events.Purchase: 3}

// Record takes one event. An event later than Window before the newest
// event of its session is too late to change what the session's others
// count for.
func (c *Clicks) Record(e events.Event) {
	if e.SessionID == "" || (c.SkipUser != nil && c.SkipUser(e.UserID)) || (e.RequestID != "" && c.SkipEvent != nil && c.SkipEvent(e)) {
		return
	}
	if e.Type == events.Search {
		q := strings.TrimSpace(normQuery(e.Query))
		if q == "" {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		ss := c.session(e.SessionID, e.Timestamp)
		c.recordSearch(ss, lastSearch{query: q, at: e.Timestamp})
		ss.forget(c.Window)
		return
	}
	w, ok := actionWeight[e.Type]
	if !ok || e.ItemID == "" {
		return
	}
	if c.PositionWeight != nil && e.Position > 0 {
		w *= c.PositionWeight(e.Position)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ss := c.session(e.SessionID, e.Timestamp)
	a := action{at: e.Timestamp, item: e.ItemID, w: w}
	// the newest search at or before the action
	for i := len(ss.searches) - 1; i >= 0; i-- {
		if ls := ss.searches[i]; !ls.at.After(a.at) {
			if a.at.Sub(ls.at) <= c.Window {
				a.search = ls
				c.add(ls.query, a.item, a.w)
			}
			break
		}
	}
	ss.actions = append(ss.actions, a)
	ss.forget(c.Window)
}

// recordSearch adds ls to the session's searches (once: the stored copy
// of a search heard live changes nothing) and moves to it the session's
// actions that followed it within Window but count for an older search,
// or for none.
func (c *Clicks) recordSearch(ss *session, ls lastSearch) {
	i, found := slices.BinarySearchFunc(ss.searches, ls, func(a, b lastSearch) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.query, b.query)
	})
	if found {
		return
	}
	ss.searches = slices.Insert(ss.searches, i, ls)
	for i := range ss.actions {
		a := &ss.actions[i]
		if a.at.Before(ls.at) || a.at.Sub(ls.at) > c.Window || (a.search.query != "" && !a.search.at.Before(ls.at)) {
			continue
		}
		if a.search.query != "" {
			c.add(a.search.query, a.item, -a.w)
		}
		a.search = ls
		c.add(ls.query, a.item, a.w)
	}
}

// forget notes the session's newest event and drops the searches (but the
// latest) and actions more than window before it, and the oldest beyond
// the bounds.
func (ss *session) forget(window time.Duration) {
	if n := len(ss.searches); n > 0 && ss.searches[n-1].at.After(ss.newest) {
		ss.newest = ss.searches[n-1].at
	}
	for _, a := range ss.actions {
		if a.at.After(ss.newest) {
			ss.newest = a.at
		}
	}
	from := ss.newest.Add(-window)
	// the latest search stays whatever its age: one event with a clock far
	// ahead must not leave the session's later actions without it
	if n := len(ss.searches); n > 1 {
		ss.searches = append(slices.DeleteFunc(ss.searches[:n-1], func(s lastSearch) bool { return s.at.Before(from) }), ss.searches[n-1])
	}
	if n := len(ss.searches); n > maxSessionSearches {
		ss.searches = slices.Delete(ss.searches, 0, n-maxSessionSearches)
	}
	ss.actions = slices.DeleteFunc(ss.actions, func(a action) bool { return a.at.Before(from) })
	if n := len(ss.actions); n > maxSessionActions {
		ss.actions = slices.Delete(ss.actions, 0, n-maxSessionActions)
	}
}

// session returns the state of a session, forgetting stale sessions when
// there are many, and the least recent ones beyond maxSessions.
func (c *Clicks) session(id string, now time.Time) *session {
	ss := c.sessions[id]
	if ss != nil {
		return ss
	}
	if len(c.sessions) >= c.pruneAt {
		// an event's time, not the clock, when replaying the log; but a
		// time ahead of the clock (a device set wrong) must not make every
		// session look stale
		if wall := time.Now(); now.After(wall) {
			now = wall
		}
		c.prune(now)
	}
	ss = &session{}
	c.sessions[id] = ss
	return ss
}

// prune forgets the sessions with no event in the Window before now and,
// when more than three quarters of maxSessions remain, the least recent
// of them; the next prune waits until the count has doubled (or reached
// maxSessions), so a new session costs amortised constant time even when
// every session is active.
func (c *Clicks) prune(now time.Time) {
	for k, v := range c.sessions {
		if now.Sub(v.newest) > c.Window {
			delete(c.sessions, k)
		}
	}
	if keep := c.maxSessions * 3 / 4; len(c.sessions) > keep {
		type idAt struct {
			id string
			at time.Time
		}
		all := make([]idAt, 0, len(c.sessions))
		for k, v := range c.sessions {
			all = append(all, idAt{k, v.newest})
		}
		slices.SortFunc(all, func(a, b idAt) int { return a.at.Compare(b.at) })
		for _, s := range all[:len(all)-keep] {
			delete(c.sessions, s.id)
		}
	}
	c.pruneAt = min(c.maxSessions, max(2*len(c.sessions), pruneFloor))
}

// add changes the weight of (query, item) by w, dropping pairs that fall
// to zero.
func (c *Clicks) add(query, item string, w float64) {
	m := c.pairs[query]
	if m == nil {
		if w <= 0 || len(c.pairs) >= c.maxPairs {
			return
		}
		m = map[string]float64{}
		c.pairs[query] = m
	}
	m[item] += w
	if m[item] <= 1e-9 {
		delete(m, item)
		if len(m) == 0 {
			delete(c.pairs, query)
		}
	}
}

// Boost returns the learned boost of items for query q, or nil when no
// shopper acted after searching for it.
func (c *Clicks) Boost(q string) func(itemID string) float64 {
	q = strings.TrimSpace(normQuery(q))
	c.mu.RLock()
	m := c.pairs[q]
	top := 0.0
	snapshot := make(map[string]float64, len(m))
	for id, w := range m {
		snapshot[id] = w
		top = max(top, w)
	}
	c.mu.RUnlock()
	if len(snapshot) == 0 {
		return nil
	}
	return func(itemID string) float64 { return snapshot[itemID] / (top + c.Prior) }
}

// top returns up to n items shoppers acted on most after searching for q,
// heaviest first (ties by id).
func (c *Clicks) top(q string, n int) []string {
	q = strings.TrimSpace(normQuery(q))
	c.mu.RLock()
	m := c.pairs[q]
	type iw struct {
		id string
		w  float64
	}
	all := make([]iw, 0, len(m))
	for id, w := range m {
		all = append(all, iw{id, w})
	}
	c.mu.RUnlock()
	sort.Slice(all, func(i, j int) bool { return all[i].w > all[j].w || (all[i].w == all[j].w && all[i].id < all[j].id) })
	out := make([]string, 0, min(n, len(all)))
	for _, x := range all[:min(n, len(all))] {
		out = append(out, x.id)
	}
	return out
}

// has reports whether shoppers acted after searching for q (whether
// Boost(q) is not nil) without copying its weights.
func (c *Clicks) has(q string) bool {
	q = strings.TrimSpace(normQuery(q))
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.pairs[q]) > 0
}

// ItemsUpserted does nothing (engine.Listener).
func (c *Clicks) ItemsUpserted([]catalog.Item) {}

// ItemsDeleted does nothing (engine.Listener): deleted items never show,
// whatever their boost.
func (c *Clicks) ItemsDeleted([]string) {}

// UserDeleted does nothing (engine.Listener): the counts are per query and
// item, with no user in them.
func (c *Clicks) UserDeleted(string) {}

// EventsAppended records new events (engine.Listener).
func (c *Clicks) EventsAppended(evs []events.Event) {
	c.order.RLock()
	c.mu.Lock()
	if c.live != nil {
		*c.live = append(*c.live, evs...)
	}
	for i := range evs {
		c.snap.cov.Add(evs[i].Seq)
	}
	c.mu.Unlock()
	for _, e := range evs {
		c.Record(e)
	}
	c.order.RUnlock()
	c.snap.keeper.Counted(len(evs))
}

// CombineBoosts returns a boost that is the larger of a and b (either may be nil).
func CombineBoosts(a, b func(string) float64) func(string) float64 {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return func(id string) float64 { return max(a(id), b(id)) }
}

// Judgment is what shoppers did after searching for one query: the items
// they acted on, each with its summed action weight (click 1, add to cart
// 2, purchase 3). It is a graded relevance judgment learned from behaviour.
type Judgment struct {
	Query string
	Gains map[string]float64
}

// Judgments returns every query shoppers acted on, in query order, with
// copies of the weights.
func (c *Clicks) Judgments() []Judgment {
	c.mu.RLock()
	out := make([]Judgment, 0, len(c.pairs))
	for q, m := range c.pairs {
		j := Judgment{Query: q, Gains: make(map[string]float64, len(m))}
		for id, w := range m {
			j.Gains[id] = w
		}
		out = append(out, j)
	}
	c.mu.RUnlock()
	slices.SortFunc(out, func(a, b Judgment) int { return strings.Compare(a.Query, b.Query) })
	return out
}
