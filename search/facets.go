package search

import (
	"sort"

	"github.com/RoaringBitmap/roaring/v2"
)

// Facet names accepted in Request.Facets.
const (
	FacetCategory = "category"
	FacetBrand    = "brand"
	FacetPrice    = "price"
)

// facets counts category, brand and price values over the matched set.
// Caller holds the read lock.
func (ix *Index) facets(m *roaring.Bitmap, names []string) *Facets {
	out := &Facets{}
	for _, name := range names {
		switch name {
		case FacetCategory:
			out.Category = ix.countValues(m, &ix.cats, func(d uint32, fn func(uint32)) {
				for _, c := range ix.docs[d].cats {
					fn(c)
				}
			})
		case FacetBrand:
			out.Brand = ix.countValues(m, &ix.brands, func(d uint32, fn func(uint32)) {
				if b := ix.docs[d].brand; b >= 0 {
					fn(uint32(b))
				}
			})
		case FacetPrice:
			out.Price = make([]RangeCount, len(ix.cfg.PriceRanges))
			for r, pr := range ix.cfg.PriceRanges {
				out.Price[r] = RangeCount{Range: pr.Label(), Count: int(m.AndCardinality(ix.prices[r]))}
			}
		}
	}
	return out
}

// countValues counts the values of one facet over m: by walking the matched
// docs when they are few, else by intersecting m with each value's bitmap.
func (ix *Index) countValues(m *roaring.Bitmap, fv *facetValues, values func(d uint32, fn func(uint32))) []FacetValue {
	counts := make([]int, len(fv.names))
	card := m.GetCardinality()
	if card < uint64(8*len(fv.names)) {
		it := m.Iterator()
		for it.HasNext() {
			values(it.Next(), func(v uint32) { counts[v]++ })
		}
	} else {
		for v, b := range fv.bits {
			counts[v] = int(m.AndCardinality(b))
		}
	}
	var out []FacetValue
	for v, c := range counts {
		if c > 0 {
			out = append(out, FacetValue{Value: fv.names[v], Count: c})
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Count != out[b].Count {
			return out[a].Count > out[b].Count
		}
		return out[a].Value < out[b].Value
	})
	if n := ix.cfg.FacetSize; n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}
