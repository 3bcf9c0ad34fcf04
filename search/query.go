package search

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/aisle-dev/aisle/search/analysis"
)

// parsedQuery is the shopper's query split into free text, quoted phrases
// and excluded words ("-refill").
type parsedQuery struct {
	text     string   // free text, phrases included, in query order
	phrases  []string // quoted phrases
	excluded []string // words after a leading '-'
	typing   bool     // the query does not end in a space: the last word may be unfinished
}

// parseQuery splits a raw query. Syntax: words; "quoted phrases" (an
// unterminated quote runs to the end); -word excludes items containing word.
// A '-' inside a word or alone is text. It never fails.
func parseQuery(q string) parsedQuery {
	var p parsedQuery
	var text []string
	last, _ := utf8.DecodeLastRuneInString(q)
	p.typing = q != "" && !unicode.IsSpace(last) && last != '"'
	for i := 0; i < len(q); {
		r, sz := utf8.DecodeRuneInString(q[i:])
		switch {
		case unicode.IsSpace(r):
			i += sz
		case r == '"':
			j := strings.IndexByte(q[i+1:], '"')
			var ph string
			if j < 0 {
				ph, i = q[i+1:], len(q)
			} else {
				ph, i = q[i+1:i+1+j], i+1+j+1
			}
			if ph = strings.TrimSpace(ph); ph != "" {
				p.phrases = append(p.phrases, ph)
				text = append(text, ph)
			}
		default:
			j := i
			for j < len(q) {
				r2, s2 := utf8.DecodeRuneInString(q[j:])
				if unicode.IsSpace(r2) || r2 == '"' {
					break
				}
				j += s2
			}
			w := q[i:j]
			i = j
			if len(w) > 1 && w[0] == '-' {
				p.excluded = append(p.excluded, w[1:])
				continue
			}
			text = append(text, w)
		}
	}
	p.text = strings.Join(text, " ")
	return p
}

// alt is one index term a query word may match, with the weight of that match.
type alt struct {
	term  uint32
	w     float64
	exact bool // the word itself or a synonym (not a typo or completion)
}

// group is one analysed query word and the terms it matches.
type group struct {
	term string
	alts []alt
}

// maxQueryWords bounds the distinct words of a query that are scored.
const maxQueryWords = 64

// compiled is a query ready to score.
type compiled struct {
	groups   []group
	excluded []uint32
	phrases  [][]int // phrases as group indexes
	hlTerms  map[string]bool
}

// compile analyses and expands a parsed query. Caller holds the read lock.
func (ix *Index) compile(p parsedQuery) compiled {
	var c compiled
	c.hlTerms = map[string]bool{}
	toks := ix.dropNegated(ix.an.Analyze(p.text))
	pos := map[string]int{}
	lastRaw := ""
	if p.typing && len(toks) > 0 {
		lt := toks[len(toks)-1]
		lastRaw = strings.ToLower(p.text[lt.Start:lt.End])
	}
	for k, t := range toks {
		if _, dup := pos[t.Term]; dup {
			continue
		}
		if len(c.groups) == maxQueryWords {
			break // longer queries are cut (coverage counts fit a byte)
		}
		pos[t.Term] = len(c.groups)
		g := group{term: t.Term}
		seen := map[uint32]bool{}
		addAlt := func(term string, w float64, exact bool) {
			id, ok := ix.termIDs[term]
			if !ok || seen[id] {
				return
			}
			seen[id] = true
			g.alts = append(g.alts, alt{term: id, w: w, exact: exact})
			c.hlTerms[term] = true
		}
		addAlt(t.Term, 1, true)
		for _, s := range ix.syns[t.Term] {
			addAlt(s, ix.cfg.SynonymWeight, true)
		}
		var exp []alt
		_, known := ix.termIDs[t.Term]
		// Typos only for words the catalogue does not know, and never in words
		// with digits: model numbers must match as typed.
		if !known && t.Kind == analysis.Word && ix.cfg.TypoWeight > 0 && !strings.ContainsAny(t.Term, "0123456789") {
			// The edit budget follows the word as typed: stemming shortens
			// "calculater" to "calculat", which must still reach "calcul".
			n := max(utf8.RuneCountInString(t.Term), utf8.RuneCountInString(p.text[t.Start:t.End]))
			edits := 0
			if ix.cfg.Typo2MinLen > 0 && n >= ix.cfg.Typo2MinLen {
				edits = 2
			} else if ix.cfg.Typo1MinLen > 0 && n >= ix.cfg.Typo1MinLen {
				edits = 1
			}
			if edits > 0 {
				ix.dict.fuzzy(t.Term, edits, func(_ string, id uint32, e int) {
					if e > 0 && !seen[id] {
						w := ix.cfg.TypoWeight
						if e > 1 {
							w *= ix.cfg.TypoWeight
						}
						exp = append(exp, alt{term: id, w: w})
					}
				})
			}
		}
		if k == len(toks)-1 && lastRaw != "" && !known && ix.cfg.PrefixWeight > 0 && t.Kind == analysis.Word &&
			utf8.RuneCountInString(lastRaw) >= ix.cfg.PrefixMinLen {
			for _, pre := range []string{lastRaw, t.Term} {
				scanned := 0
				ix.dict.prefix(pre, func(_ string, id uint32) bool {
					scanned++
					if !seen[id] {
						exp = append(exp, alt{term: id, w: ix.cfg.PrefixWeight})
					}
					return scanned < 20000
				})
			}
		}
		// keep the most frequent expansions, best weight per term
		sort.Slice(exp, func(a, b int) bool {
			if exp[a].w != exp[b].w {
				return exp[a].w > exp[b].w
			}
			da, db := len(ix.post[exp[a].term].docs), len(ix.post[exp[b].term].docs)
			if da != db {
				return da > db
			}
			return exp[a].term < exp[b].term
		})
		taken := 0
		for _, e := range exp {
			if taken >= ix.cfg.MaxExpansions {
				break
			}
			if seen[e.term] {
				continue
			}
			seen[e.term] = true
			g.alts = append(g.alts, e)
			c.hlTerms[ix.terms[e.term]] = true
			taken++
		}
		c.groups = append(c.groups, g)
	}
	for _, ph := range p.phrases {
		var idx []int
		for _, t := range ix.an.Terms(ph) {
			if g, ok := pos[t]; ok && g < len(c.groups) {
				idx = append(idx, g)
			}
		}
		if len(idx) > 1 {
			c.phrases = append(c.phrases, idx)
		}
	}
	for _, w := range p.excluded {
		for _, t := range ix.an.Terms(w) {
			if id, ok := ix.termIDs[t]; ok {
				c.excluded = append(c.excluded, id)
			}
		}
	}
	return c
}

// dropNegated removes negation words and the word after each from a query.
func (ix *Index) dropNegated(toks []analysis.Token) []analysis.Token {
	if len(ix.negs) == 0 {
		return toks
	}
	out := toks[:0]
	skipPos := -1
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.Pos == skipPos {
			continue
		}
		if ix.negs[t.Term] {
			skipPos = -1
			if i+1 < len(toks) {
				skipPos = toks[i+1].Pos
			}
			continue
		}
		out = append(out, t)
	}
	return out
}
