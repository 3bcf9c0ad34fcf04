package ads

import (
	"context"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/rules"
	"github.com/aisle-dev/aisle/store"
)

// Request is an answer that may carry ads.
type Request struct {
	RequestID string
	Surface   string
	Query     string   // search only
	User      string   // "" for nobody known ("anon-<session>" for a session)
	Context   []string // category filters of the answer (a category page)
	// Organic are the organic items of the page, in order: ads never
	// repeat them (the caller drops the organic copy of an ad item) and,
	// off search, their categories say what the answer is about.
	Organic []string
	// OrganicItems, when set, are the catalogue items of Organic (same
	// order, nil for one not read) as the caller already read them: the
	// ads then do not read those again. Only read, and never changed
	// afterwards: a later answer carrying the same pointers is taken to
	// show the same items (their categories are tallied once).
	OrganicItems []*catalog.Item
	// Affinity, when set, is the shopper's affinity to an item (0..1).
	Affinity func(item string) float64
	// MaxSlots, when > 0, uses only the first MaxSlots slots.
	MaxSlots int
	// Now, when set, is the answer's time as the caller read the wall
	// clock: used instead of reading it again when Options.Now is the
	// wall clock (otherwise Options.Now is the time).
	Now time.Time
}

// Placement is an ad to show: item at position (1-based in the page).
type Placement struct {
	Position int
	Item     string
	Campaign string
	Price    Micros
}

// Fill runs the auction for the slots of an answer and logs the
// impressions it places. It returns nothing for a surface without slots,
// without campaigns, or when no ad is relevant enough.
func (s *Service) Fill(ctx context.Context, r Request) []Placement {
	return s.AppendFill(ctx, nil, r)
}

// AppendFill is Fill appending the placements to dst (storage the caller
// keeps across answers).
func (s *Service) AppendFill(ctx context.Context, dst []Placement, r Request) []Placement {
	slots := s.o.Config.Slots[r.Surface]
	if r.MaxSlots > 0 && len(slots) > r.MaxSlots {
		slots = slots[:r.MaxSlots]
	}
	cs := s.camps.Load()
	if len(slots) == 0 || r.RequestID == "" {
		return dst
	}
	if len(cs.list) == 0 {
		return dst
	}
	now := r.Now
	if !s.wallClock || now.IsZero() {
		now = s.o.Now()
	}
	today := s.dayOf(now)
	m := s.model.Load()
	floor := s.o.Config.RelevanceFloor
	if f, ok := s.o.Config.SurfaceFloors[r.Surface]; ok {
		floor = f
	}
	elig, key := s.eligible(ctx, cs, &r, now)
	if len(elig) == 0 {
		s.mu.Lock()
		s.answers[r.Surface]++ // the slots' revenue per thousand answers (with campaigns)
		s.mu.Unlock()
		return dst
	}
	var shown map[string]int // the shopper's impressions today, read once when a campaign is capped
	shownRead := false
	underCap := func(c *Campaign) bool {
		if c.FrequencyCap == 0 || r.User == "" {
			return true
		}
		if !shownRead {
			shown, shownRead = s.shown(ctx, r.User, now), true
		}
		n, ok := shown[c.ID]
		return shown != nil && (!ok || n < c.FrequencyCap)
	}
	// The campaigns' own conditions, once each (the items of a campaign
	// are together in elig), and the items' ad histories: what needs no
	// lock first, then spend and histories read under one lock (the
	// spend of a campaign not known for today is read from the store
	// afterwards).
	sc, _ := s.scratch.Get().(*fillScratch)
	if sc == nil {
		sc = &fillScratch{}
	}
	defer s.putScratch(sc)
	camps, hist := sc.camps[:0], sc.hist[:0]
	last := -1
	for k := range elig {
		if e := &elig[k]; e.camp != last {
			last = e.camp
			c := &cs.list[e.camp]
			camps = append(camps, campTakes{camp: e.camp, takes: c.Active(now) && underCap(c)})
		}
	}
	s.mu.Lock()
	s.answers[r.Surface]++ // the slots' revenue per thousand answers (with campaigns)
	for k := range camps {
		ct := &camps[k]
		if !ct.takes {
			continue
		}
		c := &cs.list[ct.camp]
		if st, ok := s.spend[c.ID]; ok && st.day == today {
			ct.takes, ct.known = s.affordableAt(c, now, st.daySpent, st.totalSpent), true
		}
	}
	for k := range elig {
		hist = append(hist, histOf(elig[k].hist))
	}
	s.mu.Unlock()
	sc.camps, sc.hist = camps, hist
	for k := range camps {
		if ct := &camps[k]; ct.takes && !ct.known {
			ct.takes = s.affordable(ctx, &cs.list[ct.camp], now, today)
		}
	}
	var org catTally // the organic items per top-level category, read once when an ad needs them
	orgRead := false
	// the bidders, their features and eligible items (parallel)
	bidders, feats, from := sc.bidders[:0], sc.feats[:0], sc.from[:0]
	pctr := sc.pctrs.of(elig)
	defer func() { sc.bidders, sc.feats, sc.from = bidders, feats, from }()
	ci := -1
	for k := range elig {
		e := &elig[k]
		if ci < 0 || camps[ci].camp != e.camp {
			ci++
		}
		if !camps[ci].takes {
			continue
		}
		rel := e.rel
		if e.perAnswer {
			if !orgRead {
				orgRead = true
				org = s.organicTallyOf(ctx, cs, &r, key)
			}
			rel = org.share(e.top)
		}
		if rel < floor || rel <= 0 {
			continue
		}
		f := Features{Position: 1, TextMatch: rel, History: hist[k]}
		if s.o.Popularity != nil {
			f.Popularity = s.o.Popularity(e.item)
		}
		if r.Affinity != nil {
			f.Affinity = r.Affinity(e.item)
		}
		feats = append(feats, f)
		from = append(from, k)
		bidders = append(bidders, Bidder{Campaign: cs.list[e.camp].ID, Item: e.item, Bid: e.bid, Relevance: rel, PCTR: pctr.predict(m, k, &f)})
	}
	if len(bidders) == 0 {
		return dst
	}
	wins := auction(sc.wins[:0], bidders, len(slots), s.o.Config.Reserve)
	sc.wins = wins
	if len(wins) == 0 {
		return dst
	}
	imps, hists := sc.imps[:0], sc.hists[:0]
	for _, w := range wins {
		pos := slots[w.Slot]
		var f Features
		var h *[2]int
		for k := range bidders {
			if bidders[k].Campaign == w.Campaign && bidders[k].Item == w.Item {
				f, h = feats[k], elig[from[k]].hist
				break
			}
		}
		f.Position = pos
		dst = append(dst, Placement{Position: pos, Item: w.Item, Campaign: w.Campaign, Price: w.Price})
		imps = append(imps, Impression{RequestID: r.RequestID, Item: w.Item, Campaign: w.Campaign, User: r.User,
			Surface: r.Surface, Position: pos, Price: w.Price, At: now.UTC(), F: f})
		hists = append(hists, h)
	}
	sc.imps, sc.hists = imps, hists
	s.logImpressions(imps, hists, today)
	return dst
}

// fillScratch is the storage of one auction, reused across answers
// (Service.scratch).
type fillScratch struct {
	camps   []campTakes
	hist    []float64
	bidders []Bidder
	feats   []Features
	from    []int // the eligible item of each bidder
	wins    []Win
	imps    []Impression
	hists   []*[2]int
	pctrs   pctrMemo
}

// pctrMemo keeps, per item of one eligible list, the last logit an
// auction computed and its click probability. Answers of one key in a
// row (popular, a category page, a repeated query) bid with the same
// features for most items (an item's history moves when it is shown;
// relevance, popularity and affinity seldom between two answers), and
// sigmoid(z) for an equal z is the same number: the exponential is
// computed again only for a logit that changed. It lives in an auction's
// pooled storage, so no answer writes memory another reads.
type pctrMemo struct {
	list *eligibleItem // the first item of the list memoised (kept alive by this pointer, so never another list's)
	z, p []float64     // per item of the list: the logit (NaN: none yet) and sigmoid(z)
}

// of returns the memo for elig, starting afresh for another list.
func (pm *pctrMemo) of(elig []eligibleItem) *pctrMemo {
	if len(elig) == 0 || (pm.list == &elig[0] && len(pm.z) == len(elig)) {
		return pm
	}
	pm.list = &elig[0]
	pm.z = slices.Grow(pm.z[:0], len(elig))[:len(elig)]
	pm.p = slices.Grow(pm.p[:0], len(elig))[:len(elig)]
	for i := range pm.z {
		pm.z[i] = math.NaN()
	}
	return pm
}

// predict is m.Predict(*f) of item k of the list: sigmoid of the logit,
// reused when the logit is the memoised one.
func (pm *pctrMemo) predict(m *Model, k int, f *Features) float64 {
	z := m.logit(f)
	if pm.z[k] == z {
		return pm.p[k]
	}
	p := sigmoid(z)
	pm.z[k], pm.p[k] = z, p
	return p
}

// putScratch gives back an auction's storage. It is not cleared (with
// the collector running each pointer cleared costs a write barrier): the
// strings it refers to are kept alive at most until the next auction
// overwrites them or the pool drops unused storage (within two
// collections).
func (s *Service) putScratch(sc *fillScratch) {
	sc.camps, sc.hist, sc.bidders, sc.feats, sc.from = sc.camps[:0], sc.hist[:0], sc.bidders[:0], sc.feats[:0], sc.from[:0]
	sc.wins, sc.imps, sc.hists = sc.wins[:0], sc.imps[:0], sc.hists[:0]
	s.scratch.Put(sc)
}

// campTakes is whether a campaign of an answer's eligible items takes
// part (known: its spend was read from the cache under the lock).
type campTakes struct {
	camp         int
	takes, known bool
}

// eligibleTTL is how long the eligible items of a (surface, query,
// category context) are kept: they depend on the campaigns (a change
// starts afresh), their items (an item change starts afresh, see
// ItemsUpserted) and the query, not on the shopper or the spend.
const eligibleTTL = time.Second

// eligibleItem is a campaign item that may take part in an answer's
// auction: it exists, is available, passes the campaign's query and
// category targeting, and (on a search with a query) its text relevance.
type eligibleItem struct {
	camp int // index into campaignSet.list; the items of a campaign are together
	item string
	rel  float64 // relevance, unless perAnswer
	// perAnswer: relevance is the share of the answer's organic items in
	// the item's top-level category top (off search)
	perAnswer bool
	top       string
	bid       Micros  // the campaign's bid
	hist      *[2]int // the item's entry in Service.itemHist (made when missing)
}

// eligibleCache keeps eligible items per (surface, query, context) for
// eligibleTTL: the whole map is dropped when it is older.
type eligibleCache struct {
	mu   sync.Mutex
	born time.Time
	gen  uint64 // Service.itemGen when born
	m    map[eligibleKey][]eligibleItem
	// org keeps the last organic tally per key (organicTally)
	org map[eligibleKey]*organicMemo
	// last and lastOrg are the entries of m and org the last answer used:
	// answers of one key in a row (popular, a category page) read them
	// without the lock and the map
	last    atomic.Pointer[lastEligible]
	lastOrg atomic.Pointer[lastOrganic]
}

// lastEligible is an entry of eligibleCache.m with the map's born and gen.
type lastEligible struct {
	key  eligibleKey
	list []eligibleItem
	born time.Time
	gen  uint64
}

// lastOrganic is an entry of eligibleCache.org.
type lastOrganic struct {
	key eligibleKey
	om  *organicMemo
}

// organicMemo is the tally of an answer's organic items, kept for the
// next answer of the same key with the same items (the same item
// values, as the caller read them: the item cache's are never changed).
type organicMemo struct {
	items []*catalog.Item
	tally catTally
}

// eligibleKey names the requests that share their eligible items: the
// surface, the normalised query and the category context (joined by
// 0x01; a single category as it is, so that the key costs nothing to make).
type eligibleKey struct{ surface, query, context string }

// eligible returns the items of the campaigns targeting the request's
// surface that may take part in its auction whoever the shopper is:
// active, budget and frequency cap are checked per answer.
// now is the answer's time (Options.Now): the cache ages by the wall clock.
func (s *Service) eligible(ctx context.Context, cs *campaignSet, r *Request, now time.Time) ([]eligibleItem, eligibleKey) {
	key := requestKey(r)
	qn := key.query
	gen := s.itemGen.Load()
	if !s.wallClock {
		now = time.Now()
	}
	ec := &cs.elig
	// valid exactly when the map it came from still would be
	l := ec.last.Load()
	fresh := l != nil && l.gen == gen && !now.Before(l.born) && now.Sub(l.born) <= eligibleTTL
	if fresh && l.key == key {
		return l.list, key
	}
	ec.mu.Lock()
	if ec.m == nil || now.Sub(ec.born) > eligibleTTL || now.Before(ec.born) || ec.gen != gen {
		ec.m, ec.born, ec.gen = map[eligibleKey][]eligibleItem{}, now, gen
		ec.org = nil
	}
	list, ok := ec.m[key]
	born := ec.born
	ec.mu.Unlock()
	if ok {
		if !fresh || l.key == key { // another key's fresh entry stays (no allocation per answer of alternating keys)
			ec.last.Store(&lastEligible{key: key, list: list, born: born, gen: gen})
		}
		return list, key
	}
	var qw []string // the query's words, for text match
	if r.Surface == "search" && qn != "" {
		qw = queryWords(qn)
	}
	for _, ci := range cs.bySurface[r.Surface] {
		c := &cs.list[ci]
		if !queryTargeted(c, cs.kws[ci], r, qn) {
			continue
		}
		for _, id := range c.Items[:min(len(c.Items), 100)] {
			it, err := s.o.Item(ctx, id) // Options.Item caches (rules.ItemCache)
			if err != nil || !it.Available {
				continue
			}
			if len(c.Targeting.Categories) > 0 && !slices.ContainsFunc(c.Targeting.Categories, func(cat string) bool {
				return slices.ContainsFunc(r.Context, func(x string) bool { return underCat(x, cat) }) || it.HasCategoryPrefix(strings.Trim(cat, "/"))
			}) {
				continue
			}
			e := eligibleItem{camp: ci, item: id, bid: ToMicros(c.Bid)}
			switch {
			case qw != nil:
				e.rel = textMatch(qw, s.text(&it))
			case r.Surface == "search":
				e.rel = relevance(r, &it, nil)
			default:
				e.perAnswer, e.top = true, topCat(&it)
			}
			list = append(list, e)
		}
	}
	s.mu.Lock() // the items' ad histories, read without a map lookup per answer
	for k := range list {
		h := s.itemHist[list[k].item]
		if h == nil { // counts as none so far (historyOf)
			h = &[2]int{}
			s.itemHist[list[k].item] = h
		}
		list[k].hist = h
	}
	s.mu.Unlock()
	ec.mu.Lock()
	if ec.gen == gen { // not dropped by an item change meanwhile
		ec.m[key] = list
	}
	ec.mu.Unlock()
	return list, key
}

// requestKey is the eligibleKey of a request.
func requestKey(r *Request) eligibleKey {
	k := eligibleKey{surface: r.Surface}
	if r.Query != "" {
		k.query = rules.Normalize(r.Query)
	}
	switch len(r.Context) {
	case 0:
	case 1:
		k.context = r.Context[0]
	default:
		k.context = strings.Join(r.Context, "\x01")
	}
	return k
}

// organicTally is tallyOf(organicCats): the top-level categories of the
// first 20 organic items, tallied. When those items are all known (given
// by the request, the others read at once with Options.ReadItems, which
// hands out the item cache's own values) and they are the same values as
// the last answer with the request's key, that answer's tally is used
// again (popular and trending answers, and a page's repeated ones, show
// the same items; an item the cache read anew after a change is another
// value, so its answer is tallied afresh).
func (s *Service) organicTally(ctx context.Context, cs *campaignSet, r *Request) catTally {
	return s.organicTallyOf(ctx, cs, r, requestKey(r))
}

// organicTallyOf is organicTally of a request whose key is key.
func (s *Service) organicTallyOf(ctx context.Context, cs *campaignSet, r *Request, key eligibleKey) catTally {
	organic := r.Organic[:min(len(r.Organic), 20)]
	items := r.OrganicItems[:min(len(r.OrganicItems), len(organic))]
	if len(items) < len(organic) || slices.Contains(items, nil) {
		// not all given: the others read (a list of its own: ReadItems
		// writes into it)
		items = append(make([]*catalog.Item, 0, len(organic)), items...)[:len(organic)]
		if s.o.ReadItems == nil {
			return tallyOf(s.organicCats(ctx, r, items))
		}
		s.readMissing(ctx, organic, items)
		if slices.Contains(items, nil) { // unknown items are left out
			return tallyOf(s.organicCats(ctx, r, items))
		}
	}
	ec := &cs.elig
	l := ec.lastOrg.Load()
	if l != nil && l.key == key && slices.Equal(l.om.items, items) {
		return l.om.tally
	}
	ec.mu.Lock()
	om := ec.org[key]
	ec.mu.Unlock()
	if om != nil && slices.Equal(om.items, items) {
		if l == nil || l.key == key { // another key's entry stays until a tally is made anew
			ec.lastOrg.Store(&lastOrganic{key: key, om: om})
		}
		return om.tally
	}
	om = &organicMemo{items: slices.Clone(items), tally: tallyOf(s.organicCats(ctx, r, items))}
	ec.mu.Lock()
	if ec.org == nil || len(ec.org) >= 1024 {
		ec.org = map[eligibleKey]*organicMemo{}
	}
	ec.org[key] = om
	ec.mu.Unlock()
	ec.lastOrg.Store(&lastOrganic{key: key, om: om})
	return om.tally
}

// readMissing reads the items of organic that items (same length, those
// the request gave) lacks, together (Options.ReadItems, which must be
// set); those that cannot be read stay nil.
func (s *Service) readMissing(ctx context.Context, organic []string, items []*catalog.Item) {
	n := 0
	for _, it := range items {
		if it == nil {
			n++
		}
	}
	switch {
	case n == 0:
	case n == len(items):
		s.o.ReadItems(ctx, organic, items)
	default: // read the ones not given
		missing := make([]string, 0, n)
		at := make([]int, 0, n)
		for i, it := range items {
			if it == nil {
				missing, at = append(missing, organic[i]), append(at, i)
			}
		}
		read := make([]*catalog.Item, len(missing))
		s.o.ReadItems(ctx, missing, read)
		for k, i := range at {
			items[i] = read[k]
		}
	}
}

// organicCats are the top-level categories of the first 20 organic items,
// items their catalogue items as far as known (same length; with
// Options.ReadItems the others have been read already and unknown ones
// are left out, without it each is read here).
func (s *Service) organicCats(ctx context.Context, r *Request, items []*catalog.Item) []string {
	organic := r.Organic[:len(items)]
	out := make([]string, 0, len(organic))
	for i, id := range organic {
		if it := items[i]; it != nil {
			out = append(out, topCat(it))
		} else if s.o.ReadItems == nil {
			if it, err := s.o.Item(ctx, id); err == nil {
				out = append(out, topCat(&it))
			}
		}
	}
	return out
}

// catTally counts an answer's organic items per top-level category, so
// that each ad's share is one scan of the few categories, not of the
// items.
type catTally struct {
	cats  []string
	count []int
	total int
}

func tallyOf(cats []string) catTally {
	t := catTally{total: len(cats)}
	for _, c := range cats {
		if k := slices.Index(t.cats, c); k >= 0 {
			t.count[k]++
		} else {
			t.cats, t.count = append(t.cats, c), append(t.count, 1)
		}
	}
	return t
}

// share is shareOf(top, cats) of the cats tallied.
func (t *catTally) share(top string) float64 {
	if t.total == 0 {
		return 0
	}
	if k := slices.Index(t.cats, top); k >= 0 {
		return float64(t.count[k]) / float64(t.total)
	}
	return 0
}

// shareOf is the share of cats equal to top (0 for none).
func shareOf(top string, cats []string) float64 {
	if len(cats) == 0 {
		return 0
	}
	hit := 0
	for _, c := range cats {
		if c == top {
			hit++
		}
	}
	return float64(hit) / float64(len(cats))
}

// surfaceTargeted reports whether a campaign's surface targeting admits
// a surface. A campaign targeting queries shows on search (and on other
// surfaces only when it lists them).
func surfaceTargeted(c *Campaign, surface string) bool {
	t := &c.Targeting
	if len(t.Surfaces) > 0 {
		return slices.Contains(t.Surfaces, surface)
	}
	return len(t.Queries) == 0 || surface == "search"
}

// queryTargeted reports whether a campaign's query targeting (kws, its
// keywords normalised) admits the request, whose query normalised is q.
func queryTargeted(c *Campaign, kws []string, r *Request, q string) bool {
	if r.Surface != "search" || len(c.Targeting.Queries) == 0 {
		return true
	}
	return slices.ContainsFunc(kws, func(kw string) bool { return keywordMatch(q, kw, c.Targeting.MatchType) })
}

// relevance is how well an ad item fits the answer (0..1): on search, its
// text match to the query (a browse without a query: its fit to the
// category page); elsewhere, the share of the organic items that share a
// top-level category with it.
func relevance(r *Request, it *catalog.Item, orgCats []string) float64 {
	if r.Surface == "search" {
		if rules.Normalize(r.Query) != "" {
			return TextMatch(r.Query, it)
		}
		if len(r.Context) > 0 && slices.ContainsFunc(r.Context, func(c string) bool { return it.HasCategoryPrefix(strings.Trim(c, "/")) }) {
			return 1
		}
		return 0
	}
	return shareOf(topCat(it), orgCats)
}

// topCat is the top level of an item's first category ("" without one).
func topCat(it *catalog.Item) string {
	for _, c := range it.Categories {
		if top, _, _ := strings.Cut(strings.Trim(c, "/"), "/"); top != "" {
			return top
		}
	}
	return ""
}

// text returns itemText(it), kept per item while its title, brand and
// categories stay the same (campaign items are few; cleared when the
// campaigns change).
func (s *Service) text(it *catalog.Item) string {
	if v, ok := s.texts.Load(it.ID); ok {
		t := v.(*cachedText)
		if t.title == it.Title && t.brand == it.Brand && slices.Equal(t.cats, it.Categories) {
			return t.text
		}
	}
	t := &cachedText{title: it.Title, brand: it.Brand, cats: it.Categories, text: itemText(it)}
	s.texts.Store(it.ID, t)
	return t.text
}

type cachedText struct {
	title, brand string
	cats         []string
	text         string
}

func underCat(c, prefix string) bool {
	c, prefix = strings.Trim(c, "/"), strings.Trim(prefix, "/")
	return c == prefix || strings.HasPrefix(c, prefix+"/")
}

// freqKey names a shopper's impressions of a campaign on a day (the
// store's key).
func freqKey(d, user, campaign string) string { return d + "\x00" + user + "\x00" + campaign }

// freqSlot is freqKey's parts: the key of impressions counted in memory
// (not joined for every impression).
type freqSlot struct{ day, user, campaign string }

func (f freqSlot) key() string { return freqKey(f.day, f.user, f.campaign) }

// impKey names a queued impression: its answer's request id and item.
type impKey struct{ requestID, item string }

// queued is an impression waiting to be written (day is day(At)); dead
// when a later one of the same key replaced it (it still counts against
// frequency caps).
type queued struct {
	Impression
	day  string
	dead bool
}

// indexQueued adds the queued impressions logged since the last call to
// the queue's index (s.pending), in logging order: an entry whose key is
// indexed already replaces that one (marked dead: not written, as a later
// answer's impression of the same request id and item is the one kept).
// Answers only append to the queue; lookups and the writer index it
// first. s.mu is held.
func (s *Service) indexQueued() {
	for i := s.indexed; i < len(s.pendingList); i++ {
		q := &s.pendingList[i]
		if q.dead {
			continue
		}
		k := impKey{q.RequestID, q.Item}
		if j, ok := s.pending[k]; ok {
			s.pendingList[j].dead = true
		}
		s.pending[k] = int32(i)
	}
	s.indexed = len(s.pendingList)
}

// shown returns a shopper's impressions today per campaign: those in the
// store (written by any replica sharing it) and those this replica has
// not written yet.
func (s *Service) shown(ctx context.Context, user string, now time.Time) map[string]int {
	d := day(now)
	prefix := d + "\x00" + user + "\x00"
	out := map[string]int{}
	err := s.o.Store.MerchView(ctx, func(tx store.MerchTx) error {
		return tx.Scan(bFreq, prefix, func(k string, v []byte) error {
			if len(v) == 8 {
				out[strings.TrimPrefix(k, prefix)] += int(binary.BigEndian.Uint64(v))
			}
			return nil
		})
	})
	if err != nil {
		s.log.Error("ads: reading frequency counts", "user", user, "error", err)
		return nil // unknown: capped campaigns sit out
	}
	s.mu.Lock()
	for i := range s.pendingList { // queued or being written
		if q := &s.pendingList[i]; q.User == user && q.day == d {
			out[q.Campaign]++
		}
	}
	s.mu.Unlock()
	return out
}

// histOf is an item's smoothed ad click rate from its entry in
// Service.itemHist (nil: none so far); s.mu is held.
func histOf(h *[2]int) float64 {
	if h == nil {
		return 0.02 // = (0 + 0.2) / (0 + 10)
	}
	return (float64(h[1]) + 0.2) / (float64(h[0]) + 10)
}

// logImpressions queues impressions for the background writer (they
// count against frequency caps when written) and counts them in their
// items' ad histories (hists, parallel: each item's entry in s.itemHist,
// nil to look it up); today is day(im.At) of them all.
func (s *Service) logImpressions(imps []Impression, hists []*[2]int, today string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, im := range imps {
		if len(s.pendingList) >= maxPending {
			s.dropped.Add(1)
			continue
		}
		// indexed when looked up or written (indexQueued): an answer
		// only appends
		s.pendingList = append(s.pendingList, queued{Impression: im, day: today})
		var h *[2]int
		if i < len(hists) {
			h = hists[i]
		}
		if h == nil {
			if h = s.itemHist[im.Item]; h == nil {
				h = &[2]int{}
				s.itemHist[im.Item] = h
			}
		}
		h[0]++
	}
}

// maxPending bounds the impressions waiting to be written: past it, ads
// are still shown but their impressions are dropped (and counted), and
// their clicks are not charged.
const maxPending = 100_000
