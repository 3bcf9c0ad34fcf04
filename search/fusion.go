package search

import (
	"math"
	"sort"

	"github.com/aisle-dev/aisle/ann"
)

// Fusion methods and score normalisations (see Fusion).
const (
	FusionConvex = "convex"
	FusionRRF    = "rrf"
	FusionRerank = "rerank"

	NormMinMax = "minmax"
	NormZScore = "zscore"
	NormRank   = "rank"
)

// fuse merges a keyword and a semantic list (each sorted best first)
// without further similarities; see fuseWith.
func fuse(kw, sem []scored, f Fusion) []scored { return fuseWith(kw, sem, nil, f) }

// fuseWith merges a keyword and a semantic list (each sorted best first)
// into one:
//
//   - rrf: reciprocal rank fusion, Alpha/(k+rank) from the keyword list
//     plus (1-Alpha)/(k+rank) from the semantic list;
//   - convex: Alpha·norm(keyword score) + (1-Alpha)·norm(similarity) over
//     the union of both lists;
//   - rerank: the same combination over the keyword candidates only, so
//     semantic similarity reorders what keyword search found and adds
//     nothing (the semantic list answers only when keyword finds nothing).
//
// sim, when set, gives the query similarity of any doc (false without a
// vector), so keyword candidates outside the semantic list are scored by
// their real similarity rather than as dissimilar. Gate > 0 lowers the
// semantic weight when keyword search is confident: by the factor
// 1 - Gate·(share of the first 10 keyword results that are exact matches).
// Finally no exact keyword match (every query word in the title) ends up
// lower than the keyword list put it: fusion may promote items, never bury
// an exact one.
func fuseWith(kw, sem []scored, sim func(uint32) (float64, bool), f Fusion) []scored {
	if len(sem) == 0 {
		return kw
	}
	if len(kw) == 0 {
		return sem
	}
	ws := 1 - f.Alpha
	if f.Gate > 0 {
		ws *= 1 - min(1, f.Gate)*exactShare(kw, 10)
	}
	var fused []scored
	if f.Method == FusionRRF {
		k := f.RRFK
		if k <= 0 {
			k = 60
		}
		m := map[uint32]int{}
		for i, s := range kw {
			m[s.doc] = len(fused)
			fused = append(fused, scored{doc: s.doc, score: f.Alpha / (k + float64(i+1)), exact: s.exact})
		}
		for i, s := range sem {
			j, ok := m[s.doc]
			if !ok {
				j = len(fused)
				m[s.doc] = j
				fused = append(fused, scored{doc: s.doc})
			}
			fused[j].score += ws / (k + float64(i+1))
		}
	} else {
		fused = combine(kw, sem, sim, f, ws)
	}
	sortScored(fused)
	return guardExact(fused, kw)
}

// combine scores candidates by Alpha·norm(keyword) + ws·norm(similarity).
func combine(kw, sem []scored, sim func(uint32) (float64, bool), f Fusion, ws float64) []scored {
	// candidates: keyword list, then (convex) semantic-only docs
	cands := make([]scored, 0, len(kw)+len(sem))
	pos := make(map[uint32]int, len(kw)+len(sem))
	for _, s := range kw {
		pos[s.doc] = len(cands)
		cands = append(cands, scored{doc: s.doc, exact: s.exact})
	}
	semScore := make(map[uint32]float64, len(sem))
	for _, s := range sem {
		semScore[s.doc] = s.score
		if _, ok := pos[s.doc]; !ok && f.Method != FusionRerank {
			pos[s.doc] = len(cands)
			cands = append(cands, scored{doc: s.doc})
		}
	}
	// keyword part: normalised over the keyword list; docs not in it get
	// the list's floor
	kv := make([]float64, len(kw))
	for i, s := range kw {
		kv[i] = s.score
	}
	kn, kfloor := normalize(kv, f.Norm)
	for i := range kw {
		cands[i].score = f.Alpha * kn[i]
	}
	for i := len(kw); i < len(cands); i++ {
		cands[i].score = f.Alpha * kfloor
	}
	// semantic part: similarities of all candidates that have one
	var sv []float64
	var si []int
	for i, c := range cands {
		v, ok := semScore[c.doc]
		if !ok && sim != nil {
			v, ok = sim(c.doc)
		}
		if ok {
			sv = append(sv, v)
			si = append(si, i)
		}
	}
	sn, sfloor := normalize(sv, f.Norm)
	fill := sfloor // candidates without a vector: as the least similar
	if f.Method == FusionRerank && len(sn) > 0 {
		fill = 0 // …or, when reranking keyword results, neutral (the mean)
		for _, x := range sn {
			fill += x
		}
		fill /= float64(len(sn))
	}
	has := make([]bool, len(cands))
	for k, i := range si {
		cands[i].score += ws * sn[k]
		has[i] = true
	}
	for i := range cands {
		if !has[i] {
			cands[i].score += ws * fill
		}
	}
	return cands
}

// normalize maps scores to comparable values: min-max to [0,1] (default),
// z-scores, or linear rank values 1 - rank/n. It returns the values and
// the floor to give an item missing from the list.
func normalize(x []float64, norm string) ([]float64, float64) {
	out := make([]float64, len(x))
	if len(x) == 0 {
		return out, 0
	}
	switch norm {
	case NormZScore:
		var mean, sq float64
		for _, v := range x {
			mean += v
		}
		mean /= float64(len(x))
		lo := math.Inf(1)
		for _, v := range x {
			sq += (v - mean) * (v - mean)
			lo = min(lo, v)
		}
		sd := math.Sqrt(sq / float64(len(x)))
		if sd == 0 {
			return out, 0
		}
		for i, v := range x {
			out[i] = (v - mean) / sd
		}
		return out, (lo - mean) / sd
	case NormRank:
		idx := make([]int, len(x))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] > x[idx[b]] })
		n := float64(len(x))
		for r, i := range idx {
			out[i] = 1 - float64(r)/n
		}
		return out, 0
	default:
		lo, hi := x[0], x[0]
		for _, v := range x {
			lo, hi = min(lo, v), max(hi, v)
		}
		if hi == lo {
			for i := range out {
				out[i] = 1
			}
			return out, 0
		}
		for i, v := range x {
			out[i] = (v - lo) / (hi - lo)
		}
		return out, 0
	}
}

// exactShare is the share of the first n keyword results that are exact
// matches: how sure keyword search is of its answer.
func exactShare(kw []scored, n int) float64 {
	n = min(n, len(kw))
	if n == 0 {
		return 0
	}
	e := 0
	for _, s := range kw[:n] {
		if s.exact {
			e++
		}
	}
	return float64(e) / float64(n)
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

// simFunc returns the similarity of a doc's vector to q (false without a
// vector). The caller holds the read lock while using it.
func (ix *Index) simFunc(q []float32) func(uint32) (float64, bool) {
	qq := ann.NewQuery(q)
	return func(d uint32) (float64, bool) {
		s := qq.Score(ix.docs[d].vec)
		return float64(s), s == s
	}
}
