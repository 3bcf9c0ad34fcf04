package search

import (
	"math"
	"slices"
)

// postings lists the docs containing a term, in increasing doc id, with the
// term's frequency per field (numFields bytes per doc), and a summary of
// every postBlock postings for dynamic pruning (see pruned.go).
type postings struct {
	docs []uint32
	tf   []uint8
	blks []postBlockMax
}

// postBlock is the number of postings one postBlockMax summarises.
const postBlock = 128

// postBlockMax summarises postBlock consecutive postings of a term with two
// upper bounds of their BM25F pseudo-frequency (pruned.go):
//
//   - per field, the largest term frequency and the shortest field length
//     (over the postings where the term occurs in that field). Neither
//     depends on the average lengths or the field weights, so this bound
//     holds under any Config and never goes stale as the index grows.
//   - tmax, the largest pseudo-frequency of the block computed with the
//     index's reference constants (Index.ref). It is much tighter (the
//     per-field maxima above may come from different docs) and stays valid
//     when the average field lengths change, scaled by how much they grew.
type postBlockMax struct {
	last   uint32 // doc id of the block's last posting
	tmax   float32
	tf     [numFields]uint8
	minLen [numFields]uint16
}

// appendPosting adds doc d (greater than every doc of p) with its term
// frequencies and field lengths; ref scores the block summary.
func (p *postings) appendPosting(d uint32, tf *[numFields]uint8, lens *[numFields]uint16, ref *bm25) {
	if len(p.docs)%postBlock == 0 {
		p.blks = append(p.blks, newPostBlockMax())
	}
	p.docs = append(p.docs, d)
	p.tf = append(p.tf, tf[:]...)
	p.blks[len(p.blks)-1].add(d, tf, lens, ref)
}

func newPostBlockMax() postBlockMax {
	b := postBlockMax{}
	for f := range b.minLen {
		b.minLen[f] = math.MaxUint16
	}
	return b
}

func (b *postBlockMax) add(d uint32, tf *[numFields]uint8, lens *[numFields]uint16, ref *bm25) {
	b.last = d
	for f := range tf {
		if tf[f] != 0 {
			b.tf[f] = max(b.tf[f], tf[f])
			b.minLen[f] = min(b.minLen[f], lens[f])
		}
	}
	b.tmax = max(b.tmax, float32(ref.pseudoTF(tf[:], lens)))
}

// rebuildBlocks recomputes the block summaries of p from its postings.
func (p *postings) rebuildBlocks(hot []docHot, ref *bm25) {
	p.blks = p.blks[:0]
	for k, d := range p.docs {
		if k%postBlock == 0 {
			p.blks = append(p.blks, newPostBlockMax())
		}
		p.blks[len(p.blks)-1].add(d, (*[numFields]uint8)(p.tf[k*int(numFields):]), &hot[d].lens, ref)
	}
	p.blks = slices.Clip(p.blks)
}

// setRef makes the current scoring constants the reference of the block
// summaries and recomputes them. Caller holds the write lock.
func (ix *Index) setRef() {
	ix.endListing()
	ix.ref = ix.bm25Params()
	for t := range ix.post {
		ix.post[t].rebuildBlocks(ix.hot, &ix.ref)
	}
}
