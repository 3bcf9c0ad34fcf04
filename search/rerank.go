package search

import "math"

// rerank orders the candidates by the ranker's score, then applies the
// exact-match guard to exact matches as a class: at every rank, the
// re-ranked list holds at least as many exact keyword matches (every query
// word in the title as typed) as the keyword list does. The ranker may
// reorder exact matches among themselves (with one-word queries nearly
// every match is exact, and a per-item guard would freeze the keyword
// order), but no other item ever pushes an exact match further down than
// keyword ranking put exact matches.
//
// The shopper's affinity (the affinity feature, from Request.Boost) then
// lifts an item by at most boostWeight times the spread of the ranker's
// scores over the candidates, so personalisation reorders close calls
// and relevance dominates, as in the other modes.
func rerank(l *ltrList, r Ranker, boostWeight float64) []scored {
	out := make([]scored, len(l.docs))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, s := range l.docs {
		out[i] = scored{doc: s.doc, score: r.Score(l.feats[i]), exact: s.exact}
		lo, hi = min(lo, out[i].score), max(hi, out[i].score)
	}
	if boostWeight > 0 && hi > lo {
		for i := range out {
			if a := float64(l.feats[i][fAffinity]); a > 0 {
				out[i].score += boostWeight * min(a, 1) * (hi - lo)
			}
		}
	}
	sortScored(out)
	return guardExactClass(out, l.kw)
}

// guardExactClass moves exact matches of ranked forward (keeping their
// order, and the order of the others) until every prefix of the result
// holds at least as many exact matches as the same prefix of kw. Scores
// stay non-increasing: a moved item takes the score of the item it passes.
func guardExactClass(ranked, kw []scored) []scored {
	need := make([]int, len(ranked)+1) // exact matches in kw[:r]
	for r := 1; r <= len(ranked); r++ {
		need[r] = need[r-1]
		if r-1 < len(kw) && kw[r-1].exact {
			need[r]++
		}
	}
	var exact, other []scored
	for _, s := range ranked {
		if s.exact {
			exact = append(exact, s)
		} else {
			other = append(other, s)
		}
	}
	out := make([]scored, 0, len(ranked))
	e, o := 0, 0
	for len(out) < len(ranked) {
		takeExact := e < len(exact) && (o >= len(other) || need[len(out)+1] > e || less(other[o], exact[e]))
		var s scored
		if takeExact {
			s = exact[e]
			e++
		} else {
			s = other[o]
			o++
		}
		if n := len(out); n > 0 && s.score > out[n-1].score {
			s.score = out[n-1].score
		}
		out = append(out, s)
	}
	return out
}

// less reports whether a ranks after b in score order (ties by doc id).
func less(a, b scored) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	return a.doc > b.doc
}
