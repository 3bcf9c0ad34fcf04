package assistant

import "strings"

// Spelling. Shoppers type "staplr", "calulator" and "lable maker"; the
// catalogue's own words (titles, brands, category names) are the
// dictionary. A word of a message that is not in it is replaced by the
// most frequent catalogue word at one edit (two for words of eight
// letters or more; a transposition is one edit). Words of three letters
// are only completed ("blu" → "blue"): at that length one edit reaches
// too many words.

// wordIndex is the catalogue's words by first letter and length, with
// how many products use each.
type wordIndex struct {
	freq  map[string]int
	byLen map[lenKey][]string
}

type lenKey struct {
	first byte
	n     int
}

func newWordIndex() *wordIndex {
	return &wordIndex{freq: map[string]int{}, byLen: map[lenKey][]string{}}
}

func (x *wordIndex) add(w string) {
	if w == "" {
		return
	}
	if x.freq[w] == 0 {
		k := lenKey{w[0], len(w)}
		x.byLen[k] = append(x.byLen[k], w)
	}
	x.freq[w]++
}

// known reports whether the catalogue uses w.
func (x *wordIndex) known(w string) bool { return x.freq[w] > 0 }

// correct returns the catalogue word w was probably meant to be, or ""
// when w is known, too short, not a plain word, or nothing is close.
func (x *wordIndex) correct(w string) string {
	n := len(w)
	if n < 3 || n > 30 || x.known(w) || !isASCIILetters(w) {
		return ""
	}
	if n == 3 {
		best := ""
		for _, c := range x.byLen[lenKey{w[0], 4}] {
			if strings.HasPrefix(c, w) && x.better(c, best) {
				best = c
			}
		}
		return best
	}
	maxEd := 1
	if n >= 8 {
		maxEd = 2
	}
	best, bestEd := "", maxEd+1
	for l := n - maxEd; l <= n+maxEd; l++ {
		for _, c := range x.byLen[lenKey{w[0], l}] { // a first letter is rarely mistyped
			d := editDistance(w, c, maxEd)
			if d < bestEd || (d == bestEd && x.better(c, best)) {
				best, bestEd = c, d
			}
		}
	}
	if bestEd > maxEd {
		return ""
	}
	return best
}

func (x *wordIndex) better(c, best string) bool {
	return best == "" || x.freq[c] > x.freq[best] || (x.freq[c] == x.freq[best] && c < best)
}

func isASCIILetters(w string) bool {
	for i := 0; i < len(w); i++ {
		if w[i] < 'a' || w[i] > 'z' {
			return false
		}
	}
	return true
}

// editDistance is the optimal string alignment distance of two ASCII
// words (insertions, deletions, substitutions, adjacent transpositions),
// or max+1 as soon as it must exceed max.
func editDistance(a, b string, max int) int {
	if d := len(a) - len(b); d > max || -d > max {
		return max + 1
	}
	if len(b) > 40 {
		return max + 1
	}
	var r0, r1, r2 [41]int // three rows, on the stack
	prev2, prev, cur := r0[:len(b)+1], r1[:len(b)+1], r2[:len(b)+1]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			rowMin = min(rowMin, v)
		}
		if rowMin > max {
			return max + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
