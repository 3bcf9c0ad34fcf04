// Package recommend turns trained models into answers: personalised
// recommendations with a fallback chain that never leaves a known catalogue
// empty, similar items, popular and trending lists, session and
// bought-together recommendations, filters and diversity. It follows every
// accepted change (as an engine.Listener), so a new event or a deleted item
// shows in the very next answer.
package recommend

import (
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aisle-dev/aisle/catalog"
)

// itemInfo is what filtering and explanations need of an item.
type itemInfo struct {
	id          string
	title       string
	description string
	attributes  map[string]any
	brand       string
	categories  []string
	price       float64 // NaN when unknown
	available   bool
	deleted     bool
	cat         int32 // id of leafCategory() in items.cats; -1 when none
}

// items is the in-memory catalogue the service filters against. Indices
// are stable for the life of the service (deleted items keep theirs).
type items struct {
	mu     sync.RWMutex
	index  map[string]int32
	info   []itemInfo
	catIDs map[string]int32 // leaf category → id, so hot loops compare ints
	// shared is set when a snapshot of info was handed out: the next
	// in-place change copies the table first, so readers never see a write.
	shared atomic.Bool
}

// unshare copies the table before an in-place change if a snapshot may
// be reading it; the caller holds s.mu for writing.
func (s *items) unshare() {
	if s.shared.Swap(false) {
		s.info = slices.Clone(s.info)
	}
}

func newItems() *items { return &items{index: map[string]int32{}, catIDs: map[string]int32{}} }

// numCats is the number of distinct leaf categories seen.
func (s *items) numCats() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.catIDs)
}

func infoOf(it catalog.Item) itemInfo {
	p := math.NaN()
	if it.Price != nil {
		p = *it.Price
	}
	return itemInfo{id: it.ID, title: it.Title, description: it.Description, attributes: it.Attributes, brand: it.Brand, categories: it.Categories, price: p, available: it.Available}
}

// upsert adds or replaces items and returns their indices.
func (s *items) upsert(its []catalog.Item) []int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.info) == 0 && len(its) > 1 {
		// a start's whole catalogue: sized once, not grown and rehashed
		// item by item
		s.info = make([]itemInfo, 0, len(its))
		s.index = make(map[string]int32, len(its))
	}
	out := make([]int32, len(its))
	for k, it := range its {
		i, ok := s.index[it.ID]
		if !ok {
			i = int32(len(s.info))
			s.index[it.ID] = i
			s.info = append(s.info, itemInfo{})
		}
		if ok {
			s.unshare()
		}
		info := infoOf(it)
		info.cat = -1
		if c := info.leafCategory(); c != "" {
			id, ok := s.catIDs[c]
			if !ok {
				id = int32(len(s.catIDs))
				s.catIDs[c] = id
			}
			info.cat = id
		}
		s.info[i] = info
		out[k] = i
	}
	return out
}

func (s *items) remove(ids []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unshare()
	for _, id := range ids {
		if i, ok := s.index[id]; ok {
			s.info[i].deleted = true
		}
	}
}

// number is id's item number, deleted or not.
func (s *items) number(id string) (int32, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.index[id]
	return i, ok
}

func (s *items) lookup(id string) (int32, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.index[id]
	if ok && s.info[i].deleted {
		return i, false
	}
	return i, ok
}

func (s *items) len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.info)
}

// snapshot returns the current item table; entries are replaced, never
// mutated, so the caller may read it without the lock.
func (s *items) snapshot() []itemInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.shared.Store(true)
	return s.info[:len(s.info):len(s.info)]
}

// Filter restricts which items an answer may contain.
type Filter struct {
	Categories    []string // prefix match on category paths; any of them
	Brands        []string // exact, case-insensitive; any of them
	MinPrice      *float64
	MaxPrice      *float64
	Exclude       []string // item ids
	AvailableOnly bool
}

// compiled is a Filter ready to test item indices against a snapshot.
type compiled struct {
	f    Filter
	info []itemInfo
	// the excluded items: scanned while a few (allows runs for every
	// candidate that beats the top list's floor, and a merchandising
	// rule's hidden items are usually one or two), hashed when more
	few     []int32
	fewBuf  [8]int32
	exclude map[int32]bool
}

func (f Filter) compile(info []itemInfo, index func(string) (int32, bool)) *compiled {
	c := &compiled{f: f, info: info}
	c.few = c.fewBuf[:0]
	for _, id := range f.Exclude {
		i, ok := index(id)
		switch {
		case !ok:
		case c.exclude != nil:
			c.exclude[i] = true
		case len(c.few) < len(c.fewBuf):
			c.few = append(c.few, i)
		default:
			c.exclude = make(map[int32]bool, len(f.Exclude))
			for _, x := range c.few {
				c.exclude[x] = true
			}
			c.exclude[i], c.few = true, nil
		}
	}
	return c
}

// excluded reports whether the filter excludes item i by id.
func (c *compiled) excluded(i int32) bool {
	if c.exclude != nil {
		return c.exclude[i]
	}
	return slices.Contains(c.few, i)
}

// allows reports whether item i may be shown.
func (c *compiled) allows(i int32) bool {
	if int(i) >= len(c.info) || i < 0 {
		return false
	}
	it := &c.info[i]
	if it.deleted || (c.f.AvailableOnly && !it.available) || c.excluded(i) {
		return false
	}
	if c.f.MinPrice != nil && !(it.price >= *c.f.MinPrice) {
		return false
	}
	if c.f.MaxPrice != nil && !(it.price <= *c.f.MaxPrice) {
		return false
	}
	if len(c.f.Categories) > 0 {
		ok := false
		for _, p := range c.f.Categories {
			if hasPrefix(it.categories, p) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(c.f.Brands) > 0 {
		ok := false
		for _, b := range c.f.Brands {
			ok = ok || strings.EqualFold(b, it.brand)
		}
		if !ok {
			return false
		}
	}
	return true
}

func hasPrefix(cats []string, prefix string) bool {
	it := catalog.Item{Categories: cats}
	return it.HasCategoryPrefix(prefix)
}

// leafCategory is an item's first category path, the unit of category
// affinity and of diversity without embeddings.
func (it *itemInfo) leafCategory() string {
	if len(it.categories) == 0 {
		return ""
	}
	return it.categories[0]
}

// topCategories returns the most frequent leaf categories among items.
func topCategories(info []itemInfo, idx []int32, n int) []string {
	count := map[string]int{}
	for _, i := range idx {
		if c := info[i].leafCategory(); c != "" {
			count[c]++
		}
	}
	cats := make([]string, 0, len(count))
	for c := range count {
		cats = append(cats, c)
	}
	sort.Slice(cats, func(a, b int) bool {
		if count[cats[a]] != count[cats[b]] {
			return count[cats[a]] > count[cats[b]]
		}
		return cats[a] < cats[b]
	})
	if len(cats) > n {
		cats = cats[:n]
	}
	return cats
}
