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
// Category and brand counts walk the matched docs once through the compact
// per-doc arrays (catVal/catEnd, docHot.brand), in doc order, so the reads
// are close to sequential. Caller holds the read lock.
func (ix *Index) facets(m *roaring.Bitmap, names []string) *Facets {
	out := &Facets{}
	var catCounts, brandCounts []int
	for _, name := range names {
		switch name {
		case FacetCategory:
			catCounts = make([]int, len(ix.cats.names))
		case FacetBrand:
			brandCounts = make([]int, len(ix.brands.names))
		}
	}
	if catCounts != nil || brandCounts != nil {
		it := m.ManyIterator()
		buf := make([]uint32, 512)
		for n := it.NextMany(buf); n > 0; n = it.NextMany(buf) {
			for _, d := range buf[:n] {
				if catCounts != nil {
					lo := uint32(0)
					if d > 0 {
						lo = ix.catEnd[d-1]
					}
					for _, v := range ix.catVal[lo:ix.catEnd[d]] {
						catCounts[v]++
					}
				}
				if brandCounts != nil {
					if b := ix.hot[d].brand; b >= 0 {
						brandCounts[b]++
					}
				}
			}
		}
	}
	for _, name := range names {
		switch name {
		case FacetCategory:
			out.Category = ix.topValues(&ix.cats, catCounts)
		case FacetBrand:
			out.Brand = ix.topValues(&ix.brands, brandCounts)
		case FacetPrice:
			out.Price = make([]RangeCount, len(ix.cfg.PriceRanges))
			for r, pr := range ix.cfg.PriceRanges {
				out.Price[r] = RangeCount{Range: pr.Label(), Count: int(m.AndCardinality(ix.prices[r]))}
			}
		}
	}
	return out
}

// topValues lists the values with a count, most frequent first, at most
// Config.FacetSize of them.
func (ix *Index) topValues(fv *facetValues, counts []int) []FacetValue {
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
