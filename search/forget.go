package search

import (
	"cmp"
	"context"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/snapshot"
)

// maxVouchExtra is how many shoppers beyond Config.SuggestMinShoppers a
// suggestion remembers: while fewer are remembered, all of them are
// known, and forgetting one can tell whether enough remain.
const maxVouchExtra = 8

func shopperHash(shopper string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(shopper))
	return h.Sum64()
}

// vouchFor notes that the shopper of w searched suggestion s. Caller
// holds mu.
func (q *pastQueries) vouchFor(s string, w vouch) {
	v, ok := q.vouch[s]
	if !ok || len(v) >= q.minShoppers+maxVouchExtra || slices.Contains(v, w) {
		return
	}
	q.vouch[s] = append(v, w)
}

// ForgetSearches removes what shopper's searches (queries, one entry per
// search) added to the suggestions: their count, and their voice among
// the distinct shoppers a query needs. A suggestion left with no search,
// or with fewer known shoppers than Config.SuggestMinShoppers, stops
// being suggested (it waits among the pending queries again). It returns
// how many searches were subtracted and how many suggestions stopped.
func (ix *Index) ForgetSearches(shopper string, queries []string) (searches, removed int) {
	return ix.queries.forget(shopper, queries)
}

func (q *pastQueries) forget(shopper string, queries []string) (searches, removed int) {
	per := map[string]int{}
	for _, s := range queries {
		if len(s) > MaxQueryBytes {
			continue
		}
		if s := strings.TrimSpace(normQuery(s)); s != "" {
			per[s]++
		}
	}
	if len(per) == 0 {
		return 0, 0
	}
	hs := uint64(0)
	if shopper != "" {
		hs = shopperHash(shopper)
	}
	var lost []string
	q.mu.Lock()
	defer func() {
		cb := q.onEarned
		q.mu.Unlock()
		for _, s := range lost {
			if cb != nil {
				cb(s, false)
			}
		}
	}()
	need := q.minShoppers
	var drop []string
	for s, n := range per {
		if p := q.pending[s]; p != nil {
			searches += min(n, p.count)
			p.count -= n
			p.vouches = slices.DeleteFunc(p.vouches, func(v vouch) bool { return v.shopper == hs })
			if p.count <= 0 || (shopper != "" && len(p.vouches) == 0) {
				delete(q.pending, s)
			}
			continue
		}
		id, ok := q.ids[s]
		if !ok {
			continue
		}
		searches += min(n, q.count[id])
		q.count[id] -= n
		v, vouched := q.vouch[s]
		complete := vouched && len(v) < need+maxVouchExtra
		if vouched {
			v = slices.DeleteFunc(v, func(w vouch) bool { return w.shopper == hs })
			q.vouch[s] = v
		}
		shoppers, networks := distinct(v)
		switch {
		case q.count[id] <= 0:
			drop = append(drop, s)
		case complete && (shoppers < need || networks < need):
			drop = append(drop, s)
			// back to waiting for more shoppers, with what is left
			if len(q.pending) < q.maxQueries {
				q.pending[s] = &pendingQuery{count: q.count[id], vouches: slices.Clone(v)}
			}
		}
	}
	slices.SortFunc(drop, cmp.Compare)
	for _, s := range drop {
		q.prune(len(q.text), s)
		delete(q.vouch, s)
		if q.earned[s] {
			lost = append(lost, s)
			delete(q.earned, s) // it earns its place again, without them
		}
	}
	return searches, len(drop)
}

// UserForgotten implements engine.Forgetter: the user's searches leave
// the suggestions.
func (ix *Index) UserForgotten(id string, removed []events.Event) map[string]int {
	var qs []string
	for i := range removed {
		e := &removed[i]
		if e.Type == events.Search && e.Query != "" && (e.Value == nil || *e.Value > 0) {
			qs = append(qs, e.Query)
		}
	}
	n, dropped := ix.ForgetSearches(id, qs)
	return map[string]int{"suggestion_searches": n, "suggestions_removed": dropped}
}

// UserForgotten implements engine.Forgetter: the sessions of the user's
// events are dropped with the (query, item) weights their remembered
// actions gave. Weights of older sessions, no longer remembered, are
// removed by Rebuild, which the engine runs in the background next.
func (c *Clicks) UserForgotten(id string, removed []events.Event) map[string]int {
	sessions := map[string]bool{}
	for i := range removed {
		if removed[i].SessionID != "" {
			sessions[removed[i].SessionID] = true
		}
	}
	// the snapshot holds the user's sessions and weights: it goes now, and
	// none is written until Rebuild relearnt the older weights without them
	c.snap.keeper.Hold("a user was forgotten")
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range removed {
		c.snap.cov.Remove(removed[i].Seq)
	}
	n := 0
	for sid := range sessions {
		ss := c.sessions[sid]
		if ss == nil {
			continue
		}
		for _, a := range ss.actions {
			if a.search.query != "" {
				c.add(a.search.query, a.item, -a.w)
			}
		}
		delete(c.sessions, sid)
		n++
	}
	return map[string]int{"click_sessions": n}
}

// Rebuild relearns the click model from scan (the event log, which no
// longer holds forgotten users' events) and swaps it in. Events recorded
// while it runs with a sequence number above those scanned are replayed
// on the new model, so none is lost.
func (c *Clicks) Rebuild(ctx context.Context, scan func(ctx context.Context, after uint64, fn func(events.Event) error) error) error {
	// the snapshot holds what the log may no longer (a retention pass, a
	// forget): it goes before the rebuild reads the log
	gen := c.snap.keeper.Hold("the click model is relearnt from the log")
	fresh := NewClicks()
	fresh.Window, fresh.Prior, fresh.SkipUser, fresh.SkipEvent, fresh.PositionWeight = c.Window, c.Prior, c.SkipUser, c.SkipEvent, c.PositionWeight
	c.mu.Lock()
	fresh.maxPairs, fresh.maxSessions, fresh.pruneAt = c.maxPairs, c.maxSessions, c.pruneAt
	c.live = &[]events.Event{}
	c.mu.Unlock()
	consent := c.consent()
	var last uint64
	var cov snapshot.Coverage
	err := scan(ctx, 0, func(e events.Event) error {
		last = max(last, e.Seq)
		cov.Add(e.Seq)
		fresh.Record(e)
		return nil
	})
	c.mu.Lock()
	live := *c.live
	c.live = nil
	if err != nil {
		c.mu.Unlock()
		return err
	}
	for _, e := range live {
		if e.Seq > last || e.Seq == 0 {
			cov.Add(e.Seq)
			fresh.Record(e)
		}
	}
	c.sessions, c.pairs = fresh.sessions, fresh.pairs
	c.snap.cov, c.snap.consentAt = cov, consent
	c.mu.Unlock()
	c.snap.keeper.Release(gen) // unless a forget or consent change came meanwhile
	return nil
}
