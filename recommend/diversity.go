package recommend

import "strings"

// diversify cuts cands to req.N. With req.Diversity > 0 it re-ranks by
// maximal marginal relevance: each next item maximises
// (1-d)·relevance − d·(similarity to the items already chosen), where
// relevance is rank-based and similarity comes from categories and brand
// (1 for the same leaf category, 0.5 for the same top-level category,
// +0.3 for the same brand, capped at 1).
func (s *Service) diversify(cands []Item, req Request, info []itemInfo) []Item {
	n := req.N
	if n <= 0 {
		n = 10
	}
	d := req.Diversity
	if d <= 0 || len(cands) <= 1 {
		if len(cands) > n {
			cands = cands[:n]
		}
		return cands
	}
	if d > 1 {
		d = 1
	}
	idx := make([]int32, len(cands))
	for k, c := range cands {
		idx[k], _ = s.items.lookup(c.ID)
	}
	chosen := make([]int, 0, n)
	used := make([]bool, len(cands))
	for len(chosen) < n && len(chosen) < len(cands) {
		best, bestV := -1, 0.0
		for k := range cands {
			if used[k] {
				continue
			}
			rel := 1 - float64(k)/float64(len(cands))
			maxSim := 0.0
			for _, j := range chosen {
				maxSim = max(maxSim, itemSimilarity(&info[idx[k]], &info[idx[j]]))
			}
			v := (1-d)*rel - d*maxSim
			if best < 0 || v > bestV {
				best, bestV = k, v
			}
		}
		used[best] = true
		chosen = append(chosen, best)
	}
	out := make([]Item, len(chosen))
	for k, j := range chosen {
		out[k] = cands[j]
	}
	return out
}

func itemSimilarity(a, b *itemInfo) float64 {
	sim := 0.0
	ca, cb := a.leafCategory(), b.leafCategory()
	switch {
	case ca != "" && ca == cb:
		sim = 1
	case ca != "" && cb != "" && topLevel(ca) == topLevel(cb):
		sim = 0.5
	}
	if a.brand != "" && strings.EqualFold(a.brand, b.brand) {
		sim += 0.3
	}
	return min(sim, 1)
}

func topLevel(c string) string {
	parts := strings.SplitN(c, "/", 3)
	if len(parts) >= 2 {
		return parts[0] + "/" + parts[1]
	}
	return parts[0]
}
