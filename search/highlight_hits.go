package search

// Highlight fills the highlights of hits for query, as Search does for the
// hits it returns. A caller that asks Search for a wider window than it
// shows (merchandising rules arrange a window and cut the page from it)
// searches with NoHighlights and highlights only the page it keeps.
// Hits the index no longer has are left as they are.
func (ix *Index) Highlight(query string, hits []Hit) {
	if len(hits) == 0 || len(query) > MaxQueryBytes {
		return
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	ix.highlightHits(ix.compile(parseQuery(query)).hlTerms, hits)
}

// HighlightResult is Highlight with the query words res was searched with
// (res from Search on this index for the same query): merchandising
// highlights the page it cut from a wider window without compiling the
// query a second time (decision 0067's profile: a quarter of what rules
// added to a search).
func (ix *Index) HighlightResult(res *Result, query string, hits []Hit) {
	if res == nil || !res.compiled {
		ix.Highlight(query, hits)
		return
	}
	if len(hits) == 0 || len(res.hl) == 0 {
		return
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	ix.highlightHits(res.hl, hits)
}

// highlightHits fills hits' highlights with terms; ix.mu is held.
func (ix *Index) highlightHits(terms map[string]bool, hits []Hit) {
	if len(terms) == 0 {
		return
	}
	for i := range hits {
		// the doc the hit was found as, while it is still the item's live
		// doc (an update or a removal marks it dead, a compaction renumbers
		// the docs); else the item's doc now
		d := hits[i].doc - 1
		if hits[i].doc == 0 || int(d) >= len(ix.docs) || !ix.docs[d].live || ix.docs[d].item.ID != hits[i].ID {
			var ok bool
			if d, ok = ix.byID[hits[i].ID]; !ok || int(d) >= len(ix.docs) || ix.docs[d].item.ID != hits[i].ID {
				continue
			}
		}
		hits[i].Highlights = ix.highlights(&ix.docs[d], terms)
	}
}
