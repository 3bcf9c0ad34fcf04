package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/search/analysis"
)

// AddSearchRoutes registers GET /api/search and GET /api/suggest. Searches
// with a user_id (or a session_id) are logged as search events in the
// background; svc, when set, personalises ranking by the user's affinity.
// The returned function stops the logger and flushes it.
// clicks, when set, boosts the items shoppers acted on after the same query.
func (s *Server) AddSearchRoutes(ix *search.Index, clicks *search.Clicks, svc *recommend.Service, defaultMode search.Mode) func() {
	h := &searchHandlers{ix: ix, clicks: clicks, svc: svc, mode: defaultMode, log: newSearchLog(s.eng, s.log)}
	s.Handle(Route{"GET", "/api/search", Read, h.search})
	s.Handle(Route{"GET", "/api/suggest", Read, h.suggest})
	return h.log.close
}

type searchHandlers struct {
	ix     *search.Index
	clicks *search.Clicks
	svc    *recommend.Service
	mode   search.Mode
	log    *searchLog
}

func (h *searchHandlers) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := search.Request{Query: q.Get("q"), Categories: q["category"], Brands: q["brand"], Mode: h.mode}
	var ok bool
	if req.N, ok = IntParam(w, r, "n", 10, 1, MaxN); !ok {
		return
	}
	if req.Offset, ok = IntParam(w, r, "offset", 0, 0, 100_000); !ok {
		return
	}
	for _, p := range []struct {
		name string
		dst  **float64
	}{{"min_price", &req.MinPrice}, {"max_price", &req.MaxPrice}} {
		if v := q.Get(p.name); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				WriteError(w, http.StatusBadRequest, fmt.Sprintf("%s=%q must be a number ≥ 0", p.name, v), nil)
				return
			}
			*p.dst = &f
		}
	}
	var err error
	if v := q.Get("sort"); v != "" {
		if req.Sort, err = search.ParseSort(v); err != nil {
			WriteError(w, http.StatusBadRequest, err.Error(), nil)
			return
		}
	}
	if v := q.Get("mode"); v != "" {
		if req.Mode, err = search.ParseMode(v); err != nil {
			WriteError(w, http.StatusBadRequest, err.Error(), nil)
			return
		}
	}
	fusion, msg := fusionParams(h.ix.Config().Fusion, q.Get("fusion"), q.Get("alpha"), q.Get("rrf_k"))
	if msg != "" {
		WriteError(w, http.StatusBadRequest, msg, nil)
		return
	}
	req.Fusion = fusion
	if v := q.Get("facets"); v != "" {
		for _, f := range strings.Split(v, ",") {
			switch f = strings.TrimSpace(f); f {
			case "category", "brand", "price":
				req.Facets = append(req.Facets, f)
			default:
				WriteError(w, http.StatusBadRequest, fmt.Sprintf("facets: unknown facet %q (use category, brand, price)", f), nil)
				return
			}
		}
	}
	user := q.Get("user_id")
	if user != "" && h.svc != nil {
		if req.Boost, err = h.svc.Affinity(r.Context(), user); err != nil {
			WriteEngineError(w, err)
			return
		}
	}
	if h.clicks != nil && !(req.Mode == search.ModeLTR && h.ix.Ranker() != nil) {
		// the learned ranker has click-through as a feature of its own
		req.Boost = search.CombineBoosts(req.Boost, h.clicks.Boost(req.Query))
	}
	res, err := h.ix.Search(r.Context(), req)
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	if req.Query != "" && req.Offset == 0 {
		if e, ok := h.log.add(user, q.Get("session_id"), req.Query, res.Total); ok && h.clicks != nil {
			// the click model hears of the search now, not when the log is
			// written: a click that follows within the logger's batching
			// delay still counts (the stored copy, replayed later, changes
			// nothing)
			h.clicks.Record(e)
		}
	}
	WriteJSON(w, http.StatusOK, res)
}

func (h *searchHandlers) suggest(w http.ResponseWriter, r *http.Request) {
	n, ok := IntParam(w, r, "n", 8, 1, 50)
	if !ok {
		return
	}
	sugg := h.ix.Suggest(r.URL.Query().Get("q"), n)
	if sugg == nil {
		sugg = []search.Suggestion{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"suggestions": sugg})
}

// searchLog writes search events in batches in the background, so logging
// never slows a search down. Anonymous searches are logged under
// "anon-<session_id>"; searches with neither id are not logged.
type searchLog struct {
	eng  *engine.Engine
	log  *slog.Logger
	ch   chan events.Event
	done chan struct{}
}

func newSearchLog(eng *engine.Engine, log *slog.Logger) *searchLog {
	l := &searchLog{eng: eng, log: log, ch: make(chan events.Event, 4096), done: make(chan struct{})}
	go l.run()
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
	select {
	case l.ch <- e:
		return e, true
	default: // full: dropping a log line beats slowing searches down
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
		case <-tick.C:
			flush()
		}
	}
}

func (l *searchLog) close() {
	close(l.ch)
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
