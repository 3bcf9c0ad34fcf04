package rules

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aisle-dev/aisle/catalog"
)

// Request is what a rule's condition is matched against.
type Request struct {
	Surface    string
	Query      string
	Categories []string // the category filters of the request (a category page)
	// UserAttrs returns the shopper's attributes; nil or an error-free nil
	// map for nobody. Called only when a rule has a segment condition.
	UserAttrs func() map[string]any
	Now       time.Time
}

// Set is an immutable, ordered set of rules ready to match.
type Set struct {
	rules []Rule
	// queries[i] are rule i's query and synonyms, normalised (nil: no
	// query condition)
	queries [][]string
	// The index that picks the rules a request may match, so that a
	// request is checked against those only: by surface, the rules
	// without a query condition; on search, the exact-query rules by
	// each of their normalised queries, and the "contains" rules. Values
	// are indexes into rules, ascending (priority order).
	bySurface map[string][]int
	byQuery   map[string][]int
	contains  []int
	// plans keeps the plans of recent requests (see Plan)
	plans planCache
	// segments: a rule has a segment condition (UsesSegments)
	segments bool
}

// planCache keeps the plan of a (surface, normalised query, category
// context) for as long as it cannot change: when none of the rules the
// request may match has a segment condition (which depends on the
// shopper), between the times at which one of them starts or ends. A
// set is immutable, so the plans are dropped with it.
type planCache struct {
	mu sync.Mutex
	m  map[planKey]*cachedPlan
}

type planKey struct{ surface, query, categories string }

// cachedPlan is a plan valid for requests at from <= now < until.
type cachedPlan struct {
	plan        Plan
	from, until time.Time
}

// maxCachedPlans bounds a set's cached plans (queries are the shoppers'):
// past it the cache starts afresh.
const maxCachedPlans = 10_000

// NewSet orders rules by priority (higher first), then id.
func NewSet(rs []Rule) *Set {
	s := &Set{rules: slices.Clone(rs)}
	slices.SortStableFunc(s.rules, func(a, b Rule) int {
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	s.queries = make([][]string, len(s.rules))
	s.bySurface, s.byQuery = map[string][]int{}, map[string][]int{}
	for i := range s.rules {
		r := &s.rules[i]
		s.queries[i] = ruleQueries(&r.If)
		if r.Disabled || r.Deleted {
			continue
		}
		s.segments = s.segments || len(r.If.Segment) > 0
		switch {
		case len(s.queries[i]) == 0:
			for _, sf := range Surfaces {
				if len(r.If.Surfaces) == 0 || slices.Contains(r.If.Surfaces, sf) {
					s.bySurface[sf] = append(s.bySurface[sf], i)
				}
			}
		case len(r.If.Surfaces) > 0 && !slices.Contains(r.If.Surfaces, "search"):
			// a query rule applies to searches only
		case r.If.QueryMatch == "contains":
			s.contains = append(s.contains, i)
		default:
			for _, q := range s.queries[i] {
				if l := s.byQuery[q]; len(l) == 0 || l[len(l)-1] != i {
					s.byQuery[q] = append(l, i)
				}
			}
		}
	}
	return s
}

// candidates returns the indexes (ascending) of the rules that may match
// a request on surface with the normalised query, in buf's storage.
func (s *Set) candidates(surface, query string, buf []int) []int {
	out := append(buf[:0], s.bySurface[surface]...)
	if surface == "search" && query != "" {
		n := len(out)
		out = append(out, s.byQuery[query]...)
		out = append(out, s.contains...)
		if len(out) > n {
			slices.Sort(out)
			out = slices.Compact(out)
		}
	}
	return out
}

func ruleQueries(c *Condition) []string {
	if Normalize(c.Query) == "" {
		return nil
	}
	var qs []string
	for _, q := range append([]string{c.Query}, c.Synonyms...) {
		if q = Normalize(q); q != "" {
			qs = append(qs, q)
		}
	}
	return qs
}

// Rules returns the rules of the set in order.
func (s *Set) Rules() []Rule {
	if s == nil {
		return nil
	}
	return s.rules
}

// UsesSegments reports whether a rule of the set (enabled) has a segment
// condition: without one, no plan reads Request.UserAttrs.
func (s *Set) UsesSegments() bool { return s != nil && s.segments }

// Len is the number of rules.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.rules)
}

// Plan is what the rules matching one request do to its answer.
type Plan struct {
	// Applied are the ids of the rules that matched, in priority order.
	Applied []string
	// Redirect, when set, is where the shopper should go instead.
	Redirect string
	// Query is the query to run instead of the shopper's ("" keeps it).
	Query   string
	Filters []Filter
	Hide    map[string]bool
	Pins    []Pin // ascending position, one per position and item
	Moves   []Weighted
	// hidden is HiddenIDs of a kept plan, made once (shared, not changed)
	hidden []string
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return p == nil || len(p.Applied) == 0 }

// HiddenIDs lists the hidden items, sorted. The list may be shared with
// other requests' plans: callers must not change its items.
func (p *Plan) HiddenIDs() []string {
	if len(p.hidden) > 0 && len(p.hidden) == len(p.Hide) && p.hides(p.hidden) {
		return p.hidden // the list made when the plan was kept
	}
	out := make([]string, 0, len(p.Hide))
	for id := range p.Hide {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// hides reports whether every one of ids is hidden.
func (p *Plan) hides(ids []string) bool {
	for _, id := range ids {
		if !p.Hide[id] {
			return false
		}
	}
	return true
}

// Matches reports whether rule r applies to request q.
func (r *Rule) Matches(q *Request) bool {
	return r.matches(q, Normalize(q.Query), ruleQueries(&r.If))
}

// matches is Matches with the request's query and the rule's queries
// normalised.
func (r *Rule) matches(q *Request, got string, wants []string) bool {
	if r.Disabled || r.Deleted {
		return false
	}
	if (r.Start != nil && q.Now.Before(*r.Start)) || (r.End != nil && !q.Now.Before(*r.End)) {
		return false
	}
	c := &r.If
	if (c.From != nil && q.Now.Before(*c.From)) || (c.Until != nil && !q.Now.Before(*c.Until)) {
		return false
	}
	if len(c.Surfaces) > 0 && !slices.Contains(c.Surfaces, q.Surface) {
		return false
	}
	if len(wants) > 0 {
		if got == "" || q.Surface != "search" { // a query rule is for searches only
			return false
		}
		ok := false
		for _, w := range wants {
			if c.QueryMatch == "contains" {
				ok = ok || strings.Contains(" "+got+" ", " "+w+" ")
			} else {
				ok = ok || got == w
			}
		}
		if !ok {
			return false
		}
	}
	if c.Category != "" && !slices.ContainsFunc(q.Categories, func(cat string) bool {
		cat = strings.Trim(cat, "/")
		return cat == c.Category || strings.HasPrefix(cat, c.Category+"/")
	}) {
		return false
	}
	if len(c.Segment) > 0 {
		if q.UserAttrs == nil {
			return false
		}
		attrs := q.UserAttrs()
		for k, want := range c.Segment {
			if v, ok := attrs[k]; !ok || fmt.Sprint(v) != want {
				return false
			}
		}
	}
	return true
}

// Plan matches the request against every rule of the set. User attributes
// are read at most once. The plan is the caller's to change (its fields,
// not the slices and map they hold, which may be shared with other
// requests' plans).
func (s *Set) Plan(q Request) *Plan {
	p, shared := s.SharedPlan(q)
	if shared {
		cp := *p
		return &cp
	}
	return p
}

// SharedPlan is Plan without the copy of a kept plan: shared reports
// whether the plan is the one kept for every request like q, which the
// caller must then not change at all.
func (s *Set) SharedPlan(q Request) (p *Plan, shared bool) {
	if s.Len() == 0 {
		return &Plan{}, false
	}
	if q.Now.IsZero() {
		q.Now = time.Now()
	}
	query := Normalize(q.Query)
	// a kept plan first: only plans of requests no segment rule may match
	// are kept, so one found needs no look at the candidates
	key := planKey{q.Surface, query, strings.Join(q.Categories, "\x01")}
	c := &s.plans
	c.mu.Lock()
	cp, ok := c.m[key]
	c.mu.Unlock()
	if ok && !q.Now.Before(cp.from) && q.Now.Before(cp.until) {
		return &cp.plan, true
	}
	var buf [32]int
	cands := s.candidates(q.Surface, query, buf[:])
	if len(cands) == 0 {
		return &Plan{}, false
	}
	for _, i := range cands {
		if len(s.rules[i].If.Segment) > 0 {
			return s.plan(q, query, cands), false // depends on the shopper
		}
	}
	cp = &cachedPlan{plan: *s.plan(q, query, cands)}
	// a caller's append to a plan's list must not reach the shared one
	pl := &cp.plan
	pl.Applied, pl.Filters, pl.Pins, pl.Moves = slices.Clip(pl.Applied), slices.Clip(pl.Filters), slices.Clip(pl.Pins), slices.Clip(pl.Moves)
	if len(pl.Hide) > 0 {
		pl.hidden = pl.HiddenIDs() // shared by the plans this one is copied to
	}
	cp.from, cp.until = s.validity(cands, q.Now)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedPlans {
		c.m = map[planKey]*cachedPlan{}
	}
	c.m[key] = cp
	c.mu.Unlock()
	return &cp.plan, true
}

// validity is the interval around now in which none of the rules cands
// starts or ends (their schedules and date windows): [from, until).
func (s *Set) validity(cands []int, now time.Time) (from, until time.Time) {
	from, until = time.Time{}, time.Unix(1<<62, 0)
	for _, i := range cands {
		r := &s.rules[i]
		for _, t := range []*time.Time{r.Start, r.End, r.If.From, r.If.Until} {
			switch {
			case t == nil:
			case !now.Before(*t): // the rule changed at t <= now
				if t.After(from) {
					from = *t
				}
			case t.Before(until):
				until = *t
			}
		}
	}
	return from, until
}

// plan matches the request (its query normalised) against the rules
// cands, the set's candidates for it.
func (s *Set) plan(q Request, query string, cands []int) *Plan {
	p := &Plan{}
	if f := q.UserAttrs; f != nil {
		var attrs map[string]any
		done := false
		q.UserAttrs = func() map[string]any {
			if !done {
				attrs, done = f(), true
			}
			return attrs
		}
	}
	var taken takenPins
	for _, i := range cands {
		r := &s.rules[i]
		if !r.matches(&q, query, s.queries[i]) {
			continue
		}
		p.Applied = append(p.Applied, r.ID)
		t := &r.Then
		if p.Redirect == "" {
			p.Redirect = t.Redirect
		}
		if p.Query == "" {
			p.Query = t.ReplaceQuery
		}
		if t.Filter != nil {
			p.Filters = append(p.Filters, *t.Filter)
		}
		for _, id := range t.Hide {
			if p.Hide == nil {
				p.Hide = map[string]bool{}
			}
			p.Hide[id] = true
		}
		for _, pin := range t.Pin {
			// the first rule to pin a position or an item wins it
			if taken.has(p.Pins, pin) {
				continue
			}
			p.Pins = append(p.Pins, pin)
		}
		p.Moves = append(p.Moves, t.Boost...)
		for _, b := range t.Bury {
			b.Strength = -b.Strength
			p.Moves = append(p.Moves, b)
		}
	}
	slices.SortFunc(p.Pins, func(a, b Pin) int { return cmp.Compare(a.Position, b.Position) })
	return p
}

// takenPins tells whether a pin's position or item is taken by the pins
// so far: they are scanned while a few, hashed when many.
type takenPins struct {
	pos  map[int]bool
	item map[string]bool
}

// has reports whether pin's position or item is among pins, the pins
// kept so far (has is asked of each in turn).
func (t *takenPins) has(pins []Pin, pin Pin) bool {
	const scan = 16
	if len(pins) < scan {
		return slices.ContainsFunc(pins, func(x Pin) bool { return x.Position == pin.Position || x.ItemID == pin.ItemID })
	}
	if t.pos == nil {
		t.pos, t.item = map[int]bool{}, map[string]bool{}
	}
	for _, x := range pins[len(t.pos):] { // the pins kept since the last call
		t.pos[x.Position], t.item[x.ItemID] = true, true
	}
	return t.pos[pin.Position] || t.item[pin.ItemID]
}

// Lookup returns an item of the catalogue that the request may show (it
// exists and passes the shopper's own filters); false otherwise.
type Lookup func(id string) (catalog.Item, bool)

// Placed is one item of an arranged answer.
type Placed struct {
	ID string
	// From is the item's index in the ranked list given to Arrange, -1 for
	// a pinned item that was not in it.
	From   int
	Pinned bool
}

// Arrange applies the plan to a ranked list (ids best first, scores in
// the same order; relevance false when the shopper chose another order,
// which boosts and buries then leave alone). Hidden items and items
// outside the plan's filters are dropped, boosted and buried ones are
// re-scored, and pinned items are put at their positions (moved there
// when in the list, brought in through look when not; a pin past the end
// goes last). Items the lookup does not know are dropped only when a
// filter or move needs their fields.
func (p *Plan) Arrange(ids []string, scores []float64, relevance bool, look Lookup, now time.Time) []Placed {
	return p.ArrangeWindow(nil, Window{IDs: ids, Scores: scores, Relevance: relevance}, look, now)
}

// Scratch is storage ArrangeWindow reuses from one call to the next (one
// at a time): an answer's arranging then allocates nothing once the
// storage has grown. The zero value is ready.
type Scratch struct {
	placed, merge []Placed
	keys, by      []float64
	// the plan's moves and filters compiled for this call, and the
	// trimmed brands and categories they refer to
	moves, filters []matcher
	strs           []string
}

// Reset drops what the storage refers to (it keeps its capacity).
func (sc *Scratch) Reset() {
	clear(sc.placed[:cap(sc.placed)])
	clear(sc.merge[:cap(sc.merge)])
	clear(sc.moves[:cap(sc.moves)])
	clear(sc.filters[:cap(sc.filters)])
	clear(sc.strs[:cap(sc.strs)])
}

// matcher is a Filter ready to match many items: its brands and
// categories trimmed once (Filter.Matches trims them per item), the rest
// of the filter checked only when it has more than brands and
// categories. It matches exactly the items Filter.Matches does.
type matcher struct {
	f          *Filter
	brands     []string // trimmed
	categories []string // without their outer slashes
	rest       bool     // prices, attributes, new or in stock are set
	strength   float64  // a move's
}

// compile returns m for f, its trimmed lists appended to strs.
func compileFilter(f *Filter, strs []string) (matcher, []string) {
	m := matcher{f: f, rest: f.MinPrice != nil || f.MaxPrice != nil || len(f.Attributes) > 0 || f.NewWithinDays > 0 || f.InStock}
	if len(f.Brands) > 0 {
		at := len(strs)
		for _, b := range f.Brands {
			strs = append(strs, strings.TrimSpace(b))
		}
		m.brands = strs[at:len(strs):len(strs)]
	}
	if len(f.Categories) > 0 {
		at := len(strs)
		for _, c := range f.Categories {
			strs = append(strs, strings.Trim(c, "/"))
		}
		m.categories = strs[at:len(strs):len(strs)]
	}
	return m, strs
}

func (m *matcher) matches(it *catalog.Item, now time.Time) bool {
	if m.brands != nil {
		ok := false
		for _, b := range m.brands {
			if b == it.Brand || strings.EqualFold(b, it.Brand) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if m.categories != nil {
		ok := false
		for _, c := range m.categories {
			if it.HasCategoryPrefix(c) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if !m.rest {
		return true
	}
	rest := *m.f
	rest.Brands, rest.Categories = nil, nil
	return rest.Matches(it, now)
}

// compileFilters compiles the plan's filters and, when moves, its moves
// into sc (their trimmed lists into sc.strs, grown beforehand so that
// the matchers' lists stay valid).
func (p *Plan) compileFilters(sc *Scratch, moves bool) {
	need := 0
	count := func(f *Filter) { need += len(f.Brands) + len(f.Categories) }
	for i := range p.Filters {
		count(&p.Filters[i])
	}
	if moves {
		for i := range p.Moves {
			count(&p.Moves[i].Filter)
		}
	}
	strs := slices.Grow(sc.strs[:0], need)
	fs := sc.filters[:0]
	for i := range p.Filters {
		var m matcher
		m, strs = compileFilter(&p.Filters[i], strs)
		fs = append(fs, m)
	}
	ms := sc.moves[:0]
	if moves {
		for i := range p.Moves {
			var m matcher
			m, strs = compileFilter(&p.Moves[i].Filter, strs)
			m.strength = p.Moves[i].Strength
			ms = append(ms, m)
		}
	}
	sc.strs, sc.filters, sc.moves = strs, fs, ms
}

// passesAll reports whether it passes every filter of fs.
func passesAll(fs []matcher, it *catalog.Item, now time.Time) bool {
	for k := range fs {
		if !fs[k].matches(it, now) {
			return false
		}
	}
	return true
}

// Window is a ranked list to arrange (Plan.ArrangeWindow).
type Window struct {
	IDs    []string  // best first
	Scores []float64 // in the same order
	// Items, when not nil, are the catalogue items of IDs read beforehand
	// (same order; nil for one the request may not show, where a Lookup
	// answers false): the window's items are then not looked up, only the
	// pinned ones that are not in it. The items are only read.
	Items []*catalog.Item
	// Relevance is false when the shopper chose another order than
	// relevance: boosts and buries then leave the order alone.
	Relevance bool
}

// ArrangeWindow is Arrange on a window, in the storage of sc (nil: fresh
// storage). The result lives in sc until its next use.
func (p *Plan) ArrangeWindow(sc *Scratch, w Window, look Lookup, now time.Time) []Placed {
	if sc == nil {
		sc = new(Scratch)
	}
	ids, scores := w.IDs, w.Scores
	moves := w.Relevance && len(p.Moves) > 0
	needItems := len(p.Filters) > 0 || moves
	if w.Items != nil && len(w.Items) < len(ids) {
		w.Items = nil // not parallel: look the items up
	}
	p.compileFilters(sc, moves)
	filters, ms := sc.filters, sc.moves
	// the pins that count (not hidden): a few, so scanned rather than hashed
	var pinBuf [8]Pin
	pins := pinBuf[:0]
	for _, pin := range p.Pins {
		if !p.Hide[pin.ItemID] {
			pins = append(pins, pin)
		}
	}
	// the ids a window item is dropped for (hidden, or placed by a pin):
	// compared rather than hashed when they are a few (an answer's rules
	// usually hide and pin none or a handful)
	var skipBuf [16]string
	skip := skipBuf[:0]
	hideMap := len(p.Hide)+len(pins) > len(skipBuf)
	if !hideMap {
		for id := range p.Hide {
			skip = append(skip, id)
		}
		for _, pin := range pins {
			skip = append(skip, pin.ItemID)
		}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	if moves {
		for i := range ids {
			if i < len(scores) {
				lo, hi = min(lo, scores[i]), max(hi, scores[i])
			}
		}
	}
	out := slices.Grow(sc.placed[:0], len(ids)+len(pins))
	keys := sc.keys[:0]   // the kept items' new keys (parallel to out), while moves re-score
	bys := sc.by[:0]      // what the moves added to each key (0: none)
	var read catalog.Item // the item looked up (without w.Items)
	for i, id := range ids {
		if hideMap {
			if p.Hide[id] || (len(pins) > 0 && isPinnedIn(pins, id)) {
				continue
			}
		} else if len(skip) > 0 && slices.Contains(skip, id) {
			continue
		}
		var it *catalog.Item
		if needItems {
			if w.Items != nil {
				it = w.Items[i]
			} else if x, ok := look(id); ok {
				read = x
				it = &read
			}
			if it == nil || (len(filters) > 0 && !passesAll(filters, it, now)) {
				continue
			}
		}
		out = append(out, Placed{ID: id, From: i})
		if moves {
			// position-based relevance when scores are flat or missing
			base := 1 - float64(i)/float64(max(1, len(ids)))
			if i < len(scores) && hi > lo {
				base = (scores[i] - lo) / (hi - lo)
			}
			by := 0.0
			for k := range ms {
				if ms[k].matches(it, now) {
					by += ms[k].strength
				}
			}
			keys = append(keys, base*(1-1e-9)+by) // base < 1: a full-strength move passes all
			bys = append(bys, by)
		}
	}
	if moves {
		sc.merge = orderByKey(out, keys, bys, sc.merge)
		sc.keys, sc.by = keys[:0], bys[:0]
	}
	for _, pin := range pins {
		from := slices.Index(ids, pin.ItemID)
		var it *catalog.Item
		if from >= 0 && w.Items != nil {
			it = w.Items[from]
		} else if x, ok := look(pin.ItemID); ok {
			read = x
			it = &read
		}
		if it == nil || !passesAll(filters, it, now) {
			continue
		}
		pl := Placed{ID: pin.ItemID, From: from, Pinned: true}
		at := min(pin.Position-1, len(out))
		out = slices.Insert(out, at, pl)
	}
	sc.placed = out[:0]
	return out
}

func isPinnedIn(pins []Pin, id string) bool {
	for k := range pins {
		if pins[k].ItemID == id {
			return true
		}
	}
	return false
}

// maxRuns is how many different move sums orderByKey merges; past it
// the items are sorted.
const maxRuns = 8

// orderByKey orders items by key, highest first, keeping the given order
// among equal keys: a stable sort, but linear when it can be. by[k] is
// what the moves added to item k's key (0: none). The keys are often
// already in order (nothing moved far enough to pass another item);
// otherwise the items of one move sum are usually still in order among
// themselves (the model's scores are non-increasing, and one sum is added
// to them all), and those runs — the items no move touched, the boosted,
// the buried, the boosted and buried — are merged in one pass, the best
// head first. Only when a run is out of order, or there are more than
// maxRuns sums, are they sorted. items are ordered in place; buf is
// storage for the merge (grown when short, and returned for reuse).
func orderByKey(items []Placed, keys, by []float64, buf []Placed) []Placed {
	var sums [maxRuns]float64 // the runs' move sums
	var last [maxRuns]int     // each run's last item so far
	var run [maxRuns]int      // the run items are merged from next, per run: its next item
	nRuns := 0
	sorted, runs := true, true // all keys non-increasing; each run non-increasing
	for k := range keys {
		if k > 0 && keys[k] > keys[k-1] {
			sorted = false
		}
		if !runs {
			continue
		}
		r := 0
		for r < nRuns && sums[r] != by[k] {
			r++
		}
		if r == nRuns {
			if nRuns == maxRuns {
				runs = false
				continue
			}
			sums[r], last[r], run[r] = by[k], k, k
			nRuns++
			continue
		}
		if keys[k] > keys[last[r]] {
			runs = false
		}
		last[r] = k
	}
	if sorted {
		return buf
	}
	out := slices.Grow(buf[:0], len(items))
	if !runs {
		order := make([]int, len(items))
		for k := range order {
			order[k] = k
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(keys[b], keys[a]) })
		for _, o := range order {
			out = append(out, items[o])
		}
		copy(items, out)
		return out
	}
	// merge the runs: the highest head first, the earlier item on a tie
	// (run[r] starts at each run's first item)
	for len(out) < len(items) {
		best := -1
		for r := range nRuns {
			k := run[r]
			if k < len(items) && (best < 0 || keys[k] > keys[run[best]] || (keys[k] == keys[run[best]] && k < run[best])) {
				best = r
			}
		}
		k := run[best]
		out = append(out, items[k])
		for k++; k < len(items) && by[k] != sums[best]; k++ {
		}
		run[best] = k
	}
	copy(items, out)
	return out
}

// Keeps reports whether an item may stay in an answer under the plan: not
// hidden, and within its filters.
func (p *Plan) Keeps(it *catalog.Item, now time.Time) bool {
	return p.Empty() || (!p.Hide[it.ID] && p.passes(it, now))
}

func (p *Plan) passes(it *catalog.Item, now time.Time) bool {
	for i := range p.Filters {
		if !p.Filters[i].Matches(it, now) {
			return false
		}
	}
	return true
}
