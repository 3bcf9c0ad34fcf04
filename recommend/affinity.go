package recommend

import (
	"context"
	"math"
	"slices"
	"strings"
)

// Affinity returns the user's interest in an item, in [0, 1]: the weighted
// share of their recent history in the item's category, plus half the
// share of its brand, or the cosine of the user's and the item's vectors
// in a serving factor model when that is larger, capped at 1. Search uses
// it to personalise ranking
// within bounds; a user without history gets nil.
func (s *Service) Affinity(ctx context.Context, user string) (func(itemID string) float64, error) {
	if user == "" || !s.Personalized(user) {
		return nil, nil
	}
	h, err := s.userHistory(ctx, user)
	if err != nil || len(h.items) == 0 {
		return nil, err
	}
	info := s.items.snapshot()
	cats, brands := map[string]float64{}, map[string]float64{}
	var total float64
	for k, i := range h.items {
		w := float64(h.weights[k])
		total += w
		if c := info[i].leafCategory(); c != "" {
			cats[c] += w
		}
		if b := strings.ToLower(info[i].brand); b != "" {
			brands[b] += w
		}
	}
	if total <= 0 {
		return nil, nil
	}
	emb := s.embeddingAffinity(user, h)
	return func(itemID string) float64 {
		i, ok := s.items.lookup(itemID)
		if !ok || int(i) >= len(info) {
			return 0
		}
		a := cats[info[i].leafCategory()]/total + 0.5*brands[strings.ToLower(info[i].brand)]/total
		if emb != nil {
			a = max(a, emb(i))
		}
		return min(a, 1)
	}, nil
}

// embeddingAffinity returns the cosine (negative → 0) of the user's vector
// and an item's vector in the primary model (or another serving factor
// model), the user's vector folded in from h when the model does not know
// them; nil without such a model.
func (s *Service) embeddingAffinity(user string, h *history) func(item int32) float64 {
	set := s.models.Load()
	sm := set.primary
	if _, ok := sm.embedder(); !ok {
		sm = nil
		names := make([]string, 0, len(set.byName))
		for n := range set.byName {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			if _, ok := set.byName[n].embedder(); ok {
				sm = set.byName[n]
				break
			}
		}
	}
	if sm == nil {
		return nil
	}
	ue, _ := sm.embedder()
	uid := int32(-1)
	if u, ok := s.userIndex(sm, user); ok {
		uid = u
	}
	q, ok := sm.query(uid, h)
	if !ok {
		return nil
	}
	dim, vecs := ue.ItemVectors()
	u := make([]float32, dim)
	if dim == 0 || !ue.UserVector(q, u) {
		return nil
	}
	var un float64
	for _, x := range u {
		un += float64(x) * float64(x)
	}
	if un == 0 {
		return nil
	}
	un = math.Sqrt(un)
	return func(i int32) float64 {
		if int(i) >= len(sm.toModel) || sm.toModel[i] < 0 {
			return 0
		}
		v := vecs[int(sm.toModel[i])*dim : int(sm.toModel[i]+1)*dim]
		var dot, vn float64
		for k, x := range v {
			dot += float64(x) * float64(u[k])
			vn += float64(x) * float64(x)
		}
		if vn == 0 {
			return 0
		}
		return max(0, dot/(un*math.Sqrt(vn)))
	}
}

// popularitySnapshot is the all-time popularity of every item, rebuilt at
// most once per popularityTTL.
