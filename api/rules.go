package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aisle-dev/aisle/ads"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/internal/reqid"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/rules"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/store"
)

// merch is the merchandising step of every answer: rules (after the
// model, before pagination) and ads (into the page's slots).
type merch struct {
	srv  *Server
	book *rules.Book
	ads  *ads.Service // nil: no ads
	// affinity, when set, is a shopper's category affinity (a pCTR feature).
	affinity func(ctx context.Context, user string) (func(string) float64, error)
	items    func(ctx context.Context, id string) (catalog.Item, error)
	cache    *rules.ItemCache // nil: items reads the store
	now      func() time.Time
	// scratch holds *merchScratch: the lists an answer's arranging needs
	// only while it runs
	scratch sync.Pool
	// memo keeps recommendation answers' last arranged windows
	memo arrangeMemo
}

// MerchOptions are the parts of merchandising (see AddMerchRoutes).
type MerchOptions struct {
	Rules *rules.Book
	Ads   *ads.Service // nil: no sponsored products
	// Affinity, when set, returns a shopper's affinity function (see
	// recommend.Service.Affinity), a feature of the click model.
	Affinity func(ctx context.Context, user string) (func(string) float64, error)
	// Items keeps the catalogue items rules and ads read (subscribed to
	// the engine so that it forgets changed items); nil reads the store.
	Items *rules.ItemCache
}

// AddMerchRoutes registers /api/rules and /api/campaigns (admin scope) and
// makes search and recommendation answers apply the rules and fill their
// ad slots. Call it before the server is ready.
func (s *Server) AddMerchRoutes(o MerchOptions) {
	m := &merch{srv: s, book: o.Rules, ads: o.Ads, affinity: o.Affinity, cache: o.Items, items: s.eng.GetItem, now: time.Now}
	if m.cache != nil {
		m.items = m.cache.Get
	}
	s.merch = m
	s.Handle(Route{"GET", "/api/rules", Admin, s.JSON(m.listRules)})
	s.Handle(Route{"POST", "/api/rules", Admin, s.JSON(m.createRule)})
	s.Handle(Route{"POST", "/api/rules/preview", Admin, s.JSON(m.previewRule)})
	s.Handle(Route{"GET", "/api/rules/{id}", Admin, s.JSON(m.getRule)})
	s.Handle(Route{"PUT", "/api/rules/{id}", Admin, s.JSON(m.updateRule)})
	s.Handle(Route{"DELETE", "/api/rules/{id}", Admin, s.JSON(m.deleteRule)})
	s.Handle(Route{"GET", "/api/rules/{id}/versions", Admin, s.JSON(m.ruleVersions)})
	if m.ads != nil {
		m.addCampaignRoutes()
	}
}

// RuleList answers GET /api/rules.
type RuleList struct {
	Rules []rules.Rule `json:"rules"`
}

// RuleVersions answers GET /api/rules/{id}/versions, oldest first.
type RuleVersions struct {
	Versions []rules.Rule `json:"versions"`
}

// RulePreview answers POST /api/rules/preview: a search with the rule
// sent (alone) and without any rule.
type RulePreview struct {
	With    SearchAnswer `json:"with"`
	Without SearchAnswer `json:"without"`
}

func (m *merch) listRules(r *http.Request) (any, error) {
	return RuleList{Rules: m.book.List()}, nil
}

func decodeRule(r *http.Request) (rules.Rule, error) {
	body, err := readBody(r)
	if err != nil {
		return rules.Rule{}, err
	}
	var ru rules.Rule
	if err := catalog.StrictDecode(body, &ru); err != nil {
		p := catalog.ProblemFromJSON(0, err)
		return ru, BadRequest(`rule must be {"name":…,"if":{"query":…},"then":{"pin":[{"item_id":…,"position":1}],"hide":[…]}}: %s %s`, p.Field, p.Problem)
	}
	return ru, nil
}

func merchError(err error) error {
	switch {
	case rules.IsInvalid(err):
		return BadRequest("%s", strings.ReplaceAll(errors.Unwrap(err).Error(), "\n", "; "))
	case errors.Is(err, store.ErrNotFound):
		return NotFound(err.Error())
	}
	return err
}

func (m *merch) createRule(r *http.Request) (any, error) {
	ru, err := decodeRule(r)
	if err != nil {
		return nil, err
	}
	if ru.ID != "" {
		return nil, BadRequest("leave id out of a new rule (the server assigns it); change a rule with PUT /api/rules/{id}")
	}
	ru, err = m.book.Save(r.Context(), ru)
	if err != nil {
		return nil, merchError(err)
	}
	return WithStatus(http.StatusCreated, ru), nil
}

func (m *merch) getRule(r *http.Request) (any, error) {
	ru, ok := m.book.Get(r.PathValue("id"))
	if !ok {
		return nil, NotFound(fmt.Sprintf("no rule %q: list them with GET /api/rules", r.PathValue("id")))
	}
	return ru, nil
}

func (m *merch) updateRule(r *http.Request) (any, error) {
	id := r.PathValue("id")
	if _, ok := m.book.Get(id); !ok {
		return nil, NotFound(fmt.Sprintf("no rule %q: create it with POST /api/rules", id))
	}
	ru, err := decodeRule(r)
	if err != nil {
		return nil, err
	}
	if ru.ID != "" && ru.ID != id {
		return nil, BadRequest("the body's id %q is not the path's %q", ru.ID, id)
	}
	ru.ID = id
	ru, err = m.book.Save(r.Context(), ru)
	if err != nil {
		return nil, merchError(err)
	}
	return ru, nil
}

func (m *merch) deleteRule(r *http.Request) (any, error) {
	if err := m.book.Delete(r.Context(), r.PathValue("id")); err != nil {
		return nil, merchError(err)
	}
	return Deleted{Deleted: r.PathValue("id")}, nil
}

func (m *merch) ruleVersions(r *http.Request) (any, error) {
	vs, err := m.book.Versions(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, merchError(err)
	}
	return RuleVersions{Versions: vs}, nil
}

// previewRule runs the search of the query string with the rule of the
// body (not saved) and without rules; ads are left out of both.
func (m *merch) previewRule(r *http.Request) (any, error) {
	ru, err := decodeRule(r)
	if err != nil {
		return nil, err
	}
	if ru.ID == "" {
		ru.ID = "preview"
	}
	if err := ru.Validate(); err != nil {
		return nil, BadRequest("%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	h := m.srv.search
	if h == nil {
		return nil, Unavailable("search is not configured on this server", 0, nil)
	}
	with, err := h.run(r, rules.NewSet([]rules.Rule{ru}), false)
	if err != nil {
		return nil, err
	}
	without, err := h.run(r, nil, false)
	if err != nil {
		return nil, err
	}
	return RulePreview{With: *with, Without: *without}, nil
}

// userAttrs returns a lazy reader of a shopper's attributes.
func (m *merch) userAttrs(ctx context.Context, user string) func() map[string]any {
	if user == "" {
		return nil
	}
	return func() map[string]any {
		u, err := m.srv.eng.GetUser(ctx, user)
		if err != nil {
			return nil
		}
		return u.Attributes
	}
}

// userAttrsFor is userAttrs when a rule of set has a segment condition
// (nil otherwise: no plan reads them).
func (m *merch) userAttrsFor(ctx context.Context, set *rules.Set, user string) func() map[string]any {
	if !set.UsesSegments() {
		return nil
	}
	return m.userAttrs(ctx, user)
}

// ruleSet is the rules a request runs under: none with rules=off.
func (m *merch) ruleSet(r *http.Request) *rules.Set {
	if m == nil || r.URL.Query().Get("rules") == "off" {
		return nil
	}
	return m.book.Set()
}

// adsOn reports whether a request may carry ads (not with ads=off).
func (m *merch) adsOn(r *http.Request) bool {
	return m != nil && m.ads != nil && r.URL.Query().Get("ads") != "off"
}

// lookup returns the catalogue item when it passes keep.
func (m *merch) lookup(ctx context.Context, keep func(*catalog.Item) bool) rules.Lookup {
	return m.lookupNoting(ctx, keep, new(bool))
}

// lookupNoting is lookup that sets *failed when an item could not be read
// for another reason than not being in the catalogue (the store
// unreachable, the request given up on): an arrangement made with it is
// not kept (arrangeMemo).
func (m *merch) lookupNoting(ctx context.Context, keep func(*catalog.Item) bool, failed *bool) rules.Lookup {
	return func(id string) (catalog.Item, bool) {
		it, err := m.items(ctx, id)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				*failed = true
			}
			return catalog.Item{}, false
		}
		if !keep(&it) {
			return catalog.Item{}, false
		}
		return it, true
	}
}

// arranged arranges the window w by arrangeBy (plan, or a copy of it the
// caller adjusted), reading its items first when read is set (w.Items then
// holds them); with memo, an arrangement kept for the same plan, filter and
// items is used instead (arrangeMemo), and a new one is kept unless an item
// could not be read or the request ended.
func (m *merch) arranged(ctx context.Context, memo bool, key arrangeKey, set *rules.Set, plan, arrangeBy *rules.Plan,
	read bool, asked *recommend.Filter, w *rules.Window, sc *merchScratch, keep func(*catalog.Item) bool) []rules.Placed {
	var gen uint64
	if memo {
		gen = m.cache.Generation()
		if placed, items := m.memo.get(key, set, plan, gen, read, asked, w.IDs, w.Scores, sc); placed != nil {
			w.Items = items // nil unless read
			return placed
		}
	}
	if read {
		w.Items = sc.items
	}
	failed := false
	if read && !m.readItems(ctx, w.IDs, sc.items, keep) {
		failed = true
	}
	placed := arrangeBy.ArrangeWindow(&sc.arrange, *w, m.lookupNoting(ctx, keep, &failed), m.now())
	if memo && !failed && ctx.Err() == nil {
		m.memo.put(key, set, plan, gen, read, asked, *w, placed)
	}
	return placed
}

// readItems puts the items of ids into out (same order): those keep
// (nil: all) passes, nil for the others and for those that cannot be
// read. Through the cache, the whole list costs one lock. It reports
// whether every item was read (an arrangement of a window with an item
// that was not is not kept: the read may have failed for a moment).
func (m *merch) readItems(ctx context.Context, ids []string, out []*catalog.Item, keep func(*catalog.Item) bool) bool {
	if m.cache != nil {
		m.cache.Read(ctx, ids, out)
	} else {
		for i, id := range ids {
			out[i] = nil
			if it, err := m.items(ctx, id); err == nil {
				out[i] = &it
			}
		}
	}
	all := true
	for i, it := range out[:len(ids)] {
		switch {
		case it == nil:
			all = false
		case keep != nil && !keep(it):
			out[i] = nil
		}
	}
	return all
}

// merchScratch is the storage one answer's arranging works in, reused
// across answers (merch.scratch): the window's ids, scores and items,
// the arranged order and the organic items handed to the ads.
type merchScratch struct {
	hits     []search.Hit // a search's window (search.Request.Hits)
	ids      []string
	scores   []float64
	items    []*catalog.Item
	arrange  rules.Scratch
	organic  []string
	orgItems []*catalog.Item
	placed   []ads.Placement // the answer's ads
	held     []*arrangeEntry // kept arrangements taken from the memo (released by putScratch)
}

// takeScratch returns scratch storage whose ids, scores and items hold n
// entries; give it back with putScratch once the answer no longer refers
// to it.
func (m *merch) takeScratch(n int) *merchScratch {
	sc, _ := m.scratch.Get().(*merchScratch)
	if sc == nil {
		sc = &merchScratch{}
	}
	sc.size(n)
	return sc
}

// size makes sc's ids, scores and items hold n entries.
func (sc *merchScratch) size(n int) {
	sc.ids = slices.Grow(sc.ids[:0], n)[:n]
	sc.scores = slices.Grow(sc.scores[:0], n)[:n]
	sc.items = slices.Grow(sc.items[:0], n)[:n]
}

func (m *merch) putScratch(sc *merchScratch) {
	// The lists are not cleared: with the collector running (as it
	// mostly is under load) clearing pointers costs a write barrier
	// each, more than the rest of putting the storage back. What they
	// still refer to (item ids, the item cache's items) is kept alive at
	// most until the pool drops unused storage, within two collections,
	// or the next answer overwrites it.
	m.memo.release(sc.held)
	clear(sc.held) // entries of the memo: not kept past their release
	sc.held = sc.held[:0]
	sc.organic, sc.orgItems, sc.placed = sc.organic[:0], sc.orgItems[:0], sc.placed[:0]
	m.scratch.Put(sc)
}

// recFilterKeeps is a recommendation request's own filter, for pinned items.
func recFilterKeeps(f recommend.Filter) func(*catalog.Item) bool {
	// the lists trimmed once, not per item (an answer's window is up to
	// rules.MoveWindow items): copied only when a trim changes one
	cats := trimmedAll(f.Categories, func(c string) string { return strings.Trim(c, "/") })
	brands := trimmedAll(f.Brands, strings.TrimSpace)
	return func(it *catalog.Item) bool {
		if f.AvailableOnly && !it.Available {
			return false
		}
		if slices.Contains(f.Exclude, it.ID) {
			return false
		}
		if len(cats) > 0 && !hasAnyCategory(it, cats) {
			return false
		}
		if len(brands) > 0 && !hasAnyBrand(it, brands) {
			return false
		}
		if f.MinPrice != nil && (it.Price == nil || *it.Price < *f.MinPrice) {
			return false
		}
		return f.MaxPrice == nil || (it.Price != nil && *it.Price <= *f.MaxPrice)
	}
}

// trimmedAll returns list with trim applied to each string: list itself
// when that changes none.
func trimmedAll(list []string, trim func(string) string) []string {
	var out []string
	for i, s := range list {
		if t := trim(s); t != s {
			if out == nil {
				out = slices.Clone(list)
			}
			out[i] = t
		}
	}
	if out == nil {
		return list
	}
	return out
}

// hasAnyCategory reports whether it is under one of the (trimmed)
// category prefixes.
func hasAnyCategory(it *catalog.Item, cats []string) bool {
	for _, c := range cats {
		if it.HasCategoryPrefix(c) {
			return true
		}
	}
	return false
}

// hasAnyBrand reports whether its brand is one of the (trimmed) brands,
// in any case.
func hasAnyBrand(it *catalog.Item, brands []string) bool {
	for _, b := range brands {
		if strings.EqualFold(b, it.Brand) {
			return true
		}
	}
	return false
}

// merchAnswer is a recommendation answer after rules and ads.
type merchAnswer struct {
	Items     []recommend.Item
	Model     string
	Rules     []string
	RequestID string
	m         *merch
	plan      *rules.Plan
}

// keep drops from list (another list of the same answer, such as one
// anchor's row) the items the answer's rules hide or filter out, and
// cuts it to n.
func (a *merchAnswer) keep(ctx context.Context, list []recommend.Item, n int) []recommend.Item {
	if !a.plan.Empty() {
		now := a.m.now()
		list = slices.DeleteFunc(list, func(x recommend.Item) bool {
			if a.plan.Hide[x.ID] {
				return true
			}
			if len(a.plan.Filters) == 0 {
				return false
			}
			it, err := a.m.items(ctx, x.ID)
			return err != nil || !a.plan.Keeps(&it, now)
		})
	}
	return list[:min(len(list), n)]
}

func (a *merchAnswer) merch() Merch { return Merch{RequestID: a.RequestID, Rules: a.Rules} }

// recommend runs a recommendation surface with the rules applied after
// the model (asking it for enough extra items to replace the hidden and
// filtered ones) and ads in the surface's slots. fetch is the model.
func (m *merch) recommend(r *http.Request, id, surface, user string, req recommend.Request, fetch func(recommend.Request) (*recommend.Answer, error)) (*merchAnswer, error) {
	return m.recommendCtx(r.Context(), id, surface, user, req, fetch, m.ruleSet(r), m.adsOn(r))
}

// MerchRecommend runs a recommendation surface for the storefront as the
// API does: rules after the model, ads in the surface's slots. It returns
// the items and the answer's request id.
func (s *Server) MerchRecommend(ctx context.Context, surface, user string, req recommend.Request, fetch func(recommend.Request) (*recommend.Answer, error)) ([]recommend.Item, string, error) {
	m := s.merch
	var set *rules.Set
	if m != nil {
		set = m.book.Set()
	}
	a, err := m.recommendCtx(ctx, "", surface, user, req, fetch, set, m != nil && m.ads != nil)
	if err != nil {
		return nil, "", err
	}
	return a.Items, a.RequestID, nil
}

// id is the answer's request id ("" makes one).
func (m *merch) recommendCtx(ctx context.Context, id, surface, user string, req recommend.Request, fetch func(recommend.Request) (*recommend.Answer, error), set *rules.Set, adsOn bool) (*merchAnswer, error) {
	if id == "" {
		id = newRequestID()
	}
	out := &merchAnswer{RequestID: id, m: m}
	var now time.Time // the answer's time, for the rules and the ads (read once)
	if set.Len() > 0 || adsOn {
		now = m.now()
	}
	var plan *rules.Plan // only read (it may be the set's kept plan)
	if set.Len() > 0 {
		plan, _ = set.SharedPlan(rules.Request{Surface: surface, Categories: req.Filter.Categories, UserAttrs: m.userAttrsFor(ctx, set, user), Now: now})
	}
	n := req.N
	adContext := req.Filter.Categories // the category page, before the rules narrow it
	asked := req.Filter                // the request's own filter (the memo's key)
	arrangeBy := plan
	if !plan.Empty() {
		ask := req
		if len(req.Filter.Exclude) == 0 {
			ask.Filter.Exclude = plan.HiddenIDs() // shared: only read
		} else {
			ask.Filter.Exclude = append(slices.Clone(req.Filter.Exclude), plan.HiddenIDs()...)
		}
		// the model applies the category, brand and price filters; the
		// answer's other rows (keep) still read the plan's own filters
		unpushed := pushRecFilters(&ask.Filter, plan.Filters)
		if len(plan.Filters) > 0 { // arranged by the filters not pushed
			arrangeBy = new(rules.Plan)
			*arrangeBy = *plan
			arrangeBy.Filters = unpushed
		}
		extra := len(plan.Pins)
		switch {
		case len(unpushed) > 0:
			// the filters the model cannot apply (attributes, new, in
			// stock) may drop any number of its items: all it may give
			extra = MaxN
		case len(plan.Moves) > 0 && n+extra <= rules.MoveWindow:
			// the first rules.MoveWindow candidates, whatever n: items
			// move on the same scale, so every answer of up to that many
			// is the start of the longer ones
			extra = rules.MoveWindow - n
		case len(plan.Moves) > 0:
			extra += n // room for items to move up
		}
		// the room comes from the model's own candidates for n (asking
		// for n+extra would size its candidate pool, and its work, by
		// n+extra): the first n are the answer without rules
		ask.Room = min(MaxN, n+extra) - n
		req = ask
	}
	ans, err := fetch(req)
	if err != nil {
		return nil, err
	}
	out.Model, out.plan = ans.Model, plan
	list := ans.Items
	var sc *merchScratch
	if !plan.Empty() || adsOn {
		sc = m.takeScratch(len(list))
		defer m.putScratch(sc)
	}
	// the items of list, read once for arranging and the ads (nil: not read)
	var known []*catalog.Item
	if !plan.Empty() {
		out.Rules = plan.Applied
		ids, scores := sc.ids, sc.scores
		for i, it := range list {
			ids[i], scores[i] = it.ID, it.Score
		}
		keep := recFilterKeeps(req.Filter)
		w := rules.Window{IDs: ids, Scores: scores, Relevance: true}
		read := len(arrangeBy.Filters) > 0 || len(arrangeBy.Moves) > 0 || adsOn
		// a window arranged before under the same plan, filter and items
		// is arranged the same (arrangeMemo)
		memo := m.cache != nil && memoable(plan)
		placed := m.arranged(ctx, memo, memoKey(surface, adContext), set, plan, arrangeBy, read, &asked, &w, sc, keep)
		// only the first n are kept (room for the ads' inserts)
		placed = placed[:min(len(placed), n)]
		arranged := make([]recommend.Item, 0, len(placed)+2)
		if w.Items != nil {
			known = sc.orgItems[:0]
		}
		for _, p := range placed {
			it := recommend.Item{ID: p.ID, Reason: "pinned"}
			var read *catalog.Item
			if p.From >= 0 {
				it = list[p.From]
				if w.Items != nil {
					read = w.Items[p.From]
				}
			} else if w.Items != nil && adsOn {
				// a pinned item the model did not propose: the ads then
				// need not read it (nor their tally of the page anew)
				read = m.cached(ctx, p.ID)
			}
			it.Pinned = p.Pinned
			arranged = append(arranged, it)
			if w.Items != nil {
				known = append(known, read)
			}
		}
		sc.orgItems = known[:0]
		list = arranged
	}
	list = list[:min(len(list), n)]
	if adsOn {
		ids := sc.organic[:0]
		for _, it := range list {
			ids = append(ids, it.ID)
		}
		sc.organic = ids[:0]
		// the items arranging read are not read again by the ads
		sc.placed = m.fill(ctx, sc.placed[:0], ads.Request{RequestID: out.RequestID, Surface: surface, User: user, Context: adContext, Organic: ids, OrganicItems: known[:min(len(known), len(ids))], Now: now})
		for _, p := range sc.placed {
			list = insertAd(list, p, func(p ads.Placement) recommend.Item {
				return recommend.Item{ID: p.Item, Reason: "sponsored", Sponsored: true}
			}, func(it *recommend.Item) string { return it.ID })
		}
		list = list[:min(len(list), n)]
	}
	if list == nil {
		list = []recommend.Item{}
	}
	out.Items = list
	return out, nil
}

// fill runs the ad auction with the shopper's affinity as a feature,
// appending the placements to dst.
func (m *merch) fill(ctx context.Context, dst []ads.Placement, req ads.Request) []ads.Placement {
	if m.affinity != nil && req.User != "" {
		if f, err := m.affinity(ctx, req.User); err == nil {
			req.Affinity = f
		}
	}
	return m.ads.AppendFill(ctx, dst, req)
}

// title is an item's title ("" when it cannot be read), without copying
// the item when it is in the cache.
func (m *merch) title(ctx context.Context, id string) string {
	if m.cache != nil {
		if it := m.cached(ctx, id); it != nil {
			return it.Title
		}
		return ""
	}
	if it, err := m.items(ctx, id); err == nil {
		return it.Title
	}
	return ""
}

// cached is an item as the item cache holds it (read through it when it
// is not held yet; nil when it cannot be read or there is no cache): only
// to be read.
func (m *merch) cached(ctx context.Context, id string) *catalog.Item {
	if m.cache == nil {
		return nil
	}
	var it [1]*catalog.Item
	m.cache.Read(ctx, []string{id}, it[:])
	return it[0]
}

// insertAd puts an ad at its 1-based position (or last), dropping the
// organic copy of the same item.
func insertAd[T any](list []T, p ads.Placement, make func(ads.Placement) T, id func(*T) string) []T {
	for i := range list {
		if id(&list[i]) == p.Item { // seldom: the ad item is on the page
			list = slices.DeleteFunc(list, func(x T) bool { return id(&x) == p.Item })
			break
		}
	}
	at := min(max(p.Position-1, 0), len(list))
	return slices.Insert(list, at, make(p))
}

// run is a search with a rule set (nil: none) and, when adsOn, ads. It
// applies a rule plan and ads to a search. It asks the index
// for every result up to the end of the page (plus room for pins) from
// the start, arranges them and cuts the page; hidden items and the
// plan's price, brand and category filters are pushed into the index, so
// the total and the facets count what is shown.
func (h *searchHandlers) run(r *http.Request, set *rules.Set, adsOn bool) (*SearchAnswer, error) {
	q := r.URL.Query()
	req, err := SearchRequest(q, h.mode, h.ix.Config().Fusion)
	if err != nil {
		return nil, err
	}
	return h.runReq(r.Context(), nil, req, q.Get("user_id"), q.Get("session_id"), set, adsOn && h.srv.merch.adsOn(r))
}

// MerchSearch runs a search as GET /api/search does: personalised for
// user, with the merchandising rules and ads (for the storefront).
func (s *Server) MerchSearch(ctx context.Context, req search.Request, user string) (*SearchAnswer, error) {
	if s.search == nil {
		return nil, errors.New("api: no search routes")
	}
	var set *rules.Set
	if s.merch != nil {
		set = s.merch.book.Set()
	}
	return s.search.runReq(ctx, nil, req, user, "", set, s.merch != nil && s.merch.ads != nil)
}

// runReq runs a search with the rules of set and, when adsOn, ads; sv is
// the answer as served (its request id, and whether it is one of the
// explored share: see exploreSearch), nil for an answer not logged as an
// impression (a preview, the storefront's merchandised search): it gets a
// fresh id and is never explored.
func (h *searchHandlers) runReq(ctx context.Context, sv *served, req search.Request, userID, session string, set *rules.Set, adsOn bool) (*SearchAnswer, error) {
	id := newRequestID()
	if sv != nil {
		id = sv.id
	}
	user := userID
	if user == "" && session != "" {
		user = "anon-" + session
	}
	out := &SearchAnswer{Merch: Merch{RequestID: id}}
	m := h.srv.merch
	var now time.Time // the answer's time, for the rules and the ads (read once)
	if set.Len() > 0 || adsOn {
		now = m.now()
	}
	var plan *rules.Plan
	if set.Len() > 0 {
		plan = set.Plan(rules.Request{Surface: "search", Query: req.Query, Categories: req.Categories, UserAttrs: m.userAttrsFor(ctx, set, userID), Now: now})
		out.Rules = plan.Applied
		if plan.Redirect != "" {
			out.Redirect, out.Items, out.Mode = plan.Redirect, []search.Hit{}, req.Mode
			return out, nil
		}
		if plan.Query != "" {
			req.Query, out.Query = plan.Query, plan.Query
		}
	}
	if err := h.p.Personalise(ctx, &req, userID); err != nil {
		return nil, err
	}
	offset, n := req.Offset, req.N
	var unpushed []rules.Filter
	arrange, highlight := !plan.Empty(), false
	var keepOut []string       // the ids a pinned item may not be (nil: req.Exclude)
	var pinOnly []rules.Filter // filters checked on the whole result that pinned items must still pass
	var sc *merchScratch       // arranging's and the ads' storage
	if arrange || adsOn {
		sc = m.takeScratch(0)
		defer m.putScratch(sc)
	}
	if arrange {
		req.Exclude = plan.HiddenIDs()
		unpushed = pushFilters(&req, plan.Filters)
		if len(unpushed) > 0 {
			// the filters the index cannot apply: the items of the whole
			// result that fail them are left out of the search, so that
			// the total and the facets count what is shown and every
			// page is full
			out, all, err := h.filteredOut(ctx, req, unpushed, now, sc)
			if err != nil {
				return nil, searchError(ctx, h.ix, req, err)
			}
			if len(out) > 0 {
				req.Exclude = append(slices.Clone(req.Exclude), out...)
			}
			if all {
				// the result's items that fail them are left out; a pinned
				// item the query does not match must still pass them
				pinOnly, unpushed = unpushed, nil
			}
		}
		moves := len(plan.Moves) > 0 && (req.Sort == search.SortRelevance || req.Sort == "")
		window := offset + n + len(plan.Pins)
		if len(unpushed) > 0 || (moves && window > rules.MoveWindow) {
			window += n // room for items to move up or be filtered out
		}
		if moves {
			// the first rules.MoveWindow results, whatever the page's
			// size and offset while it ends within them: one scale, so
			// the pages follow each other
			window = max(window, rules.MoveWindow)
		}
		if window <= search.MaxN {
			// pinned items are the rule's placement, not matches: left
			// out of the search (its total and facets) and placed, so
			// that one beyond the window is not counted twice
			if len(plan.Pins) > 0 {
				keepOut = req.Exclude
				ex := slices.Clone(req.Exclude)
				for _, pin := range plan.Pins {
					ex = append(ex, pin.ItemID)
				}
				req.Exclude = ex
			}
			req.Offset, req.N = 0, window
			// highlights only for the page kept, not the whole window
			highlight = !req.NoHighlights
			req.NoHighlights = true
		} else {
			// a page deeper than the index answers at once: hidden items
			// and the index's filters still apply, pins and moves do not
			// reach it (documented)
			arrange = false
			plan.Pins, plan.Moves = nil, nil
		}
	}
	if arrange || len(unpushed) > 0 {
		// the window's hits are arranged and the page copied out of them
		// (below): pooled storage, not the answer's
		sc.hits = slices.Grow(sc.hits[:0], min(max(req.N, 0), search.MaxN))
		req.Hits = sc.hits
	}
	res, err := h.ix.Search(ctx, req)
	if err != nil {
		return nil, searchError(ctx, h.ix, req, err)
	}
	req.Hits = nil
	out.Total, out.Facets, out.TookMS, out.Mode, out.Items = res.Total, res.Facets, res.TookMS, res.Mode, res.Items
	// a share of first pages no rule arranges interleave the serving
	// ranker with a challenger (the online promotion check)
	var before []search.Hit
	var teams []uint8
	if !arrange && len(unpushed) == 0 {
		if before, teams, err = h.interleaveSearch(ctx, sv, req, res); err != nil {
			return nil, searchError(ctx, h.ix, req, err)
		}
		if teams != nil {
			out.Items = slices.Clone(before)
		}
	}
	if arrange || len(unpushed) > 0 {
		sc.size(len(res.Items))
		ids, scores := sc.ids, sc.scores
		for i, hit := range res.Items {
			ids[i], scores[i] = hit.ID, hit.Score
		}
		plan.Filters = unpushed // the others were applied by the index
		w := rules.Window{IDs: ids, Scores: scores, Relevance: req.Sort == "" || req.Sort == search.SortRelevance}
		keepReq := req
		if keepOut != nil {
			keepReq.Exclude = keepOut // not the pinned items themselves
		}
		keep := searchKeeps(&keepReq)
		if len(pinOnly) > 0 {
			// every result item passes them (the others were left out),
			// so only a pinned item from outside the result can fail
			own := keep
			keep = func(it *catalog.Item) bool {
				return own(it) && !slices.ContainsFunc(pinOnly, func(f rules.Filter) bool { return !f.Matches(it, now) })
			}
		}
		// read the window at once (the filters and moves need each item's
		// fields)
		read := len(plan.Filters) > 0 || (w.Relevance && len(plan.Moves) > 0)
		// a window arranged before under the same plan, filter and items
		// is arranged the same (arrangeMemo); not when a page too deep
		// for the window left the pins and moves out of the plan
		memo := arrange && m.cache != nil && memoable(plan)
		asked := recommend.Filter{Categories: req.Categories, Brands: req.Brands, MinPrice: req.MinPrice, MaxPrice: req.MaxPrice, Exclude: req.Exclude}
		key := memoKey("search", req.Categories)
		key.query, key.sort = req.Query, string(req.Sort)
		placed := m.arranged(ctx, memo, key, set, plan, plan, read, &asked, &w, sc, keep)
		// the page of the arranged window (all of it when only filters
		// applied), with room for the ads
		lo, hi := 0, len(placed)
		if arrange {
			lo, hi = min(offset, len(placed)), min(len(placed), offset+n)
		}
		items := make([]search.Hit, 0, hi-lo+2)
		added := 0
		for k, p := range placed {
			if p.From < 0 {
				added++
			}
			if k < lo || k >= hi {
				continue
			}
			hit := search.Hit{ID: p.ID}
			if p.From >= 0 {
				hit = res.Items[p.From]
			} else {
				hit.Title = m.title(ctx, p.ID)
			}
			hit.Pinned = p.Pinned
			items = append(items, hit)
		}
		dropped := len(ids) - (len(placed) - added) // by filters the index could not apply
		out.Total = max(0, out.Total-dropped+added)
		if highlight {
			h.ix.HighlightResult(res, req.Query, items)
		}
		out.Items = items
	}
	if adsOn {
		ids := sc.organic[:0]
		for _, hit := range out.Items {
			ids = append(ids, hit.ID)
		}
		sc.organic = ids[:0]
		sc.placed = m.fill(ctx, sc.placed[:0], ads.Request{RequestID: out.RequestID, Surface: "search", Query: req.Query, User: user, Context: req.Categories, Organic: ids, Now: now})
		for _, p := range sc.placed {
			title := m.title(ctx, p.Item)
			out.Items = insertAd(out.Items, p, func(p ads.Placement) search.Hit {
				return search.Hit{ID: p.Item, Title: title, Sponsored: true}
			}, func(hit *search.Hit) string { return hit.ID })
		}
	}
	if out.Items == nil {
		out.Items = []search.Hit{}
	}
	if teams != nil {
		sv.teams = alignTeams(before, teams, out.Items) // ads moved them
	}
	if sv != nil && offset == 0 && (plan == nil || len(plan.Pins)+len(plan.Moves) == 0) && sv.explores() {
		sv.exploreSearch(out, req.Sort)
	}
	return out, nil
}

// exploreSearch shuffles the first impressions.ExploreTop items of a
// search's first page in the random order of an explored answer
// (impressions.ExploreOrder) and marks sv explored, so its impression is
// flagged and the fit of the search surface's position examination reads
// it (impressions.Log.Fit, Method "randomised"). It leaves the page as it
// is when the order is not the ranking's to give up: a sort the shopper
// chose, or a pinned or sponsored item among those positions (whose slots
// a shuffle must not move, and whose clicks, at a fixed position, would
// not be those of a random item). Each position keeps its score: the
// items move, the scores stay. The caller checks the page (the first
// only) and the rules (none pinning or moving items).
func (sv *served) exploreSearch(out *SearchAnswer, sort search.Sort) {
	if sort != "" && sort != search.SortRelevance {
		return
	}
	top := min(len(out.Items), impressions.ExploreTop)
	if top < 2 {
		return
	}
	for _, hit := range out.Items[:top] {
		if hit.Pinned || hit.Sponsored {
			return
		}
	}
	lead := slices.Clone(out.Items[:top])
	for i, j := range impressions.ExploreOrder(sv.id, top) {
		out.Items[i] = lead[j]
		out.Items[i].Score = lead[i].Score
	}
	sv.explored = true
}

// maxFilterScan bounds how many results of a search filteredOut reads.
const maxFilterScan = 4 * search.MaxN

// filteredOut returns the items of the whole result of req (its first
// maxFilterScan) that fail one of fs, the parts of the rules' filters the
// index cannot apply (attributes, new, in stock), or cannot be read; all
// reports whether the whole result was read.
func (h *searchHandlers) filteredOut(ctx context.Context, req search.Request, fs []rules.Filter, now time.Time, sc *merchScratch) (out []string, all bool, err error) {
	m := h.srv.merch
	q := req
	q.Facets, q.NoHighlights, q.N, q.Sort = nil, true, search.MaxN, search.SortRelevance
	var ids []string // one page's, reused by the next
	var items []*catalog.Item
	for q.Offset = 0; q.Offset < maxFilterScan; q.Offset += q.N {
		q.Hits = sc.hits // every page's hits in sc's storage: only their ids are kept
		res, err := h.ix.Search(ctx, q)
		if err != nil {
			return nil, false, err
		}
		if cap(res.Items) > cap(sc.hits) {
			sc.hits = res.Items[:0]
		}
		ids = ids[:0]
		for _, hit := range res.Items {
			ids = append(ids, hit.ID)
		}
		items = slices.Grow(items[:0], len(ids))[:len(ids)]
		m.readItems(ctx, ids, items, nil)
		for i, it := range items {
			if it == nil || slices.ContainsFunc(fs, func(f rules.Filter) bool { return !f.Matches(it, now) }) {
				out = append(out, ids[i])
			}
		}
		if len(res.Items) == 0 || q.Offset+len(res.Items) >= res.Total {
			return out, true, nil
		}
	}
	return out, false, nil
}

// pushFilters narrows a search by the plan's filters the index can apply
// (categories, brands, price) and returns the ones it cannot (attributes,
// new, in stock), to apply to the results.
func pushFilters(req *search.Request, fs []rules.Filter) []rules.Filter {
	nw := narrowing{req.Categories, req.Brands, req.MinPrice, req.MaxPrice}
	rest := nw.push(fs)
	req.Categories, req.Brands, req.MinPrice, req.MaxPrice = nw.categories, nw.brands, nw.minPrice, nw.maxPrice
	return rest
}

// pushRecFilters narrows a recommendation request's filter by the plan's
// filters the model applies itself (categories, brands, price), as a
// search does, so that they need no room after the page; it returns the
// others.
func pushRecFilters(f *recommend.Filter, fs []rules.Filter) []rules.Filter {
	nw := narrowing{f.Categories, f.Brands, f.MinPrice, f.MaxPrice}
	rest := nw.push(fs)
	f.Categories, f.Brands, f.MinPrice, f.MaxPrice = nw.categories, nw.brands, nw.minPrice, nw.maxPrice
	return rest
}

// narrowing is a request's own category, brand and price filters.
type narrowing struct {
	categories, brands []string
	minPrice, maxPrice *float64
}

// push narrows by the filters' categories, brands and prices (each filter
// must hold, as rules.Filter.Matches reads them: brands trimmed and any
// case, categories without their outer slashes) and returns the filters'
// other parts.
func (nw *narrowing) push(fs []rules.Filter) []rules.Filter {
	var rest []rules.Filter
	for _, f := range fs {
		if len(f.Categories) > 0 {
			cats := make([]string, len(f.Categories))
			for i, c := range f.Categories {
				cats[i] = strings.Trim(c, "/")
			}
			nw.categories = intersectPrefixes(nw.categories, cats)
		}
		if len(f.Brands) > 0 {
			brands := make([]string, len(f.Brands))
			for i, b := range f.Brands {
				brands[i] = strings.TrimSpace(b)
			}
			if len(nw.brands) == 0 {
				nw.brands = brands
			} else {
				nw.brands = slices.DeleteFunc(slices.Clone(nw.brands), func(b string) bool {
					return !slices.ContainsFunc(brands, func(x string) bool { return strings.EqualFold(x, b) })
				})
				if len(nw.brands) == 0 {
					nw.brands = []string{"\x00none"} // no brand is both
				}
			}
		}
		if f.MinPrice != nil && (nw.minPrice == nil || *f.MinPrice > *nw.minPrice) {
			v := *f.MinPrice
			nw.minPrice = &v
		}
		if f.MaxPrice != nil && (nw.maxPrice == nil || *f.MaxPrice < *nw.maxPrice) {
			v := *f.MaxPrice
			nw.maxPrice = &v
		}
		if len(f.Attributes) > 0 || f.NewWithinDays > 0 || f.InStock {
			rest = append(rest, rules.Filter{Attributes: f.Attributes, NewWithinDays: f.NewWithinDays, InStock: f.InStock})
		}
	}
	return rest
}

// intersectPrefixes keeps the category prefixes under both lists (any of
// each): the narrower of two nested prefixes.
func intersectPrefixes(a, b []string) []string {
	if len(a) == 0 {
		return slices.Clone(b)
	}
	var out []string
	under := func(c, p string) bool {
		c, p = strings.Trim(c, "/"), strings.Trim(p, "/")
		return c == p || strings.HasPrefix(c, p+"/")
	}
	for _, x := range a {
		for _, y := range b {
			switch {
			case under(x, y):
				out = append(out, x)
			case under(y, x):
				out = append(out, y)
			}
		}
	}
	if len(out) == 0 {
		return []string{"\x00none"}
	}
	return out
}

// searchKeeps is a search request's own filter, for pinned items: in
// stock only, as the index holds no other item (a pin of an item sold out
// does not bring it back, as on a recommendation answer by default).
func searchKeeps(req *search.Request) func(*catalog.Item) bool {
	return recFilterKeeps(recommend.Filter{Categories: req.Categories, Brands: req.Brands, MinPrice: req.MinPrice, MaxPrice: req.MaxPrice, Exclude: req.Exclude, AvailableOnly: true})
}

// newRequestID names an answer, so that its clicks can be tied to it.
func newRequestID() string { return reqid.New() }

// PreviewSearch runs a search under a rule set (nil: none) and without
// ads: the dashboard's "with and without the rule".
func (s *Server) PreviewSearch(ctx context.Context, req search.Request, set *rules.Set) (*SearchAnswer, error) {
	if s.search == nil {
		return nil, errors.New("api: no search routes")
	}
	return s.search.runReq(ctx, nil, req, "", "", set, false)
}
