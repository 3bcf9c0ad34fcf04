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
	c := ix.compile(parseQuery(query))
	if len(c.hlTerms) == 0 {
		return
	}
	for i := range hits {
		d, ok := ix.byID[hits[i].ID]
		if !ok || int(d) >= len(ix.docs) || ix.docs[d].item.ID != hits[i].ID {
			continue
		}
		hits[i].Highlights = ix.highlights(&ix.docs[d], c.hlTerms)
	}
}
