package recommend

import (
	"cmp"
	"slices"
	"sync"
)

// profiles keeps every user's history in memory, one entry per item they
// touched: the summed event weight (as training sums it), the time of the
// newest event and whether an event of an excluded type (purchase,
// rating…) happened. A request reads its user's entries instead of the
// event log, so a long history costs neither a scan nor a disk read, and
// an item bought years ago is still excluded.
//
// A history holds at most max entries (Config.MaxHistory), so memory is
// bounded by users × max however long the event log grows: at the bound
// the eighth of the entries touched least recently goes, entries of an
// excluded type (a purchase) only when every other entry has gone. An
// excluded entry that goes anyway (a user with more purchases or ratings
// than the bound) leaves its item in the profile's gone list, 4 bytes,
// so what the user bought stays excluded however long ago and however
// many there are: the bound limits the history a model reads, never the
// promise not to recommend again what was bought.
type profiles struct {
	mu    sync.RWMutex
	users map[string]*profile
	seq   uint64 // events added, to order events of the same second
	max   int    // entries per user; 0 = unbounded
	// evicted counts entries dropped by the bound (for the dashboard and tests)
	evicted uint64
}

type profile struct {
	entries []profileEntry
	at      map[int32]int // item → index in entries, once entries grow
	// gone holds, sorted, the items of excluded entries the bound evicted
	gone []int32
}

type profileEntry struct {
	item     int32
	weight   float32 // summed event weight
	last     int64   // Unix seconds of the newest event
	seq      uint64  // order of the newest event, to break time ties
	excluded bool    // an event of an excluded type happened
}

// indexFrom is the history length from which a profile keeps a map.
const indexFrom = 32

func newProfiles(limit int) *profiles {
	return &profiles{users: map[string]*profile{}, max: max(limit, 0)}
}

// add records one event of user on item.
func (ps *profiles) add(user string, item int32, w float64, ts int64, excluded bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.seq++
	seq := ps.seq
	p := ps.users[user]
	if p == nil {
		p = &profile{}
		ps.users[user] = p
	}
	k := -1
	if p.at != nil {
		if i, ok := p.at[item]; ok {
			k = i
		}
	} else {
		for i := range p.entries {
			if p.entries[i].item == item {
				k = i
				break
			}
		}
	}
	if k < 0 {
		if ps.max > 0 && len(p.entries) >= ps.max {
			n := max(1, ps.max/8)
			p.evictOldest(n)
			ps.evicted += uint64(n)
		}
		k = len(p.entries)
		p.entries = append(p.entries, profileEntry{item: item, last: ts, seq: seq})
		if p.at != nil {
			p.at[item] = k
		} else if len(p.entries) > indexFrom {
			p.at = make(map[int32]int, len(p.entries)*2)
			for i, e := range p.entries {
				p.at[e.item] = i
			}
		}
	}
	e := &p.entries[k]
	if w > 0 {
		e.weight += float32(w)
	}
	if ts > e.last || (ts == e.last && seq > e.seq) {
		e.last, e.seq = ts, seq
	}
	e.excluded = e.excluded || excluded
}

// evictOldest removes the n entries touched least recently, preferring
// entries of no excluded type (so bought items stay excluded as long as
// there is anything else to drop). Dropping an eighth of the bound at a
// time keeps the cost per event constant (one sort per max/8 new items)
// for users past the bound.
func (p *profile) evictOldest(n int) {
	n = min(n, len(p.entries))
	slices.SortFunc(p.entries, func(a, b profileEntry) int {
		if a.excluded != b.excluded { // plain entries go first
			if a.excluded {
				return 1
			}
			return -1
		}
		if older(&a, &b) {
			return -1
		}
		if older(&b, &a) {
			return 1
		}
		return 0
	})
	for _, e := range p.entries[:n] {
		if e.excluded {
			p.addGone(e.item)
		}
	}
	p.entries = slices.Delete(p.entries, 0, n)
	if p.at != nil {
		clear(p.at)
		for i, e := range p.entries {
			p.at[e.item] = i
		}
	}
}

// addGone records item as excluded beyond the bound.
func (p *profile) addGone(item int32) {
	if i, ok := slices.BinarySearch(p.gone, item); !ok {
		p.gone = slices.Insert(p.gone, i, item)
	}
}

// older reports whether a was touched before b.
func older(a, b *profileEntry) bool {
	return a.last < b.last || (a.last == b.last && a.seq < b.seq)
}

// forget drops a user's profile.
func (ps *profiles) forget(user string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	delete(ps.users, user)
}

// of returns a copy of the user's entries, oldest first (by their newest
// event), and of the items excluded beyond the bound (sorted); nil for a
// user without events.
func (ps *profiles) of(user string) ([]profileEntry, []int32) {
	ps.mu.RLock()
	p := ps.users[user]
	var out []profileEntry
	var gone []int32
	if p != nil {
		out = slices.Clone(p.entries)
		gone = slices.Clone(p.gone)
	}
	ps.mu.RUnlock()
	slices.SortFunc(out, func(a, b profileEntry) int {
		if c := cmp.Compare(a.last, b.last); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	return out, gone
}
