package search

import (
	"math"
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

// NormalizeQuery is the form under which a query is remembered for
// suggestions: lowercased, spaces collapsed and trimmed.
func NormalizeQuery(q string) string { return strings.TrimSpace(normQuery(q)) }

// RecordQuery records a query from a trusted source (an operator, an
// imported query log): it is suggested at once. Searches by shoppers go
// through RecordSearch, CountSearch and VouchSearch, so that one shopper
// cannot plant a suggestion.
func (ix *Index) RecordQuery(q string) { ix.queries.record(q, 1, nil, true) }

// RecordSearch records a search by a shopper whose identity is trusted (a
// user named with the admin key): it counts, and vouches for the query as
// one distinct shopper and network ("" when unknown: the search is counted
// but vouches for nothing). A query is suggested only once
// Config.SuggestMinShoppers distinct shoppers, and as many distinct
// networks, have vouched for it, and never when it contains a phrase of
// Config.SuggestBlock or was removed with RemoveSuggestion. Call it for
// searches that returned results.
func (ix *Index) RecordSearch(q, shopper string) {
	ix.queries.record(q, 1, &Source{Shopper: shopper}, false)
}

// CountSearch counts a search without vouching for it: a search event of
// an anonymous shopper read from the log, whose client network is not
// known (decision 0061). Its vouch comes from VouchSearch when it is run.
func (ix *Index) CountSearch(q string) { ix.queries.record(q, 1, nil, false) }

// VouchSearch adds src as one of the distinct shoppers and networks that
// searched q, without counting a search (the search event, through
// EventsAppended, counts it).
func (ix *Index) VouchSearch(q string, src Source) { ix.queries.record(q, 0, &src, false) }

// MarkEarned notes queries that had enough distinct shoppers and networks
// before (the caller kept them, see OnEarned): their searches read from the
// log at start make them suggestions again.
func (ix *Index) MarkEarned(queries []string) { ix.queries.markEarned(queries) }

// OnEarned sets fn to hear of each query that becomes a suggestion through
// vouches with a network (VouchSearch; earned true), so that the caller can
// keep it across restarts (MarkEarned), and of each such query a forget
// took out (false: the caller drops it). fn runs on the searching or
// forgetting goroutine: it must not block.
func (ix *Index) OnEarned(fn func(query string, earned bool)) {
	ix.queries.mu.Lock()
	ix.queries.onEarned = fn
	ix.queries.mu.Unlock()
}

// RemoveSuggestion stops suggesting query (and forgets its searches) until
// the index is rebuilt or RestoreSuggestion; reports whether it was known.
// To keep it out across restarts, the caller keeps a block list (the API's
// DELETE /api/suggest/{q}) or adds it to Config.SuggestBlock.
func (ix *Index) RemoveSuggestion(query string) bool { return ix.queries.remove(query) }

// RestoreSuggestion undoes RemoveSuggestion: the query is suggested again
// once searched by enough shoppers. It reports whether it was removed.
func (ix *Index) RestoreSuggestion(query string) bool { return ix.queries.restore(query) }

// SuggestionStats says how many queries are suggested and how many wait for
// more shoppers.
func (ix *Index) SuggestionStats() (suggested, pending int) { return ix.queries.stats() }

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
	for _, q := range ix.queries.withPrefix(p, scanLimit) {
		emit(Suggestion{Text: q.text, Kind: "query", Score: float64(q.count)})
	}

	ix.mu.RLock()
	defer ix.mu.RUnlock()
	// titles: the shortest live ones, from the ranked sorted part (bounded
	// work whatever the prefix) and the unsorted tail
	if len(out) < n {
		var ts []string
		scanned := 0
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
		var ws []countedText
		scanned := 0
		collect := func(k string, id uint32) bool {
			if ix.wordDF[id] > 0 && !seen[head+k] {
				ws = append(ws, countedText{k, ix.wordDF[id]})
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
