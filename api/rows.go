package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/recommend"
)

// addRowRoutes registers the rows a shop expects beside "recommended for
// you": buy it again, recently viewed, new arrivals, because you viewed X
// and complete your basket. Each takes the usual n, filters and diversity.
func (s *Server) addRowRoutes(svc *recommend.Service) {
	h := &rowHandlers{svc: svc}
	s.Handle(Route{"GET", "/api/recommend/{user_id}/buy-again", Read, h.userRow(svc.BuyAgain)})
	s.Handle(Route{"GET", "/api/recommend/{user_id}/recently-viewed", Read, h.userRow(svc.RecentlyViewed)})
	s.Handle(Route{"GET", "/api/recommend/{user_id}/new-arrivals", Read, h.userRow(svc.NewArrivals)})
	s.Handle(Route{"GET", "/api/recommend/{user_id}/because-you-viewed", Read, h.becauseYouViewed})
	s.Handle(Route{"POST", "/api/recommend/basket", Read, h.basket})
}

type rowHandlers struct {
	svc *recommend.Service
}

// userRow answers {"user_id","items"} from a per-user row.
func (h *rowHandlers) userRow(row func(ctx context.Context, user string, req recommend.Request) (*recommend.Answer, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, ok := parseRequest(w, r)
		if !ok {
			return
		}
		user := r.PathValue("user_id")
		ans, err := row(r.Context(), user, req)
		if err != nil {
			WriteEngineError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]any{"user_id": user, "items": items(ans)})
	}
}

// becauseYouViewed answers one row per recently viewed anchor (anchors=,
// 1..5, default 3) and, as "items", the rows merged in turn.
func (h *rowHandlers) becauseYouViewed(w http.ResponseWriter, r *http.Request) {
	req, ok := parseRequest(w, r)
	if !ok {
		return
	}
	anchors, ok := IntParam(w, r, "anchors", 3, 1, 5)
	if !ok {
		return
	}
	user := r.PathValue("user_id")
	rows, err := h.svc.BecauseYouViewed(r.Context(), user, anchors, req)
	if err != nil {
		WriteEngineError(w, err)
		return
	}
	merged := []recommend.Item{}
	for k := 0; len(merged) < req.N; k++ {
		added := false
		for _, row := range rows {
			if k < len(row.Items) && len(merged) < req.N {
				merged = append(merged, row.Items[k])
				added = true
			}
		}
		if !added {
			break
		}
	}
	if rows == nil {
		rows = []recommend.AnchoredAnswer{}
	}
	for k := range rows {
		if rows[k].Items == nil {
			rows[k].Items = []recommend.Item{}
		}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"user_id": user, "items": merged, "rows": rows})
}

type basketBody struct {
	Items []string `json:"items"`
	N     int      `json:"n,omitempty"`
}

// basket answers "complete your basket" for the cart's items.
func (h *rowHandlers) basket(w http.ResponseWriter, r *http.Request) {
	body, ok := ReadBody(w, r)
	if !ok {
		return
	}
	var b basketBody
	if err := catalog.StrictDecode(body, &b); err != nil {
		p := catalog.ProblemFromJSON(0, err)
		WriteError(w, http.StatusBadRequest, "basket body must be {\"items\":[\"id\",…],\"n\":5}: "+p.Field+" "+p.Problem, nil)
		return
	}
	if len(b.Items) == 0 {
		WriteError(w, http.StatusBadRequest, "basket body needs at least one item id in \"items\"", nil)
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
	ans, err := h.svc.CompleteBasket(r.Context(), b.Items, req)
	if errors.Is(err, recommend.ErrEmptyBasket) {
		WriteError(w, http.StatusNotFound, err.Error()+": none of the ids is a known item", nil)
		return
	}
	if err != nil {
		WriteEngineError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"items": items(ans)})
}
