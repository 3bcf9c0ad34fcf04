package search

import (
	"math"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
)

// maybeCompact renumbers the docs without the dead ones once they make up a
// quarter of the index. Caller holds the write lock.
func (ix *Index) maybeCompact() {
	if ix.nDead < 1024 || ix.nDead < ix.nLive/3 {
		return
	}
	ix.compact()
}

func (ix *Index) compact() {
	ix.endListing()
	// doc ids change: the semantic lists are dropped and built again
	ix.sem.lists, ix.sem.pending = nil, nil
	ix.sem.gen++
	remap := make([]uint32, len(ix.docs))
	docs := make([]doc, 0, ix.nLive)
	for d := range ix.docs {
		if ix.docs[d].live {
			remap[d] = uint32(len(docs))
			docs = append(docs, ix.docs[d])
		} else {
			remap[d] = math.MaxUint32
		}
	}
	for t := range ix.post {
		p := &ix.post[t]
		n := 0
		for k, d := range p.docs {
			if nd := remap[d]; nd != math.MaxUint32 {
				p.docs[n] = nd
				copy(p.tf[n*int(numFields):(n+1)*int(numFields)], p.tf[k*int(numFields):(k+1)*int(numFields)])
				n++
			}
		}
		p.docs = p.docs[:n:n]
		p.tf = p.tf[: n*int(numFields) : n*int(numFields)]
	}
	ix.docs = docs
	ix.hot = make([]docHot, len(docs))
	for d := range docs {
		ix.hot[d] = docHot{price: docs[d].price, lens: docs[d].lens, live: true, hasPrice: docs[d].hasPrice, brand: docs[d].brand, created: docs[d].created}
	}
	ix.setRef() // the averages may have drifted since the reference was taken
	ix.catVal, ix.catEnd = nil, make([]uint32, 0, len(docs))
	for d := range docs {
		ix.catVal = append(ix.catVal, docs[d].cats...)
		ix.catEnd = append(ix.catEnd, uint32(len(ix.catVal)))
	}
	ix.live = roaring.New()
	for _, fv := range []*facetValues{&ix.cats, &ix.brands} {
		for i := range fv.bits {
			fv.bits[i] = roaring.New()
		}
	}
	for i := range ix.prices {
		ix.prices[i] = roaring.New()
	}
	ix.titles = sortedList{rank: ix.titles.rank}
	for d := range docs {
		dc := &docs[d]
		ix.byID[dc.item.ID] = uint32(d)
		ix.live.Add(uint32(d))
		for _, c := range dc.cats {
			ix.cats.bits[c].Add(uint32(d))
		}
		if dc.brand >= 0 {
			ix.brands.bits[dc.brand].Add(uint32(d))
		}
		if dc.hasPrice {
			for r, pr := range ix.cfg.PriceRanges {
				if dc.price >= pr.Min && (pr.Max <= 0 || dc.price < pr.Max) {
					ix.prices[r].Add(uint32(d))
				}
			}
		}
		if t := strings.ToLower(strings.Join(strings.Fields(dc.item.Title), " ")); t != "" {
			ix.titles.add(t, uint32(d))
		}
	}
	ix.titles.merge()
	ix.log.Debug("search index compacted", "removed", ix.nDead, "live", ix.nLive)
	ix.nDead = 0
}
