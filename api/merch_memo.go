package api

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/rules"
)

// arrangeMemo keeps, per (surface, category page), the last arranged
// window of a recommendation answer: popular and trending answers, and a
// page's answers for one shopper, repeat their model's window until
// events or the catalogue change it, and arranging it again (reading its
// items, filtering, re-scoring, placing pins) would give the same order.
// A kept arrangement is used only when everything it depends on is the
// same: the rule set and the plan (the cached plan's own lists), the
// request's filter, the window's ids and scores, the item cache's
// generation (no item changed since it was read), whether the items were
// read, and no filter or move that depends on the time (new within
// days). Safe for concurrent use; the zero value is ready.
type arrangeMemo struct {
	mu sync.Mutex
	m  map[arrangeKey]*arrangeEntry
}

// maxArrangeMemo bounds the kept arrangements (category pages are the
// shop's): past it the memo starts afresh.
const maxArrangeMemo = 1024

// arrangeKey is the slot of a kept arrangement: a surface and category
// page; on search also the query and the sort.
type arrangeKey struct{ surface, context, query, sort string }

// arrangeEntry is one kept arrangement. Its lists are its own: filled
// under the memo's lock, and read without it by the answers that took
// the entry (readers) until they give it back (release); a put that finds
// it taken keeps a new entry instead of filling this one again.
type arrangeEntry struct {
	readers atomic.Int32
	set     *rules.Set
	applied *string // the plan's Applied list (a cached plan's: shared)
	nApply  int
	gen     uint64
	read    bool
	filter  recommend.Filter // cloned
	ids     []string
	scores  []float64
	placed  []rules.Placed
	items   []*catalog.Item // the window's items as read (when read)
}

// memoable reports whether an arrangement by plan may be kept: a plan
// made for one request (a segment rule) never repeats, and a filter or
// move of items new within days depends on the time.
func memoable(plan *rules.Plan) bool {
	if len(plan.Applied) == 0 {
		return false
	}
	for i := range plan.Filters {
		if plan.Filters[i].NewWithinDays > 0 {
			return false
		}
	}
	for i := range plan.Moves {
		if plan.Moves[i].NewWithinDays > 0 {
			return false
		}
	}
	return true
}

func memoKey(surface string, cats []string) arrangeKey {
	k := arrangeKey{surface: surface}
	switch len(cats) {
	case 0:
	case 1:
		k.context = cats[0]
	default:
		k.context = strings.Join(cats, "\x01")
	}
	return k
}

// get returns a kept arrangement that applies: the placed items and,
// when read, the window's items as read (nil, nil when none applies).
// Both are the memo's, only to be read, until sc is given back
// (putScratch releases the entry).
func (am *arrangeMemo) get(k arrangeKey, set *rules.Set, plan *rules.Plan, gen uint64, read bool, f *recommend.Filter, ids []string, scores []float64, sc *merchScratch) ([]rules.Placed, []*catalog.Item) {
	am.mu.Lock()
	defer am.mu.Unlock()
	e := am.m[k]
	if e == nil || e.set != set || e.applied != &plan.Applied[0] || e.nApply != len(plan.Applied) || e.gen != gen || e.read != read ||
		!slices.Equal(e.ids, ids) || !slices.Equal(e.scores, scores) || !sameFilter(&e.filter, f) {
		return nil, nil
	}
	e.readers.Add(1)
	sc.held = append(sc.held, e)
	if !read {
		return e.placed, nil
	}
	return e.placed, e.items
}

// release gives back entries taken by get.
func (am *arrangeMemo) release(held []*arrangeEntry) {
	for _, e := range held {
		e.readers.Add(-1)
	}
}

// put keeps an arrangement (w.Items when read).
func (am *arrangeMemo) put(k arrangeKey, set *rules.Set, plan *rules.Plan, gen uint64, read bool, f *recommend.Filter, w rules.Window, placed []rules.Placed) {
	am.mu.Lock()
	defer am.mu.Unlock()
	if am.m == nil || len(am.m) >= maxArrangeMemo {
		am.m = map[arrangeKey]*arrangeEntry{}
	}
	e := am.m[k]
	if e == nil || e.readers.Load() > 0 { // a taken entry stays as it is
		e = &arrangeEntry{}
		am.m[k] = e
	}
	e.set, e.applied, e.nApply, e.gen, e.read = set, &plan.Applied[0], len(plan.Applied), gen, read
	e.filter = recommend.Filter{Categories: slices.Clone(f.Categories), Brands: slices.Clone(f.Brands), Exclude: slices.Clone(f.Exclude), AvailableOnly: f.AvailableOnly}
	if f.MinPrice != nil {
		v := *f.MinPrice
		e.filter.MinPrice = &v
	}
	if f.MaxPrice != nil {
		v := *f.MaxPrice
		e.filter.MaxPrice = &v
	}
	e.ids = append(e.ids[:0], w.IDs...)
	e.scores = append(e.scores[:0], w.Scores...)
	e.placed = append(e.placed[:0], placed...)
	clear(e.items)
	e.items = e.items[:0]
	if read {
		e.items = append(e.items, w.Items[:len(w.IDs)]...)
	}
}

// sameFilter reports whether two recommendation filters select the same.
func sameFilter(a, b *recommend.Filter) bool {
	samePrice := func(x, y *float64) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return a.AvailableOnly == b.AvailableOnly && samePrice(a.MinPrice, b.MinPrice) && samePrice(a.MaxPrice, b.MaxPrice) &&
		slices.Equal(a.Categories, b.Categories) && slices.Equal(a.Brands, b.Brands) && slices.Equal(a.Exclude, b.Exclude)
}
