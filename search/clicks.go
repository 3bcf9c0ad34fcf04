package search

import (
	"slices"
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
type Clicks struct {
	// Window is how long after a search its session's actions count.
	Window time.Duration
	// Prior is the smoothing: boost = weight(q,i) / (max weight of q + Prior).
	Prior float64

	mu       sync.RWMutex
	last     map[string]lastSearch         // session → its latest search
	pairs    map[string]map[string]float64 // normalised query → item → weight
	maxPairs int
}

type lastSearch struct {
	query string
	at    time.Time
}

// NewClicks returns an empty click model (window 30 min, prior 3).
func NewClicks() *Clicks {
	return &Clicks{Window: 30 * time.Minute, Prior: 3, last: map[string]lastSearch{}, pairs: map[string]map[string]float64{}, maxPairs: 1 << 20}
}

var actionWeight = map[events.Type]float64{events.Click: 1, events.AddToCart: 2, events.Purchase: 3}

// Record takes one event (in time order per session).
func (c *Clicks) Record(e events.Event) {
	if e.SessionID == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.Type == events.Search && e.Query != "" {
		c.last[e.SessionID] = lastSearch{query: strings.TrimSpace(normQuery(e.Query)), at: e.Timestamp}
		if len(c.last) > 100_000 { // forget the oldest sessions' searches
			for k, v := range c.last {
				if e.Timestamp.Sub(v.at) > c.Window {
					delete(c.last, k)
				}
			}
		}
		return
	}
	w, ok := actionWeight[e.Type]
	if !ok || e.ItemID == "" {
		return
	}
	ls, ok := c.last[e.SessionID]
	if !ok || ls.query == "" || e.Timestamp.Before(ls.at) || e.Timestamp.Sub(ls.at) > c.Window {
		return
	}
	m := c.pairs[ls.query]
	if m == nil {
		if len(c.pairs) >= c.maxPairs {
			return
		}
		m = map[string]float64{}
		c.pairs[ls.query] = m
	}
	m[e.ItemID] += w
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
	for _, e := range evs {
		c.Record(e)
	}
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
