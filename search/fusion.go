package search

// fuse merges a keyword and a semantic list (each sorted best first) into
// one, by reciprocal rank fusion or by a convex combination of min-max
// normalised scores, weighting keyword by f.Alpha. Then it makes sure no
// exact keyword match (every query word in the title) ends up lower than
// the keyword list put it: fusion may promote items, never bury an exact one.
func fuse(kw, sem []scored, f Fusion) []scored {
	if len(sem) == 0 {
		return kw
	}
	if len(kw) == 0 {
		return sem
	}
	type acc struct {
		score float64
		exact bool
	}
	m := map[uint32]*acc{}
	get := func(d uint32) *acc {
		a := m[d]
		if a == nil {
			a = &acc{}
			m[d] = a
		}
		return a
	}
	switch f.Method {
	case "rrf":
		k := f.RRFK
		if k <= 0 {
			k = 60
		}
		for i, s := range kw {
			a := get(s.doc)
			a.score += f.Alpha / (k + float64(i+1))
			a.exact = s.exact
		}
		for i, s := range sem {
			get(s.doc).score += (1 - f.Alpha) / (k + float64(i+1))
		}
	default: // convex
		norm := func(l []scored) func(float64) float64 {
			lo, hi := l[0].score, l[0].score
			for _, s := range l {
				lo, hi = min(lo, s.score), max(hi, s.score)
			}
			if hi == lo {
				return func(float64) float64 { return 1 }
			}
			return func(x float64) float64 { return (x - lo) / (hi - lo) }
		}
		nk, ns := norm(kw), norm(sem)
		for _, s := range kw {
			a := get(s.doc)
			a.score += f.Alpha * nk(s.score)
			a.exact = s.exact
		}
		for _, s := range sem {
			get(s.doc).score += (1 - f.Alpha) * ns(s.score)
		}
	}
	fused := make([]scored, 0, len(m))
	for d, a := range m {
		fused = append(fused, scored{doc: d, score: a.score, exact: a.exact})
	}
	sortScored(fused)
	return guardExact(fused, kw)
}

// guardExact reorders fused so that every exact keyword match is at a rank
// no worse than its keyword rank, keeping the fused order otherwise.
func guardExact(fused, kw []scored) []scored {
	var pinned []int // keyword ranks of exact matches, increasing
	for r, s := range kw {
		if s.exact {
			pinned = append(pinned, r)
		}
	}
	if len(pinned) == 0 {
		return fused
	}
	out := make([]scored, 0, len(fused))
	placed := map[uint32]bool{}
	byDoc := map[uint32]scored{}
	for _, s := range fused {
		byDoc[s.doc] = s
	}
	next := 0 // next fused index to consider
	p := 0    // next pinned keyword rank
	for len(out) < len(fused) {
		for p < len(pinned) && placed[kw[pinned[p]].doc] {
			p++
		}
		if p < len(pinned) && pinned[p] <= len(out) {
			s := byDoc[kw[pinned[p]].doc]
			// take the score of the item it displaces so scores stay non-increasing
			for next < len(fused) && placed[fused[next].doc] {
				next++
			}
			if next < len(fused) && fused[next].score > s.score {
				s.score = fused[next].score
			}
			out = append(out, s)
			placed[s.doc] = true
			continue
		}
		for next < len(fused) && placed[fused[next].doc] {
			next++
		}
		s := fused[next]
		out = append(out, s)
		placed[s.doc] = true
	}
	return out
}
