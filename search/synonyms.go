package search

import (
	"fmt"
	"slices"

	"github.com/aisle-dev/aisle/search/analysis"
)

// compileNegations returns the analysed terms of the negation words
// (Config.NegationWords) as a set.
func compileNegations(an *analysis.Analyzer, words []string) map[string]bool {
	m := map[string]bool{}
	for _, w := range words {
		for _, t := range an.Terms(w) {
			m[t] = true
		}
	}
	return m
}

// compileSynonyms maps each analysed word of a synonym group to the others.
func compileSynonyms(an *analysis.Analyzer, groups [][]string) (map[string][]string, error) {
	syns := map[string][]string{}
	for gi, g := range groups {
		var terms []string
		for _, w := range g {
			ts := an.Terms(w)
			if len(ts) != 1 {
				return nil, fmt.Errorf("synonym group %d: %q is %d words after analysis; only single words are supported", gi, w, len(ts))
			}
			terms = append(terms, ts[0])
		}
		for _, a := range terms {
			for _, b := range terms {
				if a != b && !slices.Contains(syns[a], b) {
					syns[a] = append(syns[a], b)
				}
			}
		}
	}
	return syns, nil
}
