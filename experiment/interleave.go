package experiment

import (
	"hash/fnv"
	"math/rand/v2"
)

// TeamDraft interleaves two rankings into one of at most n items by team
// draft (Radlinski, Kurup and Joachims 2008): in each round a coin decides
// which team picks first, and each team adds its highest-ranked item not
// yet shown. teams[i] is the team (0 for a, 1 for b) that placed items[i];
// a click on it is credited to that team. seed makes the draft repeatable
// for one request.
func TeamDraft(a, b []string, n int, seed string) (items []string, teams []uint8) {
	h := fnv.New64a()
	h.Write([]byte(seed))
	rng := rand.New(rand.NewPCG(h.Sum64(), 0x9e3779b97f4a7c15))
	taken := make(map[string]bool, n)
	ia, ib := 0, 0
	next := func(list []string, i *int) (string, bool) {
		for *i < len(list) {
			id := list[*i]
			*i++
			if !taken[id] {
				return id, true
			}
		}
		return "", false
	}
	add := func(team uint8) bool {
		list, i := a, &ia
		if team == 1 {
			list, i = b, &ib
		}
		id, ok := next(list, i)
		if ok && len(items) < n {
			taken[id] = true
			items = append(items, id)
			teams = append(teams, team)
		}
		return ok
	}
	for len(items) < n {
		first := uint8(rng.IntN(2))
		okFirst := add(first)
		okSecond := len(items) < n && add(1-first)
		if !okFirst && !okSecond {
			break
		}
	}
	return items, teams
}

// Credit counts what the clicked (or bought) positions give each team:
// the team with more is the answer's winner (0 or 1), −1 for a tie.
func Credit(teams []uint8, clicked []int) (a, b int, winner int) {
	for _, p := range clicked {
		if p < 0 || p >= len(teams) {
			continue
		}
		if teams[p] == 0 {
			a++
		} else {
			b++
		}
	}
	switch {
	case a > b:
		return a, b, 0
	case b > a:
		return a, b, 1
	}
	return a, b, -1
}
