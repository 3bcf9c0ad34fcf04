package search

import (
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

func (l *sortedList) len() int { return len(l.keys) + len(l.pendK) }

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
