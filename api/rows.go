package api

import (
	"context"
	"net/http"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/recommend"
)

// addRowRoutes registers the rows a shop expects beside "recommended for
// you": buy it again, recently viewed, new arrivals, because you viewed X
// and complete your basket. Each takes the usual n, filters and diversity.
func (s *Server) addRowRoutes(svc *recommend.Service) {
	h := &rowHandlers{srv: s, svc: svc}
	s.Handle(Route{"GET", "/api/recommend/{user_id}/buy-again", Read, s.JSON(h.userRow(svc.BuyAgain))})
	s.Handle(Route{"GET", "/api/recommend/{user_id}/recently-viewed", Read, s.JSON(h.userRow(svc.RecentlyViewed))})
	s.Handle(Route{"GET", "/api/recommend/{user_id}/new-arrivals", Read, s.JSON(h.userRow(svc.NewArrivals))})
	s.Handle(Route{"GET", "/api/recommend/{user_id}/because-you-viewed", Read, s.JSON(h.becauseYouViewed)})
	s.Handle(Route{"POST", "/api/recommend/basket", Read, s.JSON(h.basket)})
}

type rowHandlers struct {
	srv *Server
	svc *recommend.Service
}

// userRow answers a UserRow from a per-user row of the service.
func (h *rowHandlers) userRow(row func(ctx context.Context, user string, req recommend.Request) (*recommend.Answer, error)) Func {
	return func(r *http.Request) (any, error) {
		req, err := RecommendRequest(r)
		if err != nil {
			return nil, err
		}
		user := r.PathValue("user_id")
		ans, err := h.srv.merch.recommend(r, "", "rows", user, req, func(req recommend.Request) (*recommend.Answer, error) {
			return row(r.Context(), user, req)
		})
		if err != nil {
			return nil, err
		}
		return UserRow{UserID: user, Items: ans.Items, Merch: ans.merch()}, nil
	}
}

// becauseYouViewed answers one row per recently viewed anchor (anchors=,
// 1..5, default 3) and, as Items, the rows interleaved, n at most.
func (h *rowHandlers) becauseYouViewed(r *http.Request) (any, error) {
	req, err := RecommendRequest(r)
	if err != nil {
		return nil, err
	}
	anchors, err := QueryInt(r.URL.Query(), "anchors", 3, 1, 5)
	if err != nil {
		return nil, err
	}
	user := r.PathValue("user_id")
	// rules and ads arrange the merged row (items) as one answer; each
	// anchor's row loses the items the rules hide or filter out
	var rows []recommend.AnchoredAnswer
	ans, err := h.srv.merch.recommend(r, "", "because_you_viewed", user, req, func(req recommend.Request) (*recommend.Answer, error) {
		var err error
		rows, err = h.svc.BecauseYouViewed(r.Context(), user, anchors, req)
		if err != nil {
			return nil, err
		}
		return &recommend.Answer{Items: interleave(rows, req.N+max(req.Room, 0))}, nil
	})
	if err != nil {
		return nil, err
	}
	for k := range rows {
		rows[k].Items = ans.keep(r.Context(), rows[k].Items, req.N)
	}
	return AnchoredRows{UserID: user, Items: ans.Items, Rows: nonNilRows(rows), Merch: ans.merch()}, nil
}

// interleave merges the rows in turn (the first item of each row, then
// the second, …) up to n items.
func interleave(rows []recommend.AnchoredAnswer, n int) []recommend.Item {
	merged := []recommend.Item{}
	for k := 0; len(merged) < n; k++ {
		added := false
		for _, row := range rows {
			if k < len(row.Items) && len(merged) < n {
				merged = append(merged, row.Items[k])
				added = true
			}
		}
		if !added {
			break
		}
	}
	return merged
}

// nonNilRows makes empty rows and row lists encode as [] rather than null.
func nonNilRows(rows []recommend.AnchoredAnswer) []recommend.AnchoredAnswer {
	if rows == nil {
		return []recommend.AnchoredAnswer{}
	}
	for k := range rows {
		if rows[k].Items == nil {
			rows[k].Items = []recommend.Item{}
		}
	}
	return rows
}

type basketBody struct {
	Items []string `json:"items"`
	// N is how many items to answer; absent or 0 keeps the query's n
	// (default 10).
	N int `json:"n,omitempty"`
}

// basket answers "complete your basket" for the cart's items; a basket
// with no known item is recommend.ErrEmptyBasket, a 404 (see ErrorOf).
func (h *rowHandlers) basket(r *http.Request) (any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var b basketBody
	if err := catalog.StrictDecode(body, &b); err != nil {
		p := catalog.ProblemFromJSON(0, err)
		return nil, BadRequest("basket body must be {\"items\":[\"id\",…],\"n\":5}: %s %s", p.Field, p.Problem)
	}
	if len(b.Items) == 0 {
		return nil, BadRequest("basket body needs at least one item id in \"items\"")
	}
	req, err := RecommendRequest(r)
	if err != nil {
		return nil, err
	}
	if b.N != 0 {
		if b.N < 1 || b.N > MaxN {
			return nil, BadRequest("n must be from 1 to %d", MaxN)
		}
		req.N = b.N
	}
	ans, err := h.srv.merch.recommend(r, "", "basket", "", req, func(req recommend.Request) (*recommend.Answer, error) {
		return h.svc.CompleteBasket(r.Context(), b.Items, req)
	})
	if err != nil {
		return nil, err
	}
	return BasketRecs{Items: ans.Items, Merch: ans.merch()}, nil
}
