package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/experiment"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/internal/reqid"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/rules"
	"github.com/aisle-dev/aisle/search"
)

// AddExperimentRoutes registers /api/experiments (admin scope) and makes
// every recommendation and search answer go through m: assignment to a
// running experiment's variant, and the impression log (issue 15).
func (s *Server) AddExperimentRoutes(m *experiment.Manager) {
	s.exp = m
	h := &expHandlers{m: m}
	s.Handle(Route{"POST", "/api/experiments", Admin, s.JSON(h.create)})
	s.Handle(Route{"GET", "/api/experiments", Admin, s.JSON(h.list)})
	s.Handle(Route{"GET", "/api/experiments/{id}", Admin, s.JSON(h.get)})
	s.Handle(Route{"GET", "/api/experiments/{id}/results", Admin, s.JSON(h.results)})
	s.Handle(Route{"POST", "/api/experiments/{id}/stop", Admin, s.JSON(h.stop)})
	s.Handle(Route{"POST", "/api/experiments/{id}/ship", Admin, s.JSON(h.ship)})
}

type expHandlers struct{ m *experiment.Manager }

// Experiments answers GET /api/experiments, newest first.
type Experiments struct {
	Experiments []experiment.Experiment `json:"experiments"`
}

func expError(err error) error {
	switch {
	case errors.Is(err, experiment.ErrNotFound):
		return NotFound(err.Error())
	case errors.Is(err, experiment.ErrConflict):
		return Conflict(err.Error())
	}
	return err
}

func (h *expHandlers) create(r *http.Request) (any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var e experiment.Experiment
	if err := catalog.StrictDecode(body, &e); err != nil {
		p := catalog.ProblemFromJSON(0, err)
		return nil, BadRequest(`experiment must be {"name":…,"surface":"recommend","variants":[{"name":"a","weight":50,"overrides":{"model":"popular"}},…]}: %s %s`, p.Field, p.Problem)
	}
	if e.ID != "" || e.Status != "" || e.Salt != "" || e.Winner != "" || !e.Created.IsZero() || !e.Started.IsZero() || e.Ended != nil {
		return nil, BadRequest("id, status, salt, winner, created, started and ended are set by the server: leave them out")
	}
	out, err := h.m.Create(e)
	if err != nil {
		if errors.Is(err, experiment.ErrConflict) {
			return nil, expError(err)
		}
		return nil, BadRequest("%s", err.Error())
	}
	return WithStatus(http.StatusCreated, out), nil
}

func (h *expHandlers) list(*http.Request) (any, error) {
	return Experiments{Experiments: h.m.List()}, nil
}

func (h *expHandlers) get(r *http.Request) (any, error) {
	e, err := h.m.Get(r.PathValue("id"))
	return e, expError(err)
}

func (h *expHandlers) results(r *http.Request) (any, error) {
	res, err := h.m.Results(r.PathValue("id"))
	if err != nil {
		return nil, expError(err)
	}
	return res, nil
}

func (h *expHandlers) stop(r *http.Request) (any, error) {
	e, err := h.m.Stop(r.PathValue("id"))
	return e, expError(err)
}

type shipBody struct {
	Variant string `json:"variant"`
}

func (h *expHandlers) ship(r *http.Request) (any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var b shipBody
	if err := catalog.StrictDecode(body, &b); err != nil || b.Variant == "" {
		return nil, BadRequest(`ship body must be {"variant":"NAME"}: the variant every shopper gets from now on`)
	}
	if _, err := h.m.Get(r.PathValue("id")); err != nil {
		return nil, expError(err)
	}
	e, err := h.m.Ship(r.PathValue("id"), b.Variant)
	if err != nil && !errors.Is(err, experiment.ErrConflict) {
		return nil, BadRequest("%s", err.Error())
	}
	return e, expError(err)
}

// served is how one answer is served: its request id and, inside an
// experiment, its assignment.
type served struct {
	id      string
	surface string
	unit    string // user id, else session id: the unit of assignment
	user    string
	session string
	as      experiment.Assignment
	query   string // a search's query, logged with the impression
	// explored: the answer's leading items were shuffled (exploration,
	// impressions.Explores), flagged in its impression
	explored bool
	exp      *experiment.Manager // nil without experiments (explores)
	// fellBack names the model that served in place of the variant's
	// (which did not serve); "" when the variant's model served
	fellBack string
	// duel names the challenge of an answer interleaved with a challenger
	// search ranker, teams each item's team ("" and nil otherwise:
	// interleaveSearch)
	duel  string
	teams []uint8
}

// serve assigns an answer of surface for a shopper (user or session; both
// may be empty: the answer is still logged, outside any experiment).
func (s *Server) serve(surface, user, session string) *served {
	sv := &served{surface: surface, user: user, session: session, unit: user}
	if sv.unit == "" {
		sv.unit = session
	}
	if s.exp == nil {
		sv.id = reqid.New()
		return sv
	}
	sv.as, _ = s.exp.Serve(surface, sv.unit)
	sv.exp = s.exp
	// the id carries the surface and variant, so that any replica
	// attributes what follows it (experiment.Manager.Attribution)
	sv.id = s.exp.NewRequestID(surface, sv.as)
	return sv
}

// explores reports whether the answer is one of the explored share
// (experiments.explore_share, or search_explore_share for a search):
// never without experiments.
func (sv *served) explores() bool {
	switch {
	case sv.exp == nil:
		return false
	case sv.surface == "search":
		return sv.exp.ExploreSearch(sv.id)
	}
	return sv.exp.Explore(sv.id)
}

// serveQuery assigns an answer whose shopper is named by the user_id or
// session_id query parameters (both optional).
func (s *Server) serveQuery(surface string, r *http.Request) *served {
	q := r.URL.Query()
	return s.serve(surface, q.Get("user_id"), q.Get("session_id"))
}

// recommend applies the variant's overrides to a recommendation request.
func (sv *served) recommend(req recommend.Request) recommend.Request {
	o := sv.as.Overrides
	if o.Model != "" {
		req.Model = o.Model
	}
	if o.Diversity != nil {
		req.Diversity = *o.Diversity
	}
	if len(o.Fallback) > 0 {
		req.Fallback = o.Fallback
	}
	return req
}

// search applies the variant's overrides to a search request.
func (sv *served) search(req search.Request, fusionBase search.Fusion) search.Request {
	o := sv.as.Overrides
	if o.Mode != "" {
		if m, err := search.ParseMode(o.Mode); err == nil {
			req.Mode = m
		}
	}
	if o.Fusion != "" {
		base := fusionBase
		if req.Fusion != nil {
			base = *req.Fusion
		}
		if f, msg := fusionParams(base, o.Fusion, "", ""); msg == "" {
			req.Fusion = f
		}
	}
	return req
}

// interleave answers an interleaving experiment: the two rankers' answers
// merged by team draft, each item remembering the team that placed it.
func (sv *served) interleave(req recommend.Request, run func(recommend.Request) (*recommend.Answer, error)) (*recommend.Answer, []uint8, error) {
	ab := [2]*recommend.Answer{}
	for t, o := range sv.as.Interleave {
		r := req
		r.Model, r.N = o.Model, req.N
		if o.Diversity != nil {
			r.Diversity = *o.Diversity
		}
		if len(o.Fallback) > 0 {
			r.Fallback = o.Fallback
		}
		a, err := run(r)
		if err != nil {
			return nil, nil, err
		}
		ab[t] = a
	}
	ids := [2][]string{}
	byID := map[string]recommend.Item{}
	for t, a := range ab {
		for _, it := range a.Items {
			ids[t] = append(ids[t], it.ID)
			if _, ok := byID[it.ID]; !ok {
				byID[it.ID] = it
			}
		}
	}
	merged, teams := experiment.TeamDraft(ids[0], ids[1], req.N+max(req.Room, 0), sv.id)
	out := &recommend.Answer{Model: ab[0].Model + "|" + ab[1].Model, Items: make([]recommend.Item, 0, len(merged))}
	for _, id := range merged {
		out.Items = append(out.Items, byID[id])
	}
	return out, teams, nil
}

// recommendAnswer runs a recommendation surface inside its experiment.
func (sv *served) recommendAnswer(req recommend.Request, run func(recommend.Request) (*recommend.Answer, error)) (*recommend.Answer, []uint8, error) {
	if sv.as.Interleave != nil {
		return sv.interleave(req, run)
	}
	a, err := run(sv.recommend(req))
	if want := sv.as.Overrides.Model; err == nil && sv.as.Experiment != "" && want != "" && a.Model != "" {
		if name, _, _ := strings.Cut(a.Model, "@"); name != want {
			sv.fellBack = a.Model
		}
	}
	if err == nil && len(a.Items) > 1 && sv.explores() {
		a = sv.shuffle(a)
	}
	return a, nil, err
}

// shuffle returns a copy of a with its leading items in the random order
// of an explored answer (impressions.ExploreOrder), and marks sv explored.
// Each position keeps its score (the items move, the scores stay), so a
// rule that re-scores and re-sorts (boost, bury) starts from the shuffled
// order rather than restoring the ranker's. Rules and ads apply after it,
// so pinned and sponsored items keep their slots.
func (sv *served) shuffle(a *recommend.Answer) *recommend.Answer {
	out := *a
	out.Items = make([]recommend.Item, len(a.Items))
	for i, j := range impressions.ExploreOrder(sv.id, len(a.Items)) {
		out.Items[i] = a.Items[j]
		out.Items[i].Score = a.Items[i].Score
	}
	sv.explored = true
	return &out
}

// shown logs the answer's impression (in the background; never blocks).
func (s *Server) shown(sv *served, items []string, teams []uint8) {
	if s.exp == nil {
		return
	}
	if sv.fellBack != "" {
		s.exp.ModelFellBack(sv.as.Experiment, sv.variant(), sv.as.Overrides.Model, sv.fellBack)
	}
	exp, variant := sv.as.Experiment, sv.variant()
	if sv.duel != "" { // interleaved with a challenger: never inside an experiment
		exp, variant, teams = sv.duel, "interleaved", sv.teams
	}
	s.exp.Shown(impressions.Impression{RequestID: sv.id, Surface: sv.surface, UserID: sv.user, SessionID: sv.session,
		Experiment: exp, Variant: variant, Items: items, Teams: teams, Query: sv.query, Explored: sv.explored}, sv.unit)
}

// variant is the label the answer carries: "" outside experiments.
func (sv *served) variant() string {
	if sv.as.Experiment == "" {
		return ""
	}
	return sv.as.Variant
}

func recIDs(items []recommend.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

// StorefrontRecs serves a storefront row of a recommendation surface the
// way the API serves that surface (serveRecs): the shopper's experiment
// variant (its overrides, or the interleaving of two rankers), rules and
// ads, and the impression logged with the variant and each item's team.
// It returns the items, the request id the row's cards carry (clicks,
// carts and purchases are attributed through it) and the variant label
// ("" outside experiments).
func (s *Server) StorefrontRecs(r *http.Request, surface, user, session string, req recommend.Request, run func(recommend.Request) (*recommend.Answer, error)) ([]recommend.Item, string, string, error) {
	sv := s.serve(surface, user, session)
	ans, err := s.serveRecs(r, sv, user, req, run)
	if err != nil {
		return nil, "", "", err
	}
	return ans.Items, sv.id, sv.variant(), nil
}

// StorefrontSearch runs a storefront search the way GET /api/search does:
// the shopper's variant of a search experiment (mode, fusion), rules and
// ads, and the answer logged as an impression with its query (clicks on it
// are attributed, and its positions feed the position-bias fit). user is
// the visitor's id (anon-<session> for an anonymous one).
func (s *Server) StorefrontSearch(ctx context.Context, req search.Request, user string) (*SearchAnswer, error) {
	if s.search == nil {
		return nil, errors.New("api: no search routes")
	}
	sv := s.serve("search", user, "")
	sv.query = req.Query
	req = sv.search(req, s.search.ix.Config().Fusion)
	var set *rules.Set
	if s.merch != nil {
		set = s.merch.book.Set()
	}
	res, err := s.search.runReq(ctx, sv, req, user, "", set, s.merch != nil && s.merch.ads != nil)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(res.Items))
	for i, it := range res.Items {
		ids[i] = it.ID
	}
	s.shown(sv, ids, nil)
	res.Variant = sv.variant()
	return res, nil
}
