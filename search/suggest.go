package search

import (
	"hash/fnv"
	"math"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// normQuery lowercases a query and collapses its spaces, keeping one
// trailing space when the shopper typed one (the last word is finished).
func normQuery(q string) string {
	s := strings.ToLower(strings.Join(strings.Fields(q), " "))
	if r, _ := utf8.DecodeLastRuneInString(q); s != "" && unicode.IsSpace(r) {
		s += " "
	}
	return s
}

// RecordQuery records a query from a trusted source (an operator, an
// imported query log): it is suggested at once. Searches by shoppers go
// through RecordSearch, so that one shopper cannot plant a suggestion.
func (ix *Index) RecordQuery(q string) { ix.recordQuery(q, "", true) }

// RecordSearch records a search a shopper ran, for Suggest; shopper is
// their user or session id ("" when unknown: the search is counted but
// vouches for nothing). A query is suggested only once
// Config.SuggestMinShoppers distinct shoppers have searched it, and never
// when it contains a phrase of Config.SuggestBlock or was removed with
// RemoveSuggestion. Call it for searches that returned results.
func (ix *Index) RecordSearch(q, shopper string) { ix.recordQuery(q, shopper, false) }

// pendingQuery is a query not yet searched by enough distinct shoppers to
// be suggested.
type pendingQuery struct {
	count    int
	shoppers []uint64 // hashes of the distinct shoppers seen, up to the threshold
}

func (ix *Index) recordQuery(q, shopper string, trusted bool) {
	if len(q) > MaxQueryBytes {
		return
	}
	s := strings.TrimSpace(normQuery(q))
	if s == "" || len(s) > 200 || ix.blockedQuery(s) {
		return
	}
	ix.qmu.Lock()
	defer ix.qmu.Unlock()
	if ix.qremoved[s] {
		return
	}
	if id, ok := ix.qids[s]; ok {
		ix.qcount[id]++
		ix.vouch(s, shopper)
		return
	}
	need := ix.cfg.SuggestMinShoppers
	if trusted || need <= 1 {
		ix.addSuggestion(s, 1)
		return
	}
	p := ix.qpending[s]
	if p == nil {
		if len(ix.qpending) >= ix.maxSuggestQueries() {
			ix.prunePending()
		}
		p = &pendingQuery{}
		ix.qpending[s] = p
	}
	p.count++
	if shopper != "" {
		h := fnv.New64a()
		h.Write([]byte(shopper))
		if hs := h.Sum64(); !slices.Contains(p.shoppers, hs) {
			p.shoppers = append(p.shoppers, hs)
		}
	}
	if len(p.shoppers) >= need {
		delete(ix.qpending, s)
		ix.addSuggestion(s, p.count)
		if ix.qvouch == nil {
			ix.qvouch = map[string][]uint64{}
		}
		ix.qvouch[s] = p.shoppers
	}
}

func (ix *Index) maxSuggestQueries() int {
	if ix.cfg.SuggestMaxQueries > 0 {
		return ix.cfg.SuggestMaxQueries
	}
	return DefaultSuggestMaxQueries
}

// blockedQuery reports whether normalised query s contains a blocked
// phrase as whole words.
func (ix *Index) blockedQuery(s string) bool {
	if len(ix.cfg.SuggestBlock) == 0 {
		return false
	}
	padded := " " + s + " "
	for _, b := range ix.cfg.SuggestBlock {
		if b = strings.TrimSpace(normQuery(b)); b != "" && strings.Contains(padded, " "+b+" ") {
			return true
		}
	}
	return false
}

// addSuggestion makes s a suggestion; caller holds qmu. When the store is
// full the least searched tenth is dropped first.
func (ix *Index) addSuggestion(s string, count int) {
	if len(ix.qtext) >= ix.maxSuggestQueries() {
		ix.pruneSuggestions(ix.maxSuggestQueries()*9/10, "")
	}
	id := uint32(len(ix.qtext))
	ix.qids[s] = id
	ix.qtext = append(ix.qtext, s)
	ix.qcount = append(ix.qcount, count)
	ix.queries.add(s, id)
	ix.queries.tidy()
}

// pruneSuggestions keeps the keep most searched suggestions except drop,
// rebuilding the lookup list. Caller holds qmu.
func (ix *Index) pruneSuggestions(keep int, drop string) {
	order := make([]uint32, 0, len(ix.qtext))
	for id, t := range ix.qtext {
		if t != drop {
			order = append(order, uint32(id))
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return ix.qcount[order[a]] > ix.qcount[order[b]] })
	if len(order) > keep {
		order = order[:keep]
	}
	text, count := make([]string, len(order)), make([]int, len(order))
	ids := make(map[string]uint32, len(order))
	var list sortedList
	for k, id := range order {
		text[k], count[k] = ix.qtext[id], ix.qcount[id]
		ids[text[k]] = uint32(k)
		list.add(text[k], uint32(k))
	}
	list.merge()
	ix.qtext, ix.qcount, ix.qids, ix.queries = text, count, ids, list
	for q := range ix.qvouch {
		if _, ok := ids[q]; !ok {
			delete(ix.qvouch, q)
		}
	}
}

// prunePending drops the less searched half of the pending queries, so
// that a flood of one-off queries cannot grow memory. Caller holds qmu.
func (ix *Index) prunePending() {
	counts := make([]int, 0, len(ix.qpending))
	for _, p := range ix.qpending {
		counts = append(counts, p.count)
	}
	sort.Ints(counts)
	cut := counts[len(counts)/2]
	for q, p := range ix.qpending {
		if p.count <= cut {
			delete(ix.qpending, q)
		}
	}
}

// RemoveSuggestion stops suggesting query (and forgets its searches) until
// the index is rebuilt; reports whether it was known. To keep a query out
// for good, add it to Config.SuggestBlock.
func (ix *Index) RemoveSuggestion(query string) bool {
	s := strings.TrimSpace(normQuery(query))
	if s == "" {
		return false
	}
	ix.qmu.Lock()
	defer ix.qmu.Unlock()
	_, known := ix.qids[s]
	_, pending := ix.qpending[s]
	delete(ix.qpending, s)
	if len(ix.qremoved) < maxRemovedSuggestions {
		ix.qremoved[s] = true
	}
	if known {
		ix.pruneSuggestions(len(ix.qtext), s)
	}
	return known || pending
}

// SuggestionStats says how many queries are suggested and how many wait for
// more shoppers.
func (ix *Index) SuggestionStats() (suggested, pending int) {
	ix.qmu.RLock()
	defer ix.qmu.RUnlock()
	return len(ix.qtext), len(ix.qpending)
}

// Suggest completes what the shopper is typing: past queries starting with
// prefix (most frequent first), then item titles starting with it, then the
// prefix with its last word completed from title words (most frequent
// first). At most n suggestions (Config.MaxSuggestions when n <= 0).
func (ix *Index) Suggest(prefix string, n int) []Suggestion {
	if n <= 0 {
		n = ix.cfg.MaxSuggestions
	}
	if len(prefix) > MaxQueryBytes {
		return nil
	}
	p := normQuery(prefix)
	if strings.TrimSpace(p) == "" {
		return nil
	}
	var out []Suggestion
	seen := map[string]bool{}
	emit := func(s Suggestion) {
		if !seen[s.Text] && len(out) < n {
			seen[s.Text] = true
			out = append(out, s)
		}
	}
	const scanLimit = 2000 // entries looked at per source: keeps a short prefix under a few ms
	// past queries
	type cand struct {
		text  string
		count int
	}
	var qs []cand
	ix.qmu.RLock()
	scanned := 0
	ix.queries.prefix(p, func(k string, id uint32) bool {
		qs = append(qs, cand{k, ix.qcount[id]})
		scanned++
		return scanned < scanLimit
	})
	ix.qmu.RUnlock()
	sort.Slice(qs, func(a, b int) bool {
		if qs[a].count != qs[b].count {
			return qs[a].count > qs[b].count
		}
		return qs[a].text < qs[b].text
	})
	for _, q := range qs {
		emit(Suggestion{Text: q.text, Kind: "query", Score: float64(q.count)})
	}

	ix.mu.RLock()
	defer ix.mu.RUnlock()
	// titles: the shortest live ones, from the ranked sorted part (bounded
	// work whatever the prefix) and the unsorted tail
	if len(out) < n {
		var ts []string
		scanned = 0
		taken := map[string]bool{}
		collect := func(k string, d uint32) bool {
			if int(d) < len(ix.hot) && ix.hot[d].live && !seen[k] && !taken[k] {
				taken[k] = true
				ts = append(ts, k)
			}
			scanned++
			return len(ts) < n && scanned < scanLimit
		}
		ix.titles.best(p, collect)
		scanned = 0
		ix.titles.pending(p, collect)
		sort.Slice(ts, func(a, b int) bool {
			if len(ts[a]) != len(ts[b]) {
				return len(ts[a]) < len(ts[b])
			}
			return ts[a] < ts[b]
		})
		for _, t := range ts {
			emit(Suggestion{Text: t, Kind: "title", Score: 1 / float64(1+len(t))})
		}
	}
	// complete the last word with the most frequent title words
	if len(out) < n && !strings.HasSuffix(p, " ") {
		head, last := "", p
		if k := strings.LastIndexByte(p, ' '); k >= 0 {
			head, last = p[:k+1], p[k+1:]
		}
		var ws []cand
		scanned = 0
		collect := func(k string, id uint32) bool {
			if ix.wordDF[id] > 0 && !seen[head+k] {
				ws = append(ws, cand{k, ix.wordDF[id]})
			}
			scanned++
			return len(ws) < n && scanned < scanLimit
		}
		ix.words.best(last, collect)
		scanned = 0
		ix.words.pending(last, collect)
		sort.Slice(ws, func(a, b int) bool {
			if ws[a].count != ws[b].count {
				return ws[a].count > ws[b].count
			}
			return ws[a].text < ws[b].text
		})
		for _, w := range ws {
			emit(Suggestion{Text: head + w.text, Kind: "word", Score: float64(w.count)})
		}
	}
	return out
}

// titleRank orders title suggestions: shorter titles first.
func titleRank(k string, _ uint32) int32 { return int32(min(len(k), math.MaxInt32)) }
