package search

import (
	"slices"
	"sort"
	"strings"
)

// sortedList is a string dictionary kept sorted for prefix and fuzzy
// lookups while it grows: new keys go to an unsorted tail that is merged
// in (tidy) after each batch of writes once it gets long, so an insert never re-sorts the whole list.
// Not safe for concurrent use: the Index lock guards it.
type sortedList struct {
	keys  []string // sorted
	vals  []uint32
	pendK []string
	pendV []uint32

	// rank, when set, orders entries for best (lower is better; ties in
	// key order). It is evaluated when the tail is merged in.
	rank  func(k string, v uint32) int32
	ranks []int32 // rank of keys[i] at the last merge
	tree  []int32 // tournament tree over ranks: tree[1] is the best key index; -1 empty
	size  int     // leaves of tree (a power of two)
}

func (l *sortedList) add(k string, v uint32) {
	l.pendK = append(l.pendK, k)
	l.pendV = append(l.pendV, v)
}

// tidy merges the tail once it is long enough to slow lookups down.
func (l *sortedList) tidy() {
	if len(l.pendK) > 1024 {
		l.merge()
	}
}

// merge sorts the tail into the list.
func (l *sortedList) merge() {
	if len(l.pendK) == 0 {
		return
	}
	idx := make([]int, len(l.pendK))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return l.pendK[idx[a]] < l.pendK[idx[b]] })
	keys := make([]string, 0, len(l.keys)+len(idx))
	vals := make([]uint32, 0, len(l.keys)+len(idx))
	i, j := 0, 0
	for i < len(l.keys) || j < len(idx) {
		if j == len(idx) || (i < len(l.keys) && l.keys[i] <= l.pendK[idx[j]]) {
			keys = append(keys, l.keys[i])
			vals = append(vals, l.vals[i])
			i++
		} else {
			keys = append(keys, l.pendK[idx[j]])
			vals = append(vals, l.pendV[idx[j]])
			j++
		}
	}
	l.keys, l.vals = keys, vals
	l.pendK, l.pendV = l.pendK[:0], l.pendV[:0]
	l.buildTree()
}

// buildTree ranks the sorted keys and builds the tournament tree.
func (l *sortedList) buildTree() {
	if l.rank == nil {
		return
	}
	l.ranks = l.ranks[:0]
	for i, k := range l.keys {
		l.ranks = append(l.ranks, l.rank(k, l.vals[i]))
	}
	l.size = 1
	for l.size < len(l.keys) {
		l.size *= 2
	}
	l.tree = slices.Grow(l.tree[:0], 2*l.size)[:2*l.size]
	for i := range l.size {
		l.tree[l.size+i] = -1
		if i < len(l.keys) {
			l.tree[l.size+i] = int32(i)
		}
	}
	for v := l.size - 1; v >= 1; v-- {
		l.tree[v] = l.better(l.tree[2*v], l.tree[2*v+1])
	}
}

// better returns the better of two key indexes (-1 is none).
func (l *sortedList) better(a, b int32) int32 {
	switch {
	case a < 0:
		return b
	case b < 0:
		return a
	case l.ranks[b] < l.ranks[a]:
		return b
	}
	return a // equal ranks: a is the smaller index when a comes from the left
}

// best calls fn for the sorted-part entries starting with p in rank order
// (as of the last merge) until fn returns false; the work per entry is
// O(log n), whatever the number of entries under p. Entries still in the
// tail are not visited: see pending. Without a rank it visits nothing.
func (l *sortedList) best(p string, fn func(k string, v uint32) bool) {
	if l.tree == nil || len(l.ranks) != len(l.keys) {
		return
	}
	lo := sort.SearchStrings(l.keys, p)
	hi := lo + sort.Search(len(l.keys)-lo, func(i int) bool { return !strings.HasPrefix(l.keys[lo+i], p) })
	if lo >= hi {
		return
	}
	// candidates: (best key index, tree node it is the best of)
	type cand struct{ idx, node int32 }
	var h []cand
	less := func(a, b cand) bool {
		if l.ranks[a.idx] != l.ranks[b.idx] {
			return l.ranks[a.idx] < l.ranks[b.idx]
		}
		return a.idx < b.idx
	}
	push := func(node int32) {
		idx := l.tree[node]
		if idx < 0 {
			return
		}
		h = append(h, cand{idx, node})
		for i := len(h) - 1; i > 0; {
			up := (i - 1) / 2
			if !less(h[i], h[up]) {
				break
			}
			h[i], h[up] = h[up], h[i]
			i = up
		}
	}
	pop := func() cand {
		top := h[0]
		h[0] = h[len(h)-1]
		h = h[:len(h)-1]
		for i := 0; ; {
			c := 2*i + 1
			if c >= len(h) {
				break
			}
			if c+1 < len(h) && less(h[c+1], h[c]) {
				c++
			}
			if !less(h[c], h[i]) {
				break
			}
			h[i], h[c] = h[c], h[i]
			i = c
		}
		return top
	}
	// the canonical nodes covering [lo, hi)
	for a, b := int32(lo+l.size), int32(hi+l.size); a < b; a, b = a/2, b/2 {
		if a&1 == 1 {
			push(a)
			a++
		}
		if b&1 == 1 {
			b--
			push(b)
		}
	}
	for len(h) > 0 {
		c := pop()
		if !fn(l.keys[c.idx], l.vals[c.idx]) {
			return
		}
		// the rest of c.node: the siblings along the path down to the leaf
		leaf := int32(l.size) + c.idx
		depth := 0
		for v := leaf; v > c.node; v /= 2 {
			depth++
		}
		for d := depth - 1; d >= 0; d-- {
			push((leaf >> uint(d)) ^ 1) // sibling of the path node at height d
		}
	}
}

// pending calls fn for every tail entry starting with p until fn returns false.
func (l *sortedList) pending(p string, fn func(k string, v uint32) bool) {
	for k, key := range l.pendK {
		if strings.HasPrefix(key, p) && !fn(key, l.pendV[k]) {
			return
		}
	}
}

// prefix calls fn for every entry whose key starts with p (sorted part in
// order, then the tail) until fn returns false.
func (l *sortedList) prefix(p string, fn func(k string, v uint32) bool) {
	i := sort.SearchStrings(l.keys, p)
	for ; i < len(l.keys) && strings.HasPrefix(l.keys[i], p); i++ {
		if !fn(l.keys[i], l.vals[i]) {
			return
		}
	}
	for k, key := range l.pendK {
		if strings.HasPrefix(key, p) && !fn(key, l.pendV[k]) {
			return
		}
	}
}

// fuzzy calls fn for every key within maxEdits Levenshtein edits (on bytes)
// of q. It walks the sorted keys as an implicit trie: the dynamic-programming
// row of a shared prefix is reused, and every key under a prefix whose row
// already exceeds maxEdits is skipped with one binary search.
func (l *sortedList) fuzzy(q string, maxEdits int, fn func(k string, v uint32, edits int)) {
	n := len(q)
	// store[d] is the DP row after d bytes of the current key; rows 0..depth are valid.
	store := [][]int{make([]int, n+1)}
	for j := range store[0] {
		store[0][j] = j
	}
	row := func(d int) []int {
		for len(store) <= d {
			store = append(store, make([]int, n+1))
		}
		return store[d]
	}
	prev := ""
	for i := 0; i < len(l.keys); {
		k := l.keys[i]
		cp := commonPrefix(prev, k)
		pruned := false
		for d := cp; d < len(k); d++ {
			up, cur := row(d), row(d+1)
			cur[0] = up[0] + 1
			best := cur[0]
			for j := 1; j <= n; j++ {
				cost := 1
				if q[j-1] == k[d] {
					cost = 0
				}
				cur[j] = min(up[j]+1, cur[j-1]+1, up[j-1]+cost)
				best = min(best, cur[j])
			}
			if best > maxEdits {
				// skip every key starting with k[:d+1]
				p := k[:d+1]
				i = l.skipPrefix(i, p)
				prev = p
				pruned = true
				break
			}
		}
		if pruned {
			continue
		}
		if e := row(len(k))[n]; e <= maxEdits {
			fn(k, l.vals[i], e)
		}
		prev = k
		i++
	}
	for x, k := range l.pendK {
		if e := levenshtein(q, k, maxEdits); e <= maxEdits {
			fn(k, l.pendV[x], e)
		}
	}
}

// skipPrefix returns the index of the first key from i on that does not
// start with p (keys[i] does), by galloping: skipped ranges are usually short.
func (l *sortedList) skipPrefix(i int, p string) int {
	step := 1
	for i+step < len(l.keys) && strings.HasPrefix(l.keys[i+step], p) {
		step *= 2
	}
	lo, hi := i+step/2, min(i+step, len(l.keys))
	return lo + sort.Search(hi-lo, func(x int) bool { return !strings.HasPrefix(l.keys[lo+x], p) })
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// levenshtein returns the edit distance of a and b on bytes, or max+1 when it
// is larger than max.
func levenshtein(a, b string, max int) int {
	if d := len(a) - len(b); d > max || -d > max {
		return max + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		best := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			best = min(best, cur[j])
		}
		if best > max {
			return max + 1
		}
		prev, cur = cur, prev
	}
	if prev[len(b)] > max {
		return max + 1
	}
	return prev[len(b)]
}
