package search

import (
	"context"
	"reflect"
	"testing"
)

// Highlight and HighlightResult (the words compiled by the search that
// found the hits) give the hits of a search without highlights the
// highlights Search would have given them, in any order, and leave unknown
// ids alone.
func TestHighlightMatchesSearch(t *testing.T) {
	ix := newTestIndex(t, DefaultConfig(), nil, fixture())
	for _, fromResult := range []bool{false, true} {
		for _, q := range []string{"black marker", "printer paper", "running shoes", "notebook sheets", "红色", "nothing here"} {
			with := search(t, ix, Request{Query: q, N: 10})
			without, err := ix.Search(context.Background(), Request{Query: q, N: 10, NoHighlights: true})
			if err != nil {
				t.Fatal(err)
			}
			hits := append([]Hit{{ID: "no-such-item"}}, without.Items...)
			for i, j := 1, len(hits)-1; i < j; i, j = i+1, j-1 { // reversed: order does not matter
				hits[i], hits[j] = hits[j], hits[i]
			}
			if fromResult {
				if !without.compiled {
					t.Fatalf("%q: the result does not carry its compiled words", q)
				}
				ix.HighlightResult(without, q, hits)
			} else {
				ix.Highlight(q, hits)
			}
			if hits[0].Highlights != nil {
				t.Errorf("%q: an unknown id got highlights %v", q, hits[0].Highlights)
			}
			want := map[string]map[string]string{}
			for _, h := range with.Items {
				want[h.ID] = h.Highlights
			}
			for _, h := range hits[1:] {
				if !reflect.DeepEqual(h.Highlights, want[h.ID]) {
					t.Errorf("%q, item %s: highlights %v, Search gave %v", q, h.ID, h.Highlights, want[h.ID])
				}
			}
			if q != "nothing here" && len(with.Items) > 0 && len(want[with.Items[0].ID]) == 0 {
				t.Errorf("%q: the best hit has no highlight to compare", q)
			}
		}
	}
}
