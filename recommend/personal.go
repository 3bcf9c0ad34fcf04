package recommend

import (
	"cmp"
	"context"
	"math"
	"slices"

	"github.com/aisle-dev/aisle/internal/topk"
)

// Item is one recommended item.
type Item struct {
	ID     string  `json:"id"`
	Score  float64 `json:"score"`
	Reason string  `json:"reason"`
	// Sponsored marks an ad placed by the ad server; Pinned an item a
	// merchandising rule pinned to its position.
	Sponsored bool `json:"sponsored,omitempty"`
	Pinned    bool `json:"pinned,omitempty"`
}

// Request is a recommendation request.
type Request struct {
	N         int
	Filter    Filter
	Diversity float64 // 0..1; 0 = pure relevance
	// Model, when set, names the trained model that ranks instead of the
	// primary one (an experiment's variant); a name not serving falls back
	// to the primary model. "popular" serves the popularity model.
	Model string
	// Room asks for up to Room more items after the first N, taken from
	// the same candidates (the candidate pools and diversification are
	// sized by N, and at least N+Room): the merchandising rules' room for
	// items to move up or replace filtered ones. The first N items are
	// the answer without Room; with no diversity the N+Room items are
	// the answer for N+Room.
	Room int
	// Fallback, when set, is the fallback chain that fills what the model
	// leaves short (a shopper it does not know, a filter it cannot fill),
	// in order, from FallbackSteps; nil: all of them in that order (an
	// experiment's variant sets it; unknown names are skipped).
	Fallback []string
}

// FallbackSteps are the steps of the fallback chain, in the default
// order: trending items, the popular items of the shopper's two main
// categories, popular items, and the newest items of the catalogue.
var FallbackSteps = []string{"trending", "popular_in_category", "popular", "new"}

// want is how many items the answer may have: N plus the room.
func (r *Request) want() int { return r.N + max(r.Room, 0) }

// pool is the number of candidates an answer considers: k·N (at least
// floor), and at least N+Room.
func (r *Request) pool(k, floor int) int { return max(r.N*k, floor, r.want()) }

// Answer is a list of items and what produced it.
type Answer struct {
	Items []Item `json:"items"`
	Model string `json:"model,omitempty"` // "name@version" of the ranking model, when one ranked
}

// history is what a request knows of a user (or a session), mapped to
// service item indices.
type history struct {
	// items and weights are the recent interest (oldest first), weighted
	// by type and recency, for category affinity and fallbacks.
	items   []int32
	weights []float32
	// whole is the user's whole history (oldest first) with the summed
	// event weight of each item in wholeRaw; the model is queried with it,
	// weighed as the model's validation chose. nil for sessions, whose
	// model query is items/weights.
	whole    []int32
	wholeRaw []float32
	// wholeLast is the time (Unix seconds) of the newest event of each
	// whole-history item, to tell what happened after a model was trained.
	wholeLast []int64
	exclude   map[int32]bool
}

// maxModelHistory bounds the items a model query carries: the newest ones.
const maxModelHistory = 2000

// userHistory reads the user's history from memory: never a scan of the
// event log, whatever its length.
func (s *Service) userHistory(_ context.Context, user string) (*history, error) {
	entries, gone := s.profiles.of(user)
	return s.historyOf(entries, gone), nil
}

// historyOf builds a history from a user's profile entries (oldest first)
// and the items excluded beyond the history's bound.
func (s *Service) historyOf(entries []profileEntry, gone []int32) *history {
	h := &history{exclude: make(map[int32]bool, len(gone))}
	for _, it := range gone {
		h.exclude[it] = true
	}
	var newest int64
	for _, e := range entries {
		newest = max(newest, e.last)
		if e.excluded {
			h.exclude[e.item] = true
		}
	}
	from := max(0, len(entries)-maxModelHistory)
	for _, e := range entries[from:] {
		if e.weight > 0 {
			h.whole = append(h.whole, e.item)
			h.wholeRaw = append(h.wholeRaw, e.weight)
			h.wholeLast = append(h.wholeLast, e.last)
		}
	}
	from = max(0, len(entries)-s.cfg.HistoryLen)
	for k := from; k < len(entries); k++ {
		e := entries[k]
		w := float64(e.weight)
		if w <= 0 {
			continue
		}
		if s.cfg.RecencyHalfLife > 0 {
			w *= math.Exp2(-float64(len(entries)-1-k) / s.cfg.RecencyHalfLife) // newer items follow this one
		}
		if s.cfg.TimeHalfLife > 0 {
			w *= math.Exp2(-float64(newest-e.last) / s.cfg.TimeHalfLife.Seconds())
		}
		if w < 1e-6 {
			continue
		}
		h.items = append(h.items, e.item)
		h.weights = append(h.weights, float32(w))
	}
	return h
}

// Recommend answers "what should this user see next".
func (s *Service) Recommend(ctx context.Context, user string, req Request) (*Answer, error) {
	if !s.Personalized(user) {
		return s.recommendFor("", &history{exclude: map[int32]bool{}}, req), nil
	}
	h, err := s.userHistory(ctx, user)
	if err != nil {
		return nil, err
	}
	if len(h.items) == 0 && len(h.exclude) == 0 && !s.knownToPrimary(user) {
		// nothing of theirs is known but perhaps who they are: users who
		// share their attributes seed the first answer
		if ans, ok, err := s.ColdStart(ctx, user, req); err != nil {
			return nil, err
		} else if ok && len(ans.Items) > 0 {
			return ans, nil
		}
	}
	return s.recommendFor(user, h, req), nil
}

// knownToPrimary reports whether the primary model has a vector for user.
func (s *Service) knownToPrimary(user string) bool {
	sm := s.models.Load().primary
	if sm == nil {
		return false
	}
	_, ok := sm.users[user]
	return ok
}

// Session answers for an anonymous session from the items it touched
// (oldest first).
func (s *Service) Session(ctx context.Context, itemIDs []string, req Request) (*Answer, error) {
	h := &history{exclude: map[int32]bool{}}
	for _, id := range itemIDs {
		if i, ok := s.items.lookup(id); ok {
			h.items = append(h.items, i)
			h.weights = append(h.weights, 1)
			h.exclude[i] = true
		}
	}
	return s.recommendFor("", h, req), nil
}

func (s *Service) recommendFor(user string, h *history, req Request) *Answer {
	info := s.items.snapshot()
	f := req.Filter.compile(info, s.items.lookup)
	allow := func(i int32) bool { return !h.exclude[i] && f.allows(i) }
	pool := req.pool(5, 50)
	var cands []Item
	taken := map[string]bool{}
	ans := &Answer{}
	ms := s.models.Load()
	sm := ms.primary
	if named, ok := ms.byName[req.Model]; ok && req.Model != "" {
		sm = named
	}
	if sm != nil {
		uidx, known := s.userIndex(sm, user)
		hasHistory := len(h.items) > 0 || len(h.whole) > 0
		if sm.index != nil && (known || hasHistory) {
			reason := "model:" + sm.label()
			top := sm.top(uidx, h, pool, allow)
			s.rerankAffinity(top, info, h)
			for _, c := range top {
				cands = append(cands, Item{ID: info[c.item].id, Score: float64(c.score), Reason: reason})
				taken[info[c.item].id] = true
			}
			if len(top) > 0 {
				ans.Model = sm.label()
			}
		} else if known || hasHistory {
			scores := sm.score(uidx, h, len(info))
			if scores != nil {
				s.blendAffinity(scores, info, h)
				reason := "model:" + sm.label()
				if !known {
					reason += " (from recent events)"
				}
				for _, c := range topN(scores, pool, allow, true) {
					cands = append(cands, Item{ID: info[c.item].id, Score: float64(c.score), Reason: reason})
					taken[info[c.item].id] = true
				}
				ans.Model = sm.label()
			}
		}
	}
	if len(cands) < pool {
		cands = s.fallbacks(cands, taken, info, h, allow, pool, req.Fallback)
	}
	ans.Items = s.diversify(cands, req, info)
	return ans
}

// fallbacks fills cands up to n with the steps of chain (nil:
// FallbackSteps): trending, popular in the user's two main categories,
// popular, and the newest items of a catalogue nobody touched yet.
func (s *Service) fallbacks(cands []Item, taken map[string]bool, info []itemInfo, h *history, allow func(int32) bool, n int, chain []string) []Item {
	add := func(list []scored, reason string) {
		for _, c := range list {
			if len(cands) >= n {
				return
			}
			id := info[c.item].id
			if taken[id] {
				continue
			}
			taken[id] = true
			cands = append(cands, Item{ID: id, Score: float64(c.score), Reason: reason})
		}
	}
	if chain == nil {
		chain = FallbackSteps
	}
	var popular []float32 // summed once for both popular steps
	popularScores := func() []float32 {
		if popular == nil {
			popular = make([]float32, len(info))
			s.ledger.popular(0, popular)
		}
		return popular
	}
	for _, step := range chain {
		if len(cands) >= n {
			break
		}
		switch step {
		case "trending":
			scores := make([]float32, len(info))
			s.ledger.trending(scores)
			add(topN(scores, n, allow, true), "trending")
		case "popular_in_category":
			scores := popularScores()
			for _, cat := range topCategories(info, h.items, 2) {
				inCat := func(i int32) bool { return allow(i) && hasPrefix(info[i].categories, cat) }
				add(topN(scores, n, inCat, true), "popular in "+cat)
			}
		case "popular":
			add(topN(popularScores(), n, allow, true), "popular")
		case "new": // a catalogue nobody touched yet: newest items first
			rest := make([]float32, len(info))
			for i := range rest {
				rest[i] = float32(i)
			}
			add(topN(rest, n, allow, false), "new in catalogue")
		}
	}
	return cands
}

// blendAffinity mixes the user's recent category interest into model
// scores: final = (1-β)·min-max-normalised score + β·(weighted share of the
// history in the item's category).
func (s *Service) blendAffinity(scores []float32, info []itemInfo, h *history) {
	s.blendWith(scores, info, info, h)
}

// blendWith blends into scores (one per entry of cand) the category shares
// of h, whose items index hist.
func (s *Service) blendWith(scores []float32, cand, hist []itemInfo, h *history) {
	beta := float32(s.cfg.AffinityBoost)
	if beta <= 0 || len(h.items) == 0 {
		return
	}
	// Category shares of the recent history, weighted like the history
	// itself (type and recency), indexed by category id.
	share := make([]float32, s.items.numCats())
	var total float32
	for k, i := range h.items {
		total += h.weights[k]
		if c := hist[i].cat; c >= 0 && int(c) < len(share) {
			share[c] += h.weights[k]
		}
	}
	if total <= 0 {
		return
	}
	for c := range share {
		share[c] /= total
	}
	// Normalise scores to [0, 1] by min-max over finite values.
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range scores {
		if !math.IsInf(float64(v), 0) && !math.IsNaN(float64(v)) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	span := hi - lo
	if span <= 0 {
		span = 1
	}
	for i, v := range scores {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), -1) {
			continue
		}
		a := float32(0)
		if i < len(cand) {
			if c := cand[i].cat; c >= 0 && int(c) < len(share) {
				a = share[c]
			}
		}
		scores[i] = (1-beta)*(v-lo)/span + beta*a
	}
}

// rerankAffinity applies the category blend of blendAffinity to a
// candidate list retrieved from an index, and re-sorts it.
func (s *Service) rerankAffinity(top []scored, info []itemInfo, h *history) {
	if len(top) == 0 || s.cfg.AffinityBoost <= 0 || len(h.items) == 0 {
		return
	}
	scores := make([]float32, len(top))
	for k, c := range top {
		scores[k] = c.score
	}
	sub := make([]itemInfo, len(top))
	for k, c := range top {
		sub[k] = info[c.item]
	}
	// Map the history into the candidate space only for category shares.
	hh := &history{items: h.items, weights: h.weights}
	s.blendWith(scores, sub, info, hh)
	for k := range top {
		top[k].score = scores[k]
	}
	slices.SortFunc(top, func(a, b scored) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(a.item, b.item)
	})
}

// topN returns the n best allowed items by score, best first, ties by the
// lower index (topk.Select). With positive, only scores > 0 count.
func topN(scores []float32, n int, allow func(int32) bool, positive bool) []scored {
	hits := topk.Select(scores, n, allow, positive)
	out := make([]scored, len(hits))
	for k, h := range hits {
		out[k] = scored{h.Index, h.Score}
	}
	return out
}
