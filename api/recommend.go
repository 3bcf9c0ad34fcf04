package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/store"
)

// MaxN is the largest number of items one answer may hold.
const MaxN = 200

// AddRecommendRoutes registers the recommendation and model routes.
func (s *Server) AddRecommendRoutes(svc *recommend.Service, rt *recommend.Retrainer) {
	h := &recHandlers{srv: s, svc: svc, rt: rt}
	s.Handle(Route{"GET", "/api/recommend/{user_id}", Read, h.recommend})
	s.Handle(Route{"POST", "/api/recommend/session", Read, h.session})
	s.Handle(Route{"GET", "/api/items/{id}/similar", Read, h.similar})
	s.Handle(Route{"GET", "/api/items/{id}/bought-together", Read, h.boughtTogether})
	s.Handle(Route{"GET", "/api/popular", Read, h.popular})
	s.Handle(Route{"GET", "/api/trending", Read, h.trending})
	s.Handle(Route{"GET", "/api/models", Read, h.models})
	s.Handle(Route{"POST", "/api/models/{name}/rollback", Admin, h.rollback})
	s.Handle(Route{"POST", "/api/models/retrain", Admin, h.retrain})
}

type recHandlers struct {
	srv *Server
	svc *recommend.Service
	rt  *recommend.Retrainer
}

// parseRequest reads n, the filters and diversity from the query string.
// It answers 400 and returns false on a bad value.
func parseRequest(w http.ResponseWriter, r *http.Request) (recommend.Request, bool) {
	var req recommend.Request
	n, ok := IntParam(w, r, "n", 10, 1, MaxN)
	if !ok {
		return req, false
	}
	req.N = n
	q := r.URL.Query()
	req.Filter.Categories = q["category"]
	req.Filter.Brands = q["brand"]
	req.Filter.Exclude = q["exclude"]
	req.Filter.AvailableOnly = true
	if v := q.Get("available_only"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			WriteError(w, http.StatusBadRequest, fmt.Sprintf("available_only=%q must be true or false", v), nil)
			return req, false
		}
		req.Filter.AvailableOnly = b
	}
	for _, p := range []struct {
		name string
		dst  **float64
	}{{"min_price", &req.Filter.MinPrice}, {"max_price", &req.Filter.MaxPrice}} {
		if v := q.Get(p.name); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				WriteError(w, http.StatusBadRequest, fmt.Sprintf("%s=%q must be a number ≥ 0", p.name, v), nil)
				return req, false
			}
			*p.dst = &f
		}
	}
	if v := q.Get("diversity"); v != "" {
		d, err := strconv.ParseFloat(v, 64)
		if err != nil || d < 0 || d > 1 {
			WriteError(w, http.StatusBadRequest, fmt.Sprintf("diversity=%q must be a number from 0 to 1", v), nil)
			return req, false
		}
		req.Diversity = d
	}
	return req, true
}

func items(a *recommend.Answer) []recommend.Item {
	if a.Items == nil {
		return []recommend.Item{}
	}
	return a.Items
}

func (h *recHandlers) recommend(w http.ResponseWriter, r *http.Request) {
	req, ok := parseRequest(w, r)
	if !ok {
		return
	}
	user := r.PathValue("user_id")
	ans, err := h.svc.Recommend(r.Context(), user, req)
	if err != nil {
		WriteEngineError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"user_id": user, "items": items(ans), "model": ans.Model})
}

type sessionBody struct {
	Items []string `json:"items"`
	N     int      `json:"n,omitempty"`
}

func (h *recHandlers) session(w http.ResponseWriter, r *http.Request) {
	body, ok := ReadBody(w, r)
	if !ok {
		return
	}
	var b sessionBody
	if err := catalog.StrictDecode(body, &b); err != nil {
		p := catalog.ProblemFromJSON(0, err)
		WriteError(w, http.StatusBadRequest, "session body must be {\"items\":[\"id\",…],\"n\":10}: "+p.Field+" "+p.Problem, nil)
		return
	}
	req, ok := parseRequest(w, r)
	if !ok {
		return
	}
	if b.N != 0 {
		if b.N < 1 || b.N > MaxN {
			WriteError(w, http.StatusBadRequest, fmt.Sprintf("n must be from 1 to %d", MaxN), nil)
			return
		}
		req.N = b.N
	}
	ans, err := h.svc.Session(r.Context(), b.Items, req)
	if err != nil {
		WriteEngineError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"items": items(ans), "model": ans.Model})
}

func (h *recHandlers) itemAnswer(w http.ResponseWriter, r *http.Request, f func(id string, req recommend.Request) (*recommend.Answer, error)) {
	req, ok := parseRequest(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	ans, err := f(id, req)
	if errors.Is(err, recommend.ErrUnknownItem) {
		WriteError(w, http.StatusNotFound, err.Error(), nil)
		return
	}
	if err != nil {
		WriteEngineError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"item_id": id, "items": items(ans), "model": ans.Model})
}

func (h *recHandlers) similar(w http.ResponseWriter, r *http.Request) {
	h.itemAnswer(w, r, func(id string, req recommend.Request) (*recommend.Answer, error) {
		return h.svc.Similar(r.Context(), id, req)
	})
}

func (h *recHandlers) boughtTogether(w http.ResponseWriter, r *http.Request) {
	h.itemAnswer(w, r, func(id string, req recommend.Request) (*recommend.Answer, error) {
		return h.svc.BoughtTogether(r.Context(), id, req)
	})
}

// ParseWindow reads a window such as "7d", "24h" or "90m"; "" or "all" is 0 (all time).
func ParseWindow(v string) (time.Duration, error) {
	if v == "" || v == "all" {
		return 0, nil
	}
	if strings.HasSuffix(v, "d") {
		n, err := strconv.ParseFloat(strings.TrimSuffix(v, "d"), 64)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("window=%q: use a number of days like 7d, or a duration like 12h", v)
		}
		return time.Duration(n * 24 * float64(time.Hour)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("window=%q: use a number of days like 7d, or a duration like 12h", v)
	}
	return d, nil
}

func (h *recHandlers) popular(w http.ResponseWriter, r *http.Request) {
	req, ok := parseRequest(w, r)
	if !ok {
		return
	}
	win, err := ParseWindow(r.URL.Query().Get("window"))
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"items": items(h.svc.Popular(win, req)), "window": r.URL.Query().Get("window")})
}

func (h *recHandlers) trending(w http.ResponseWriter, r *http.Request) {
	req, ok := parseRequest(w, r)
	if !ok {
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"items": items(h.svc.Trending(req))})
}

func (h *recHandlers) models(w http.ResponseWriter, r *http.Request) {
	list, err := h.svc.Models(r.Context())
	if err != nil {
		WriteEngineError(w, err)
		return
	}
	if list == nil {
		list = []recommend.ModelInfo{}
	}
	resp := map[string]any{"models": list}
	if h.rt != nil {
		last, lerr, at := h.rt.Last()
		tr := map[string]any{"running": h.rt.Busy()}
		if !at.IsZero() {
			tr["last_run"] = at
			tr["last_results"] = last
			if lerr != nil {
				tr["last_error"] = lerr.Error()
			}
		}
		resp["training"] = tr
	}
	WriteJSON(w, http.StatusOK, resp)
}

func (h *recHandlers) rollback(w http.ResponseWriter, r *http.Request) {
	meta, err := h.svc.Rollback(r.Context(), r.PathValue("name"))
	switch {
	case errors.Is(err, recommend.ErrNoRollback):
		WriteError(w, http.StatusConflict, err.Error(), nil)
	case errors.Is(err, store.ErrNotFound):
		WriteError(w, http.StatusNotFound, err.Error(), nil)
	case err != nil:
		WriteEngineError(w, err)
	default:
		WriteJSON(w, http.StatusOK, map[string]any{"serving": meta})
	}
}

func (h *recHandlers) retrain(w http.ResponseWriter, r *http.Request) {
	if h.rt == nil {
		WriteError(w, http.StatusServiceUnavailable, "retraining is not configured on this server", nil)
		return
	}
	if h.rt.Busy() {
		WriteError(w, http.StatusConflict, recommend.ErrBusy.Error(), nil)
		return
	}
	// The run outlives the request; the server's lifetime bounds it.
	if !h.srv.Go(func() { h.rt.RunOnce(h.rt.Context()) }) {
		WriteError(w, http.StatusServiceUnavailable, "the server is shutting down: retrain after it restarts", nil)
		return
	}
	WriteJSON(w, http.StatusAccepted, map[string]string{"status": "started", "see": "GET /api/models"})
}
