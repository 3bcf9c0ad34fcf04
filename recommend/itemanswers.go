package recommend

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrUnknownItem is returned for an item id not in the catalogue.
var ErrUnknownItem = errors.New("unknown item")

// Similar answers "what is similar to this product": item relations
// (package related) blending behaviour, category, brand, attributes, text
// and the serving similar-items model, then popular items of the same leaf
// category. Each item's reason names the signal that placed it.
func (s *Service) Similar(ctx context.Context, itemID string, req Request) (*Answer, error) {
	src, ok := s.items.lookup(itemID)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownItem, itemID)
	}
	info := s.items.snapshot()
	f := req.Filter.compile(info, s.items.lookup)
	allow := func(i int32) bool { return i != src && f.allows(i) }
	pool := req.pool(5, 50)
	var cands []Item
	taken := map[string]bool{itemID: true}
	ans := &Answer{}
	ix, err := s.relatedIndex(ctx, itemID)
	if err != nil {
		return nil, err
	}
	hint, label := s.modelScores(src, info)
	hint = s.withImages(itemID, hint) // images.go: image similarity, when configured
	for _, r := range ix.SimilarWith(itemID, pool, s.allowID(allow), hint) {
		taken[r.ID] = true
		cands = append(cands, Item{ID: r.ID, Score: r.Score, Reason: r.Reason})
	}
	if label != "" && len(cands) > 0 {
		ans.Model = label
	}
	if len(cands) < pool {
		scores := make([]float32, len(info))
		s.ledger.popular(0, scores)
		if cat := info[src].leafCategory(); cat != "" {
			for _, c := range topN(scores, pool, func(i int32) bool { return allow(i) && hasPrefix(info[i].categories, cat) }, true) {
				if id := info[c.item].id; len(cands) < pool && !taken[id] {
					taken[id] = true
					cands = append(cands, Item{ID: id, Score: float64(c.score), Reason: "popular in " + cat})
				}
			}
		}
	}
	ans.Items = s.diversify(cands, req, info)
	return ans, nil
}

// allowID turns an item-index filter into an item-id filter.
func (s *Service) allowID(allow func(int32) bool) func(string) bool {
	return func(id string) bool {
		i, ok := s.items.lookup(id)
		return ok && allow(i)
	}
}

// Popular lists the most interacted-with items over a window back from the
// newest event (0 = all time).
func (s *Service) Popular(window time.Duration, req Request) *Answer {
	info := s.items.snapshot()
	f := req.Filter.compile(info, s.items.lookup)
	scores := make([]float32, len(info))
	s.ledger.popular(window, scores)
	reason := "popular"
	if window > 0 {
		reason = "popular in the last " + humanWindow(window)
	}
	return &Answer{Items: s.diversify(toItems(topN(scores, req.pool(5, 0), f.allows, true), info, reason), req, info)}
}

// Trending lists items whose recent activity grows fastest.
func (s *Service) Trending(req Request) *Answer {
	info := s.items.snapshot()
	f := req.Filter.compile(info, s.items.lookup)
	scores := make([]float32, len(info))
	s.ledger.trending(scores)
	items := toItems(topN(scores, req.pool(5, 0), f.allows, true), info, "trending")
	// too little grows: fall back to recent popularity, then (after a
	// quiet spell longer than the long window) to popularity over all time
	taken := map[string]bool{}
	for _, it := range items {
		taken[it.ID] = true
	}
	for _, fb := range []struct {
		window time.Duration
		reason string
	}{{s.cfg.TrendingLong, "popular recently"}, {0, "popular"}} {
		if len(items) >= req.want() {
			break
		}
		clear(scores)
		s.ledger.popular(fb.window, scores)
		for _, it := range toItems(topN(scores, max(req.N*2, req.want()), f.allows, true), info, fb.reason) {
			if !taken[it.ID] {
				taken[it.ID] = true
				items = append(items, it)
			}
		}
	}
	return &Answer{Items: s.diversify(items, req, info)}
}

// BoughtTogether lists the items that complete item in a basket: bought
// in the same baskets (session or order id, else one shopper's purchases
// close in time) more often than their popularity explains, bought by the
// same shoppers, or popular in the categories its buyers also buy —
// never a substitute of the item itself.
func (s *Service) BoughtTogether(ctx context.Context, itemID string, req Request) (*Answer, error) {
	src, ok := s.items.lookup(itemID)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownItem, itemID)
	}
	info := s.items.snapshot()
	f := req.Filter.compile(info, s.items.lookup)
	ix, err := s.relatedIndex(ctx, itemID)
	if err != nil {
		return nil, err
	}
	var out []Item
	for _, r := range ix.Complements(itemID, req.pool(5, 50), s.allowID(func(i int32) bool { return i != src && f.allows(i) })) {
		out = append(out, Item{ID: r.ID, Score: r.Score, Reason: r.Reason})
	}
	return &Answer{Items: s.diversify(out, req, info)}, nil
}

func toItems(list []scored, info []itemInfo, reason string) []Item {
	out := make([]Item, len(list))
	for k, c := range list {
		out[k] = Item{ID: info[c.item].id, Score: float64(c.score), Reason: reason}
	}
	return out
}

func humanWindow(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		if d == 24*time.Hour {
			return "day"
		}
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}
