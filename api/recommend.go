package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/store"
)

// AddRecommendRoutes registers the recommendation and model routes.
func (s *Server) AddRecommendRoutes(svc *recommend.Service, rt *recommend.Retrainer) {
	h := &recHandlers{srv: s, svc: svc, rt: rt}
	s.Handle(Route{"GET", "/api/recommend/{user_id}", Read, s.JSON(h.recommend)})
	s.Handle(Route{"POST", "/api/recommend/session", Read, s.JSON(h.session)})
	s.Handle(Route{"GET", "/api/items/{id}/similar", Read, s.JSON(h.similar)})
	s.Handle(Route{"GET", "/api/items/{id}/bought-together", Read, s.JSON(h.boughtTogether)})
	s.Handle(Route{"GET", "/api/popular", Read, s.JSON(h.popular)})
	s.Handle(Route{"GET", "/api/trending", Read, s.JSON(h.trending)})
	s.Handle(Route{"GET", "/api/models", Read, s.JSON(h.models)})
	s.Handle(Route{"POST", "/api/models/{name}/rollback", Admin, s.JSON(h.rollback)})
	s.Handle(Route{"POST", "/api/models/retrain", Admin, s.JSON(h.retrain)})
	s.addRowRoutes(svc)
}

type recHandlers struct {
	srv *Server
	svc *recommend.Service
	rt  *recommend.Retrainer
}

// RecommendRequest reads n, the filters and diversity of a recommendation
// route from the query string; a bad value is a 400 *Error.
func RecommendRequest(r *http.Request) (recommend.Request, error) {
	var req recommend.Request
	q := r.URL.Query()
	n, err := QueryInt(q, "n", 10, 1, MaxN)
	if err != nil {
		return req, err
	}
	req.N = n
	req.Filter.Categories = q["category"]
	req.Filter.Brands = q["brand"]
	req.Filter.Exclude = q["exclude"]
	req.Filter.AvailableOnly = true
	if v := q.Get("available_only"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return req, BadRequest("available_only=%q must be true or false", v)
		}
		req.Filter.AvailableOnly = b
	}
	if req.Filter.MinPrice, req.Filter.MaxPrice, err = PriceParams(q); err != nil {
		return req, err
	}
	if v := q.Get("diversity"); v != "" {
		d, err := strconv.ParseFloat(v, 64)
		if err != nil || !(d >= 0 && d <= 1) {
			return req, BadRequest("diversity=%q must be a number from 0 to 1", v)
		}
		req.Diversity = d
	}
	return req, nil
}

func items(a *recommend.Answer) []recommend.Item {
	if a.Items == nil {
		return []recommend.Item{}
	}
	return a.Items
}

// serveRecs serves a recommendation surface: the experiment's variant
// picks the model (or interleaves two rankers), then the merchandising
// rules and ads arrange the answer, which keeps the experiment's request
// id; the impression is logged with each item's interleaving team.
func (s *Server) serveRecs(r *http.Request, sv *served, user string, req recommend.Request, run func(recommend.Request) (*recommend.Answer, error)) (*merchAnswer, error) {
	var before []recommend.Item
	var teams []uint8
	ans, err := s.merch.recommend(r, sv.id, sv.surface, user, req, func(req recommend.Request) (*recommend.Answer, error) {
		a, t, err := sv.recommendAnswer(req, run)
		if err == nil {
			before, teams = a.Items, t
		}
		return a, err
	})
	if err != nil {
		return nil, err
	}
	if ans.Items == nil {
		ans.Items = []recommend.Item{}
	}
	s.shown(sv, recIDs(ans.Items), realignTeams(before, teams, ans.Items))
	return ans, nil
}

// realignTeams gives each item of after the interleaving team it had in
// before (rules and ads move, add and remove items): 0, no team, for an
// item the rankers did not place. nil without interleaving.
func realignTeams(before []recommend.Item, teams []uint8, after []recommend.Item) []uint8 {
	if teams == nil {
		return nil
	}
	team := make(map[string]uint8, len(before))
	for i, it := range before {
		if i < len(teams) {
			team[it.ID] = teams[i]
		}
	}
	out := make([]uint8, len(after))
	for i, it := range after {
		if !it.Sponsored {
			out[i] = team[it.ID]
		}
	}
	return out
}

func (h *recHandlers) recommend(r *http.Request) (any, error) {
	req, err := RecommendRequest(r)
	if err != nil {
		return nil, err
	}
	user := r.PathValue("user_id")
	if m := r.URL.Query().Get("model"); m != "" {
		if len(m) > 64 {
			return nil, BadRequest("model=%q: name a trained model (see GET /api/models)", m[:64])
		}
		req.Model = m // an experiment's variant overrides it
	}
	sv := h.srv.serve("recommend", user, r.URL.Query().Get("session_id"))
	ans, err := h.srv.serveRecs(r, sv, user, req, func(req recommend.Request) (*recommend.Answer, error) {
		return h.svc.Recommend(r.Context(), user, req)
	})
	if err != nil {
		return nil, err
	}
	return UserRecs{UserID: user, Items: ans.Items, Model: ans.Model, Merch: ans.merch(), Variant: sv.variant()}, nil
}

type sessionBody struct {
	Items []string `json:"items"`
	// N is how many items to answer; absent keeps the query's n (default
	// 10). Present, it must be from 1 to MaxN: 0 is an error, not 10.
	N *int `json:"n,omitempty"`
}

func (h *recHandlers) session(r *http.Request) (any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var b sessionBody
	if err := catalog.StrictDecode(body, &b); err != nil {
		p := catalog.ProblemFromJSON(0, err)
		return nil, BadRequest("session body must be {\"items\":[\"id\",…],\"n\":10}: %s %s", p.Field, p.Problem)
	}
	req, err := RecommendRequest(r)
	if err != nil {
		return nil, err
	}
	if b.N != nil {
		if *b.N < 1 || *b.N > MaxN {
			return nil, BadRequest("n must be from 1 to %d", MaxN)
		}
		req.N = *b.N
	}
	q := r.URL.Query()
	sv := h.srv.serve("session", q.Get("user_id"), q.Get("session_id"))
	ans, err := h.srv.serveRecs(r, sv, "", req, func(req recommend.Request) (*recommend.Answer, error) {
		return h.svc.Session(r.Context(), b.Items, req)
	})
	if err != nil {
		return nil, err
	}
	return SessionRecs{Items: ans.Items, Model: ans.Model, Merch: ans.merch(), Variant: sv.variant()}, nil
}

func (h *recHandlers) itemAnswer(r *http.Request, surface string, f func(id string, req recommend.Request) (*recommend.Answer, error)) (any, error) {
	req, err := RecommendRequest(r)
	if err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	sv := h.srv.serveQuery(surface, r)
	ans, err := h.srv.serveRecs(r, sv, r.URL.Query().Get("user_id"), req, func(req recommend.Request) (*recommend.Answer, error) {
		return f(id, req)
	})
	if err != nil {
		return nil, err // recommend.ErrUnknownItem is a 404
	}
	return ItemRecs{ItemID: id, Items: ans.Items, Model: ans.Model, Merch: ans.merch(), Variant: sv.variant()}, nil
}

func (h *recHandlers) similar(r *http.Request) (any, error) {
	return h.itemAnswer(r, "similar", func(id string, req recommend.Request) (*recommend.Answer, error) {
		return h.svc.Similar(r.Context(), id, req)
	})
}

func (h *recHandlers) boughtTogether(r *http.Request) (any, error) {
	return h.itemAnswer(r, "bought_together", func(id string, req recommend.Request) (*recommend.Answer, error) {
		return h.svc.BoughtTogether(r.Context(), id, req)
	})
}

func (h *recHandlers) popular(r *http.Request) (any, error) {
	req, err := RecommendRequest(r)
	if err != nil {
		return nil, err
	}
	win, err := ParseWindow(r.URL.Query().Get("window"))
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Msg: err.Error()}
	}
	sv := h.srv.serveQuery("popular", r)
	ans, err := h.srv.serveRecs(r, sv, r.URL.Query().Get("user_id"), req, func(req recommend.Request) (*recommend.Answer, error) {
		return h.svc.Popular(win, req), nil
	})
	if err != nil {
		return nil, err
	}
	return PopularRecs{Items: ans.Items, Window: r.URL.Query().Get("window"), Merch: ans.merch(), Variant: sv.variant()}, nil
}

func (h *recHandlers) trending(r *http.Request) (any, error) {
	req, err := RecommendRequest(r)
	if err != nil {
		return nil, err
	}
	sv := h.srv.serveQuery("trending", r)
	ans, err := h.srv.serveRecs(r, sv, r.URL.Query().Get("user_id"), req, func(req recommend.Request) (*recommend.Answer, error) {
		return h.svc.Trending(req), nil
	})
	if err != nil {
		return nil, err
	}
	return TrendingRecs{Items: ans.Items, Merch: ans.merch(), Variant: sv.variant()}, nil
}

func (h *recHandlers) models(r *http.Request) (any, error) {
	list, err := h.svc.Models(r.Context())
	if err != nil {
		return nil, err
	}
	if list == nil {
		list = []recommend.ModelInfo{}
	}
	resp := Models{Models: list}
	if h.rt != nil {
		last, lerr, at := h.rt.Last()
		tr := &Training{Running: h.rt.Busy()}
		if !at.IsZero() {
			tr.LastRun = &at
			tr.LastResults = last
			if lerr != nil {
				tr.LastError = lerr.Error()
			}
		}
		resp.Training = tr
	}
	return resp, nil
}

func (h *recHandlers) rollback(r *http.Request) (any, error) {
	meta, err := h.svc.Rollback(r.Context(), r.PathValue("name"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, NotFound(err.Error()) // says which model
	}
	if err != nil {
		return nil, err // store.ErrNoRollback is a 409
	}
	return Rollback{Serving: meta}, nil
}

func (h *recHandlers) retrain(r *http.Request) (any, error) {
	if h.rt == nil {
		return nil, Unavailable("retraining is not configured on this server", 0, nil)
	}
	if fwd := h.srv.fwd; fwd != nil {
		// in a cluster the holder of the training lease trains
		forwarded, replica, err := fwd(r.Context())
		if err != nil {
			return nil, Conflict(err.Error())
		}
		if forwarded {
			return WithStatus(http.StatusAccepted, RetrainStarted{Status: "started", See: "GET /api/models", Replica: replica}), nil
		}
	}
	if h.rt.Busy() {
		return nil, Conflict(recommend.ErrBusy.Error())
	}
	// The run outlives the request; the server's owner joins it.
	if !h.srv.Go(func() { h.rt.RunOnce(h.rt.Context()) }) {
		return nil, Unavailable("the server is shutting down: retrain after it restarts", 5*time.Second, nil)
	}
	return WithStatus(http.StatusAccepted, RetrainStarted{Status: "started", See: "GET /api/models"}), nil
}
