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

// topValues lists the values with a count, most frequent first (ties by
// value), at most Config.FacetSize of them. With a size limit it keeps the
// best ones by insertion into a short sorted list instead of sorting all.
func (ix *Index) topValues(fv *facetValues, counts []int) []FacetValue {
	better := func(a, b FacetValue) bool {
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Value < b.Value
	}
	k := ix.cfg.FacetSize
	var out []FacetValue
	for v, c := range counts {
		if c == 0 {
			continue
		}
		x := FacetValue{Value: fv.names[v], Count: c}
		if k <= 0 {
			out = append(out, x)
			continue
		}
		if len(out) == k && !better(x, out[k-1]) {
			continue
		}
		i := sort.Search(len(out), func(i int) bool { return better(x, out[i]) })
		if len(out) < k {
			out = append(out, FacetValue{})
		}
		copy(out[i+1:], out[i:len(out)-1])
		out[i] = x
	}
	if k <= 0 {
		sort.Slice(out, func(a, b int) bool { return better(out[a], out[b]) })
	}
	return out
}

// facetValues maps facet values to ids and each id to the bitmap of docs.
type facetValues struct {
	ids   map[string]uint32
	names []string
	bits  []*roaring.Bitmap
}

func newFacetValues() facetValues { return facetValues{ids: map[string]uint32{}} }

func (f *facetValues) add(key, name string, d uint32) uint32 {
	id, ok := f.ids[key]
	if !ok {
		id = uint32(len(f.names))
		f.ids[key] = id
		f.names = append(f.names, name)
		f.bits = append(f.bits, roaring.New())
	}
	f.bits[id].Add(d)
	return id
}
