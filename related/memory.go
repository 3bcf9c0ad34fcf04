package related

import "unsafe"

// MemoryBytes estimates the memory the index holds, in bytes: its slices,
// maps and strings (not allocator overhead). It walks every item: for
// /metrics, not for a hot path.
func (ix *Index) MemoryBytes() int64 {
	if ix == nil {
		return 0
	}
	nb := int64(unsafe.Sizeof(neighbour{}))
	var b int64
	if c := ix.content; c != nil {
		b += mapBytes(len(c.pos), 16+4) + int64(cap(c.deleted)) + 4*int64(cap(c.leaf)+cap(c.brand))
		for i, id := range c.ids {
			b += 16 + 2*int64(len(id))
			if i < len(c.path) {
				for _, p := range c.path[i] {
					b += 16 + int64(len(p))
				}
			}
			if i < len(c.attrs) {
				for _, a := range c.attrs[i] {
					b += 16 + int64(len(a))
				}
			}
			if i < len(c.vec) {
				b += 24 + int64(cap(c.vec[i]))*int64(unsafe.Sizeof(termWeight{}))
			}
		}
		for _, ps := range c.post {
			b += 24 + int64(cap(ps))*int64(unsafe.Sizeof(posting{}))
		}
		for _, items := range c.byLeaf {
			b += 32 + 4*int64(cap(items))
		}
	}
	if h := ix.beh; h != nil {
		for _, s := range h.sim {
			b += 24 + int64(cap(s))*nb
		}
		for _, s := range h.basket {
			b += 24 + int64(cap(s))*nb
		}
		for _, s := range h.simIdx {
			b += 24 + int64(cap(s))*nb
		}
		for _, s := range h.bIdx {
			b += 24 + int64(cap(s))*nb
		}
		b += 8*int64(cap(h.count)) + 4*int64(cap(h.leafOf))
		for _, m := range h.catLft {
			b += 48 + mapBytes(len(m), 12)
		}
		for _, s := range h.catTp {
			b += 32 + 4*int64(cap(s))
		}
		for _, s := range h.popLf {
			b += 32 + 4*int64(cap(s))
		}
		b += mapBytes(len(h.goesWith), 9)
	}
	for _, t := range []*vecTable{ix.factor, ix.embed} {
		if t == nil {
			continue
		}
		for _, v := range t.vecs {
			b += 24 + 4*int64(cap(v))
		}
	}
	if ix.texts != nil {
		if t := ix.texts.p.Load(); t != nil { // until the snapshot is written
			b += 8*int64(cap(t.print)) + 4*int64(cap(t.off)+cap(t.terms)+cap(t.counts))
			for _, s := range t.names {
				b += 16 + int64(len(s))
			}
		}
	}
	return b
}

// mapBytes approximates a Go map of n entries of kv bytes each (key and
// value), with its buckets about 80% full.
func mapBytes(n int, kv int) int64 { return int64(float64(n) * float64(kv+1) / 0.8) }
