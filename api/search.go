package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/ratelimit"
	"github.com/aisle-dev/aisle/internal/secret"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/search/analysis"
	"github.com/aisle-dev/aisle/store"
)

// AddSearchRoutes registers GET /api/search and GET /api/suggest. Searches
// with a user_id (or a session_id) are logged as search events in the
// background; svc, when set, personalises ranking by the user's affinity.
//
// Who a logged search is attributed to depends on the key (issue 12): a
// request with write access (the admin key) logs it under its user_id, or
// "anon-<session_id>". A request with only the read key may personalise
// by a user_id (reading is what that key is for) but never writes under
// a name it chose: its search is logged only when it sends a session_id,
// under the pseudonym "anon-r-<HMAC of the session id>" that no other
// path writes to, so a read key can neither create a named user nor add
// to anyone's history.
// The returned function stops the logger and flushes it.
// clicks, when set, boosts the items shoppers acted on after the same query.
func (s *Server) AddSearchRoutes(ix *search.Index, clicks *search.Clicks, svc *recommend.Service, defaultMode search.Mode) func() {
	h := &searchHandlers{srv: s, ix: ix, clicks: clicks, mode: defaultMode, log: newSearchLog(s.eng, s.log, s.searchLogDropped, s.Go),
		canWrite: s.CanWrite, secret: s.secret}
	s.search = h
	h.p = NewPersonaliser(ix, clicks, svc)
	if s.eng != nil {
		if st, ok := s.eng.Store().(store.Merch); ok {
			h.book = newSuggestBook(st, ix, s.log, s.Go)
		}
	}
	s.Handle(Route{"GET", "/api/search", Read, s.JSON(h.search)})
	s.Handle(Route{"GET", "/api/suggest", Read, s.JSON(h.suggest)})
	s.Handle(Route{"DELETE", "/api/suggest/{query}", Admin, s.JSON(h.removeSuggestion)})
	if h.book != nil {
		s.Handle(Route{"GET", "/api/suggest/blocked", Admin, s.JSON(h.blockedSuggestions)})
		s.Handle(Route{"DELETE", "/api/suggest/blocked/{query}", Admin, s.JSON(h.unblockSuggestion)})
	}
	return func() {
		h.log.close()
		if h.book != nil {
			h.book.close()
		}
	}
}

type searchHandlers struct {
	srv    *Server
	ix     *search.Index
	clicks *search.Clicks
	p      *Personaliser
	mode   search.Mode
	log    *searchLog

	canWrite func(*http.Request) bool // may the request attribute its search?
	secret   []byte                   // keys read-key pseudonyms
	book     *suggestBook             // blocked and earned suggestions in the store; nil: none kept
}

// ReadKeyPseudonym is the user a search made with only the read key is
// logged under: "anon-r-" and 24 hex digits of an HMAC of its session id.
// Storefront sessions ("anon-" and 24 hex digits) and named users never
// take this form, and it cannot be chosen without the server's secret.
func ReadKeyPseudonym(key []byte, session string) string {
	return "anon-r-" + secret.MAC(key, "aisle read-key search session", session)[:24]
}

// logIdentity is who a search is logged under (see AddSearchRoutes):
// user and session as sent with write access; with only the read key, a
// pseudonym of the session (nobody without one).
func (h *searchHandlers) logIdentity(r *http.Request, user, session string) (string, string) {
	if h.canWrite == nil || h.canWrite(r) {
		return user, session
	}
	if session == "" || len(session) > 200 {
		return "", ""
	}
	p := ReadKeyPseudonym(h.secret, session)
	return p, strings.TrimPrefix(p, "anon-r-")
}

// source is who vouches for a search's query (decision 0061). With the
// admin key the shop names its shoppers: the user, or the session, vouches
// alone. With only the read key (which a shop may put in a web page) ids
// cost nothing, so the client network vouches as well: IPv4 /24 or IPv6
// /48 (from X-Forwarded-For only under server.trust_proxy), keyed by the
// server secret so that no address is kept. search.suggest_trust_client_ids
// makes read-key ids vouch alone, for a shop whose backend holds the key.
func (h *searchHandlers) source(r *http.Request, user, session string) search.Source {
	if h.canWrite == nil || h.canWrite(r) {
		if user == "" && session != "" {
			user = "anon-" + session // as logged
		}
		return search.Source{Shopper: user}
	}
	shopper, _ := h.logIdentity(r, user, session)
	if shopper == "" && user != "" && len(user) <= 200 {
		shopper = ReadKeyPseudonym(h.secret, "user\x00"+user)
	}
	if h.ix.Config().SuggestTrustClientIDs {
		return search.Source{Shopper: shopper}
	}
	return search.Source{Shopper: shopper, Network: NetworkPseudonym(h.secret, ratelimit.ClientNetwork(r, h.srv.proxy))}
}

// NetworkPseudonym is how a client network is counted among the distinct
// networks of a suggestion: an HMAC under the server secret, so that
// neither memory nor store holds the address.
func NetworkPseudonym(key []byte, network string) string {
	return secret.MAC(key, "aisle suggest network", network)[:24]
}

// Personaliser is the one "personalise a search" step, shared by the API
// and the storefront: it boosts the items of the shopper's categories and
// brands (their affinity) and, unless the learned ranker will order the
// results (it has click-through as a feature of its own), the items
// shoppers acted on after the same query.
type Personaliser struct {
	Index *search.Index
	// Affinity, when set, returns a shopper's affinity function (see
	// recommend.Service.Affinity).
	Affinity func(ctx context.Context, user string) (func(string) float64, error)
	// Clicks, when set, boosts items shoppers acted on after the query.
	Clicks *search.Clicks
	// Recent, when set, lists the shopper's n most recent items: the
	// anchors of the learned ranker's image feature (read only when the
	// index uses them).
	Recent func(ctx context.Context, user string, n int) ([]string, error)
}

// NewPersonaliser personalises searches of ix by the shopper's affinity and
// recent items in svc (nil: by nobody's) and by clicks (nil: none).
func NewPersonaliser(ix *search.Index, clicks *search.Clicks, svc *recommend.Service) *Personaliser {
	p := &Personaliser{Index: ix, Clicks: clicks}
	if svc != nil {
		p.Affinity, p.Recent = svc.Affinity, svc.RecentItems
	}
	return p
}

// Personalise sets req.Boost for user ("" for nobody in particular). An
// error reading the shopper's history is returned: the API answers it,
// the storefront searches without personalisation.
func (p *Personaliser) Personalise(ctx context.Context, req *search.Request, user string) error {
	if p == nil {
		return nil
	}
	if user != "" && p.Affinity != nil {
		b, err := p.Affinity(ctx, user)
		if err != nil {
			return fmt.Errorf("personalise the search for %q: %w", user, err)
		}
		req.Boost = b
	}
	if user != "" && p.Recent != nil && len(req.Recent) == 0 && p.Index.UsesRecent(req.Mode) {
		r, err := p.Recent(ctx, user, search.MaxImageAnchors)
		if err != nil {
			return fmt.Errorf("personalise the search for %q: %w", user, err)
		}
		req.Recent = r
	}
	if p.Clicks != nil && !(req.Mode == search.ModeLTR && p.Index.Ranker() != nil) {
		// the learned ranker has click-through as a feature of its own
		req.Boost = search.CombineBoosts(req.Boost, p.Clicks.Boost(req.Query))
	}
	return nil
}

// SearchRequest reads a search from the query string (q, n, offset,
// category, brand, min_price, max_price, sort, mode, fusion, alpha, rrf_k,
// facets) over the defaults base (the index's fusion, the default mode); a
// bad value is a 400 *Error.
func SearchRequest(q url.Values, defaultMode search.Mode, fusionBase search.Fusion) (search.Request, error) {
	req := search.Request{Query: q.Get("q"), Categories: q["category"], Brands: q["brand"], Mode: defaultMode}
	if err := queryLen("q", req.Query); err != nil {
		return req, err
	}
	var err error
	if req.N, err = QueryInt(q, "n", 10, 1, MaxN); err != nil {
		return req, err
	}
	if req.Offset, err = QueryInt(q, "offset", 0, 0, 100_000); err != nil {
		return req, err
	}
	if req.MinPrice, req.MaxPrice, err = PriceParams(q); err != nil {
		return req, err
	}
	if v := q.Get("sort"); v != "" {
		if req.Sort, err = search.ParseSort(v); err != nil {
			return req, &Error{Status: http.StatusBadRequest, Msg: err.Error()}
		}
	}
	if v := q.Get("mode"); v != "" {
		if req.Mode, err = search.ParseMode(v); err != nil {
			return req, &Error{Status: http.StatusBadRequest, Msg: err.Error()}
		}
	}
	fusion, msg := fusionParams(fusionBase, q.Get("fusion"), q.Get("alpha"), q.Get("rrf_k"))
	if msg != "" {
		return req, &Error{Status: http.StatusBadRequest, Msg: msg}
	}
	req.Fusion = fusion
	if v := q.Get("facets"); v != "" {
		for _, f := range strings.Split(v, ",") {
			switch f = strings.TrimSpace(f); f {
			case "category", "brand", "price":
				req.Facets = append(req.Facets, f)
			default:
				return req, BadRequest("facets: unknown facet %q (use category, brand, price)", f)
			}
		}
	}
	return req, nil
}

func (h *searchHandlers) search(r *http.Request) (any, error) {
	q := r.URL.Query()
	req, err := SearchRequest(q, h.mode, h.ix.Config().Fusion)
	if err != nil {
		return nil, err
	}
	user := q.Get("user_id")
	sv := h.srv.serve("search", user, q.Get("session_id"))
	sv.query = req.Query
	req = sv.search(req, h.ix.Config().Fusion)
	// rules (rules=off previews without them) and ads (ads=off), see rules.go
	res, err := h.runReq(r.Context(), sv, req, user, q.Get("session_id"), h.srv.merch.ruleSet(r), h.srv.merch.adsOn(r))
	if err != nil {
		return nil, err
	}
	if req.Query != "" && req.Offset == 0 && res.Total > 0 {
		h.ix.VouchSearch(req.Query, h.source(r, user, q.Get("session_id")))
	}
	if req.Query != "" && req.Offset == 0 {
		logUser, logSession := h.logIdentity(r, user, q.Get("session_id"))
		if e, ok := h.log.add(logUser, logSession, req.Query, res.Total); ok && h.clicks != nil {
			// the click model hears of the search now, not when the log is
			// written: a click that follows within the logger's batching
			// delay still counts (the stored copy, replayed later, changes
			// nothing)
			h.clicks.Record(e)
		}
	}
	ids := make([]string, len(res.Items))
	for i, it := range res.Items {
		ids[i] = it.ID
	}
	h.srv.shown(sv, ids, nil)
	res.Variant = sv.variant()
	return res, nil
}

// searchError decides the answer to a failed search. The request was
// validated, so what is left is a mode the index cannot run (no embedder:
// the caller's mistake, 400) or the embedder not answering the query (a
// dependency down, 503). They are told apart by running the same mode
// without text, which needs no embedding: it fails only for the former.
func searchError(ctx context.Context, ix *search.Index, req search.Request, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	probe := search.Request{Mode: req.Mode, N: 1}
	if _, perr := ix.Search(ctx, probe); perr != nil {
		return &Error{Status: http.StatusBadRequest, Msg: err.Error()}
	}
	return Unavailable("the text embedder did not answer: retry, or search with mode=keyword", 5*time.Second, err)
}

// queryLen refuses a query (or prefix) longer than the index accepts.
func queryLen(name, q string) error {
	if len(q) > search.MaxQueryBytes {
		return BadRequest("%s is %d bytes, longer than the %d allowed: shorten it", name, len(q), search.MaxQueryBytes)
	}
	return nil
}

func (h *searchHandlers) suggest(r *http.Request) (any, error) {
	if h.book != nil {
		h.book.refresh(h.book.every)
	}
	n, err := QueryInt(r.URL.Query(), "n", 8, 1, 50)
	if err != nil {
		return nil, err
	}
	if err := queryLen("q", r.URL.Query().Get("q")); err != nil {
		return nil, err
	}
	sugg := h.ix.Suggest(r.URL.Query().Get("q"), n)
	if sugg == nil {
		sugg = []search.Suggestion{}
	}
	return Suggestions{sugg}, nil
}

// removeSuggestion stops suggesting a query, for good: it is kept in the
// store's block list (GET /api/suggest/blocked), which survives restarts
// and reaches every replica (decision 0061); search.suggest_block keeps
// whole phrases out. 404 when it was neither suggested nor waiting for
// shoppers.
func (h *searchHandlers) removeSuggestion(r *http.Request) (any, error) {
	q := r.PathValue("query")
	if err := queryLen("the query", q); err != nil {
		return nil, err
	}
	if strings.TrimSpace(q) == "" {
		return nil, BadRequest("give the query to remove in the path: DELETE /api/suggest/{query}")
	}
	var known bool
	if h.book != nil {
		var err error
		if known, err = h.book.block(r.Context(), q); err != nil {
			return nil, err
		}
	} else {
		known = h.ix.RemoveSuggestion(q)
	}
	if !known {
		return nil, NotFound(fmt.Sprintf("%q is not a remembered query: nothing to remove", q))
	}
	return Deleted{Deleted: q}, nil
}

// blockedSuggestions lists the queries DELETE /api/suggest/{query} blocked.
func (h *searchHandlers) blockedSuggestions(r *http.Request) (any, error) {
	list, err := h.book.list(r.Context())
	if err != nil {
		return nil, err
	}
	return BlockedQueries{Blocked: list}, nil
}

// unblockSuggestion takes a query off the block list: it is suggested
// again once enough shoppers search it. 404 when it was not blocked.
func (h *searchHandlers) unblockSuggestion(r *http.Request) (any, error) {
	q := r.PathValue("query")
	if err := queryLen("the query", q); err != nil {
		return nil, err
	}
	if strings.TrimSpace(q) == "" {
		return nil, BadRequest("give the query to unblock in the path: DELETE /api/suggest/blocked/{query}")
	}
	found, err := h.book.unblock(r.Context(), q)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, NotFound(fmt.Sprintf("%q is not blocked: nothing to unblock", search.NormalizeQuery(q)))
	}
	return Deleted{Deleted: q}, nil
}

// searchLog writes search events in batches in the background, so logging
// never slows a search down. Anonymous searches are logged under
// "anon-<session_id>"; searches with neither id are not logged.
// After close, searches are no longer logged (counted as dropped).
type searchLog struct {
	eng     *engine.Engine
	log     *slog.Logger
	dropped prometheus.Counter
	ch      chan events.Event
	flushes chan chan struct{} // write what is queued now, then answer
	done    chan struct{}

	mu     sync.RWMutex // held for reading while sending, for writing to close ch
	closed bool
}

// newSearchLog starts the writer through start (the owner's background
// group, so that the owner's Close joins it), or on its own goroutine when
// start refuses (the owner is closing: the writer still ends at close).
func newSearchLog(eng *engine.Engine, log *slog.Logger, dropped prometheus.Counter, start func(func()) bool) *searchLog {
	l := &searchLog{eng: eng, log: log, dropped: dropped, ch: make(chan events.Event, 4096), flushes: make(chan chan struct{}), done: make(chan struct{})}
	if start == nil || !start(l.run) {
		go l.run()
	}
	return l
}

// add queues a search event whose value is the number of results, and
// returns it (false when the search is not logged: no user or session, an
// event the store would refuse, such as a blank or invalid UTF-8 query or
// a malformed session id, or the queue is full).
func (l *searchLog) add(user, session, query string, results int) (events.Event, bool) {
	if user == "" {
		if session == "" {
			return events.Event{}, false
		}
		user = "anon-" + session
	}
	query = analysis.Truncate(query, events.MaxQueryLen)
	n := float64(results)
	e := events.Event{UserID: user, SessionID: session, Type: events.Search, Query: query, Value: &n, Timestamp: time.Now().UTC()}
	valid := true
	e.Validate(l.eng.Types(), e.Timestamp, func(string, string) { valid = false })
	if !valid {
		// the store would refuse it: the click model must not hear of a
		// search that a restart, replaying the log, will not
		return events.Event{}, false
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		l.dropped.Inc()
		return events.Event{}, false
	}
	select {
	case l.ch <- e:
		return e, true
	default: // full: dropping a log line beats slowing searches down
		l.dropped.Inc()
		return events.Event{}, false
	}
}

func (l *searchLog) run() {
	defer close(l.done)
	var batch []events.Event
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if _, err := l.eng.AddEventsPartial(context.Background(), batch, nil); err != nil {
			l.log.Error("logging searches", "error", err, "events", len(batch))
		}
		batch = batch[:0]
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case e, ok := <-l.ch:
			if !ok {
				flush()
				return
			}
			batch = append(batch, e)
			if len(batch) >= 500 {
				flush()
			}
		case reply := <-l.flushes:
			for drained := false; !drained; {
				select {
				case e, ok := <-l.ch:
					if !ok {
						drained = true
						break
					}
					batch = append(batch, e)
				default:
					drained = true
				}
			}
			flush()
			close(reply)
		case <-tick.C:
			flush()
		}
	}
}

// flush writes the searches queued so far before it returns (or when ctx
// ends first). A user's deletion calls it first, so that a search logged
// just before the deletion is not written after it, bringing the forgotten
// user back.
func (l *searchLog) flush(ctx context.Context) {
	reply := make(chan struct{})
	select {
	case l.flushes <- reply:
	case <-l.done:
		return
	case <-ctx.Done():
		return
	}
	select {
	case <-reply:
	case <-ctx.Done():
	}
}

// close stops the logger once the queued searches are written; later
// calls only wait for that.
func (l *searchLog) close() {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.ch)
	}
	l.mu.Unlock()
	<-l.done
}

// fusionParams applies a request's hybrid fusion parameters to the index's
// defaults: nil when the request sets none, else the fusion to use; msg
// says what is wrong with a bad value.
func fusionParams(base search.Fusion, method, alpha, rrfK string) (f *search.Fusion, msg string) {
	if method == "" && alpha == "" && rrfK == "" {
		return nil, ""
	}
	switch method {
	case "":
	case search.FusionConvex, search.FusionRRF, search.FusionRerank:
		base.Method = method
	default:
		return nil, fmt.Sprintf("fusion=%q: want convex, rerank or rrf", method)
	}
	if alpha != "" {
		a, err := strconv.ParseFloat(alpha, 64)
		if err != nil || !(a >= 0 && a <= 1) {
			return nil, fmt.Sprintf("alpha=%q must be a number in [0,1] (the keyword weight)", alpha)
		}
		base.Alpha = a
	}
	if rrfK != "" {
		k, err := strconv.ParseFloat(rrfK, 64)
		if err != nil || !(k > 0) || k > 1e6 {
			return nil, fmt.Sprintf("rrf_k=%q must be a number > 0", rrfK)
		}
		base.RRFK = k
	}
	return &base, ""
}
