package recommend

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aisle-dev/aisle/store"
)

// attrSnapshot maps each user attribute value ("country=Germany") to the
// users holding it, read from the store's user list at most once per
// attrTTL (users are not announced to listeners, so a snapshot is the only
// way to know them).
type attrSnapshot struct {
	at    time.Time
	users map[string][]string

	mu     sync.Mutex
	groups map[string]*groupPop // by "\x00"-joined keys; nil entry = too few peers
}

const attrTTL = time.Minute

// minPeers is how many users must share a user's attributes before their
// popularity says more than the shop's.
const minPeers = 5

// attrKey is the canonical "name=value" of one attribute.
func attrKey(name string, v any) string {
	return strings.ToLower(name) + "=" + strings.ToLower(fmt.Sprint(v))
}

func (s *Service) attrUsers(ctx context.Context) (map[string][]string, error) {
	r := &s.rows
	r.attrMu.Lock()
	defer r.attrMu.Unlock()
	if r.attrCache != nil && time.Since(r.attrCache.at) < attrTTL {
		return r.attrCache.users, nil
	}
	snap := &attrSnapshot{at: time.Now(), users: map[string][]string{}}
	cursor := ""
	for {
		us, next, err := s.st.ListUsers(ctx, cursor, 1000)
		if err != nil {
			return nil, fmt.Errorf("list users for attribute popularity: %w", err)
		}
		for _, u := range us {
			for k, v := range u.Attributes {
				key := attrKey(k, v)
				snap.users[key] = append(snap.users[key], u.ID)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	r.attrCache = snap
	return snap.users, nil
}

// ColdStart answers a user with no history from what is known about them:
// the items most popular among users who share their attributes (country,
// segment, …; all of them when at least minPeers users share them all,
// else each attribute on its own, summed), before the shop's popularity.
// ok is false when the user has no attributes or too few peers, so the
// caller falls back to its usual chain.
func (s *Service) ColdStart(ctx context.Context, user string, req Request) (ans *Answer, ok bool, err error) {
	u, err := s.st.GetUser(ctx, user)
	if errors.Is(err, store.ErrNotFound) {
		return &Answer{}, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read user %q: %w", user, err)
	}
	return s.PopularAmong(ctx, user, u.Attributes, req)
}

// PopularAmong ranks items by their popularity among users who share
// attrs; see ColdStart. A peer's weight on an item counts as
// log(1+weight), so a few heavy buyers do not speak for the group. self is
// left out of the group only in the sense that it needs no history: a cold
// user adds nothing to it. Group popularity is cached with the attribute
// snapshot (at most attrTTL old).
func (s *Service) PopularAmong(ctx context.Context, self string, attrs map[string]any, req Request) (*Answer, bool, error) {
	if len(attrs) == 0 {
		return &Answer{}, false, nil
	}
	if _, err := s.attrUsers(ctx); err != nil {
		return nil, false, err
	}
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	slices.Sort(names)
	var keys, labels []string
	for _, k := range names {
		keys = append(keys, attrKey(k, attrs[k]))
		labels = append(labels, fmt.Sprintf("%s=%v", k, attrs[k]))
	}
	// All attributes together when enough users share them all, else each
	// on its own.
	var groups []*groupPop
	var groupLabels []string
	if g := s.groupPopularity(keys); g != nil {
		groups, groupLabels = []*groupPop{g}, []string{strings.Join(labels, ", ")}
	} else if len(keys) > 1 {
		for k, key := range keys {
			if g := s.groupPopularity([]string{key}); g != nil {
				groups = append(groups, g)
				groupLabels = append(groupLabels, labels[k])
			}
		}
	}
	if len(groups) == 0 {
		return &Answer{}, false, nil
	}
	info := s.items.snapshot()
	f := req.Filter.compile(info, s.items.lookup)
	scores := make([]float64, len(info))
	best := make([]int, len(info)) // group contributing most
	bestV := make([]float64, len(info))
	for g, gp := range groups {
		for i, v := range gp.share {
			if int(i) >= len(info) {
				continue
			}
			scores[i] += v
			if v > bestV[i] {
				bestV[i], best[i] = v, g
			}
		}
	}
	var out []Item
	for _, c := range topN64(scores, req.pool(5, 50), f.allows) {
		out = append(out, Item{ID: info[c.item].id, Score: float64(c.score), Reason: "popular with shoppers like you (" + groupLabels[best[c.item]] + ")"})
	}
	if len(out) == 0 {
		return &Answer{}, false, nil
	}
	return &Answer{Items: s.diversify(out, req, info)}, true, nil
}

// groupPop is the popularity of items among the users holding a set of
// attribute values: the sum of log(1+weight) over them, divided by their
// number (a share, so that small groups count as much as large ones).
type groupPop struct {
	share map[int32]float64
}

// groupPopularity returns the popularity among the users holding every one
// of keys, nil when fewer than minPeers do.
func (s *Service) groupPopularity(keys []string) *groupPop {
	r := &s.rows
	r.attrMu.Lock()
	snap := r.attrCache
	r.attrMu.Unlock()
	if snap == nil {
		return nil
	}
	id := strings.Join(keys, "\x00")
	snap.mu.Lock()
	defer snap.mu.Unlock()
	if g, ok := snap.groups[id]; ok {
		return g
	}
	count := map[string]int{}
	for _, key := range keys {
		for _, u := range snap.users[key] {
			count[u]++
		}
	}
	var members []string
	for u, c := range count {
		if c == len(keys) {
			members = append(members, u)
		}
	}
	var g *groupPop
	if len(members) >= minPeers {
		g = &groupPop{share: map[int32]float64{}}
		r.mu.RLock()
		for _, id := range members {
			if u := r.users[id]; u != nil {
				for i, w := range u.weight {
					g.share[i] += math.Log1p(float64(w))
				}
			}
		}
		r.mu.RUnlock()
		for i := range g.share {
			g.share[i] /= float64(len(members))
		}
	}
	if snap.groups == nil {
		snap.groups = map[string]*groupPop{}
	}
	snap.groups[id] = g
	return g
}

// topN64 is topN over float64 scores (positive only).
func topN64(scores []float64, n int, allow func(int32) bool) []scored {
	f := make([]float32, len(scores))
	for i, v := range scores {
		f[i] = float32(v)
	}
	return topN(f, n, allow, true)
}
