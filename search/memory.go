package search

import "unsafe"

// Memory is an estimate of what the index holds in memory, in bytes: the
// Go structures' own sizes plus the bytes of their strings and slices (not
// allocator overhead, so the process's heap is somewhat larger).
type Memory struct {
	Docs     int64 // documents: stored item fields, analysed titles, facet values
	Postings int64 // the inverted index and its term dictionary
	Vectors  int64 // the semantic-search vectors held with the documents
}

// MemoryBytes estimates the index's memory (see Memory). It walks every
// document and term under the read lock: linear in the index, for
// /metrics (which caches it), not for a hot path.
func (ix *Index) MemoryBytes() Memory {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var m Memory
	m.Docs = int64(cap(ix.docs))*int64(unsafe.Sizeof(doc{})) + int64(cap(ix.hot))*int64(unsafe.Sizeof(docHot{})) +
		4*int64(cap(ix.catVal)+cap(ix.catEnd)) + mapBytes(len(ix.byID), 16+4)
	for i := range ix.docs {
		d := &ix.docs[i]
		it := &d.item
		m.Docs += int64(len(it.ID) + len(it.Title) + len(it.Description) + len(it.Brand) + len(it.ImageURL))
		for _, c := range it.Categories {
			m.Docs += 16 + int64(len(c))
		}
		m.Docs += 32 * int64(len(it.Attributes))
		m.Docs += 4 * int64(cap(d.title)+cap(d.cats))
		if d.vec.Len() > 0 {
			m.Vectors += int64(d.vec.Bytes())
		}
	}
	for i := range ix.post {
		p := &ix.post[i]
		m.Postings += int64(unsafe.Sizeof(*p)) + 4*int64(cap(p.docs)) + int64(cap(p.tf)) + int64(cap(p.blks))*int64(unsafe.Sizeof(postBlockMax{}))
	}
	m.Postings += mapBytes(len(ix.termIDs), 16+4)
	for _, t := range ix.terms {
		m.Postings += 16 + 2*int64(len(t)) // in terms and as a key of termIDs
	}
	return m
}

// mapBytes approximates a Go map of n entries of kv bytes each (key and
// value), with its buckets about 80% full.
func mapBytes(n int, kv int) int64 { return int64(float64(n) * float64(kv+1) / 0.8) }
