package search

import (
	"slices"
	"sort"
	"strings"
	"sync"
)

// pastQueries is what Suggest completes from first: the queries shoppers
// and operators searched, with their counts. It has its own lock (searches
// record queries while others read the catalogue) and its own copy of the
// suggestion settings of Config.
type pastQueries struct {
	mu          sync.RWMutex
	minShoppers int      // Config.SuggestMinShoppers
	maxQueries  int      // Config.SuggestMaxQueries, or its default
	block       []string // Config.SuggestBlock, normalised

	list  sortedList // normalised past queries → query id
	count []int
	text  []string
	ids   map[string]uint32
	// pending holds queries searched by too few distinct shoppers to be
	// suggested yet; removed those an operator removed.
	pending map[string]*pendingQuery
	removed map[string]bool
	// vouch holds, for suggestions promoted from pending, the hashes of
	// the shoppers known to have searched them (up to a bound), so that
	// forgetting a shopper can demote a suggestion they vouched for
	// (forget.go).
	vouch map[string][]vouch
	// earned holds queries that once had enough distinct shoppers and
	// networks (kept by the caller across restarts, see MarkEarned): a
	// search of one is suggested again without waiting for new vouches.
	earned map[string]bool
	// onEarned, when set, hears of each query that became a suggestion
	// through vouches with a network (earned true), and of each earned
	// one a forget took out (false); called without mu held.
	onEarned func(query string, earned bool)
}

// pendingQuery is a query not yet searched by enough distinct shoppers to
// be suggested.
type pendingQuery struct {
	count   int
	vouches []vouch // distinct (shopper, network) pairs seen, bounded by addVouch
}

// vouch is one shopper's word for a query: hashes of who and from where.
type vouch struct{ shopper, network uint64 }

// distinct counts the distinct shoppers and networks of vs.
func distinct(vs []vouch) (shoppers, networks int) {
	for i, v := range vs {
		if !slices.ContainsFunc(vs[:i], func(w vouch) bool { return w.shopper == v.shopper }) {
			shoppers++
		}
		if !slices.ContainsFunc(vs[:i], func(w vouch) bool { return w.network == v.network }) {
			networks++
		}
	}
	return shoppers, networks
}

// addVouch adds v to vs unless known. Past capacity only a vouch from a
// new network is taken, so that many sessions from one network cannot
// grow a pending query.
func addVouch(vs []vouch, v vouch, capacity int) []vouch {
	if slices.Contains(vs, v) {
		return vs
	}
	if len(vs) >= capacity && slices.ContainsFunc(vs, func(w vouch) bool { return w.network == v.network }) {
		return vs
	}
	return append(vs, v)
}

// Source says who ran a search, for the distinct shoppers and networks a
// query needs before it is suggested (decision 0061).
type Source struct {
	// Shopper is the user or session id; "" for a request that brought
	// none (it then counts by its network alone).
	Shopper string
	// Network is a keyed hash of the client's network (IPv4 /24, IPv6
	// /48); "" when the shopper's identity is trusted (a user the shop
	// named with its admin key): each such shopper is then a network of
	// its own.
	Network string
}

// hashes returns the shopper and network hashes src vouches with; ok is
// false when it vouches for nothing.
func (src Source) hashes() (shopper, network uint64, ok bool) {
	switch {
	case src.Network == "" && src.Shopper == "":
		return 0, 0, false
	case src.Network == "":
		h := shopperHash(src.Shopper)
		return h, h, true
	case src.Shopper == "":
		h := shopperHash("net\x00" + src.Network)
		return h, h, true
	}
	return shopperHash(src.Shopper), shopperHash("net\x00" + src.Network), true
}

func newPastQueries(cfg *Config) *pastQueries {
	q := &pastQueries{ids: map[string]uint32{}, pending: map[string]*pendingQuery{}, removed: map[string]bool{}, earned: map[string]bool{}}
	q.configure(cfg)
	return q
}

// configure takes the suggestion settings of cfg.
func (q *pastQueries) configure(cfg *Config) {
	var block []string
	for _, b := range cfg.SuggestBlock {
		if b = strings.TrimSpace(normQuery(b)); b != "" {
			block = append(block, b)
		}
	}
	maxQ := cfg.SuggestMaxQueries
	if maxQ <= 0 {
		maxQ = DefaultSuggestMaxQueries
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.minShoppers, q.maxQueries, q.block = cfg.SuggestMinShoppers, maxQ, block
}

// record counts n searches of query (see Index.RecordSearch) and takes
// src's vouch (nil: none); trusted queries are suggested at once.
func (q *pastQueries) record(query string, n int, src *Source, trusted bool) {
	if len(query) > MaxQueryBytes {
		return
	}
	s := strings.TrimSpace(normQuery(query))
	if s == "" || len(s) > 200 {
		return
	}
	earned := false
	q.mu.Lock()
	defer func() {
		cb := q.onEarned
		q.mu.Unlock()
		if earned && cb != nil {
			cb(s, true)
		}
	}()
	if q.blocked(s) || q.removed[s] {
		return
	}
	var v vouch
	vouches := false
	if src != nil {
		v.shopper, v.network, vouches = src.hashes()
	}
	if id, ok := q.ids[s]; ok {
		q.count[id] += n
		if vouches {
			q.vouchFor(s, v)
		}
		return
	}
	if trusted || q.minShoppers <= 1 || (q.earned[s] && n > 0) {
		q.add(s, max(n, 1))
		return
	}
	p := q.pending[s]
	if p == nil {
		if len(q.pending) >= q.maxQueries {
			q.prunePending()
		}
		p = &pendingQuery{}
		q.pending[s] = p
	}
	p.count += n
	if vouches {
		p.vouches = addVouch(p.vouches, v, 4*q.minShoppers+maxVouchExtra)
	}
	if shoppers, networks := distinct(p.vouches); shoppers >= q.minShoppers && networks >= q.minShoppers {
		delete(q.pending, s)
		q.add(s, max(p.count, 1))
		if q.vouch == nil {
			q.vouch = map[string][]vouch{}
		}
		q.vouch[s] = p.vouches
		earned = src != nil && src.Network != ""
		if len(q.earned) < q.maxQueries {
			q.earned[s] = true
		}
	}
}

// markEarned notes queries that earned their place before (see
// Index.MarkEarned); pending ones with searches are suggested now.
func (q *pastQueries) markEarned(queries []string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, query := range queries {
		s := strings.TrimSpace(normQuery(query))
		if s == "" || len(q.earned) >= q.maxQueries {
			continue
		}
		q.earned[s] = true
		if p := q.pending[s]; p != nil && p.count > 0 && !q.blocked(s) && !q.removed[s] {
			delete(q.pending, s)
			q.add(s, p.count)
		}
	}
}

// blocked reports whether normalised query s contains a blocked phrase as
// whole words. Caller holds mu.
func (q *pastQueries) blocked(s string) bool {
	if len(q.block) == 0 {
		return false
	}
	padded := " " + s + " "
	for _, b := range q.block {
		if strings.Contains(padded, " "+b+" ") {
			return true
		}
	}
	return false
}

// add makes s a suggestion; caller holds mu. When the store is full the
// least searched tenth is dropped first.
func (q *pastQueries) add(s string, count int) {
	if len(q.text) >= q.maxQueries {
		q.prune(q.maxQueries*9/10, "")
	}
	id := uint32(len(q.text))
	q.ids[s] = id
	q.text = append(q.text, s)
	q.count = append(q.count, count)
	q.list.add(s, id)
	q.list.tidy()
}

// prune keeps the keep most searched suggestions except drop, rebuilding
// the lookup list. Caller holds mu.
func (q *pastQueries) prune(keep int, drop string) {
	order := make([]uint32, 0, len(q.text))
	for id, t := range q.text {
		if t != drop {
			order = append(order, uint32(id))
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return q.count[order[a]] > q.count[order[b]] })
	if len(order) > keep {
		order = order[:keep]
	}
	text, count := make([]string, len(order)), make([]int, len(order))
	ids := make(map[string]uint32, len(order))
	var list sortedList
	for k, id := range order {
		text[k], count[k] = q.text[id], q.count[id]
		ids[text[k]] = uint32(k)
		list.add(text[k], uint32(k))
	}
	list.merge()
	q.text, q.count, q.ids, q.list = text, count, ids, list
	for s := range q.vouch {
		if _, ok := ids[s]; !ok {
			delete(q.vouch, s)
		}
	}
}

// prunePending drops the less searched half of the pending queries, so
// that a flood of one-off queries cannot grow memory. Caller holds mu.
func (q *pastQueries) prunePending() {
	counts := make([]int, 0, len(q.pending))
	for _, p := range q.pending {
		counts = append(counts, p.count)
	}
	sort.Ints(counts)
	cut := counts[len(counts)/2]
	for s, p := range q.pending {
		if p.count <= cut {
			delete(q.pending, s)
		}
	}
}

// remove stops suggesting query (see Index.RemoveSuggestion).
func (q *pastQueries) remove(query string) bool {
	s := strings.TrimSpace(normQuery(query))
	if s == "" {
		return false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	_, known := q.ids[s]
	_, pending := q.pending[s]
	delete(q.pending, s)
	delete(q.earned, s)
	if len(q.removed) < maxRemovedSuggestions {
		q.removed[s] = true
	}
	if known {
		q.prune(len(q.text), s)
	}
	return known || pending
}

// restore undoes remove: query may be suggested again once searched
// enough; reports whether it was removed.
func (q *pastQueries) restore(query string) bool {
	s := strings.TrimSpace(normQuery(query))
	q.mu.Lock()
	defer q.mu.Unlock()
	was := q.removed[s]
	delete(q.removed, s)
	return was
}

// stats returns how many queries are suggested and how many are pending.
func (q *pastQueries) stats() (suggested, pending int) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return len(q.text), len(q.pending)
}

// countedText is a suggestion candidate with how often it was searched
// (or, for title words, how many titles hold it).
type countedText struct {
	text  string
	count int
}

// withPrefix returns up to limit past queries starting with normalised
// prefix p, most searched first (ties by text).
func (q *pastQueries) withPrefix(p string, limit int) []countedText {
	var qs []countedText
	q.mu.RLock()
	scanned := 0
	q.list.prefix(p, func(k string, id uint32) bool {
		qs = append(qs, countedText{k, q.count[id]})
		scanned++
		return scanned < limit
	})
	q.mu.RUnlock()
	sort.Slice(qs, func(a, b int) bool {
		if qs[a].count != qs[b].count {
			return qs[a].count > qs[b].count
		}
		return qs[a].text < qs[b].text
	})
	return qs
}
