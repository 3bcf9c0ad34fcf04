package search

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func querySuggestions(ix *Index, prefix string) []string {
	var out []string
	for _, s := range ix.Suggest(prefix, 20) {
		if s.Kind == "query" {
			out = append(out, s.Text)
		}
	}
	return out
}

// Issue 12 item 4: one anonymous search planted its text in suggestions
// for everyone, and every distinct query was kept forever.
func TestSuggestResistsPoisoning(t *testing.T) {
	ix := newTestIndex(t, DefaultConfig(), nil, fixture())
	for i := 0; i < 10; i++ { // one shopper, many times
		ix.RecordSearch("pen visit scam-shop dot example", "mallory")
	}
	ix.RecordSearch("pen visit scam-shop dot example", "") // unknown shoppers vouch for nothing
	ix.RecordSearch("pen visit scam-shop dot example", "")
	if got := querySuggestions(ix, "pen"); len(got) != 0 {
		t.Fatalf("one shopper's query is suggested: %v", got)
	}
	ix.RecordSearch("pencil case", "u1")
	ix.RecordSearch("pencil case", "u2")
	if got := querySuggestions(ix, "pen"); len(got) != 0 {
		t.Fatalf("suggested after 2 shoppers: %v", got)
	}
	ix.RecordSearch("Pencil  case", "u3")
	if got := querySuggestions(ix, "pen"); len(got) != 1 || got[0] != "pencil case" {
		t.Fatalf("after 3 shoppers: %v", got)
	}
	// Removal, and it does not come back.
	if !ix.RemoveSuggestion("pencil CASE") {
		t.Fatal("remove: not known")
	}
	for _, u := range []string{"u4", "u5", "u6"} {
		ix.RecordSearch("pencil case", u)
	}
	if got := querySuggestions(ix, "pen"); len(got) != 0 {
		t.Fatalf("removed suggestion is back: %v", got)
	}
	if ix.RemoveSuggestion("never searched") {
		t.Fatal("remove of an unknown query reported success")
	}
}

func TestSuggestBlockList(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SuggestBlock = []string{"Scam Shop", "casino"}
	ix := newTestIndex(t, cfg, nil, fixture())
	for _, q := range []string{"pens scam shop deals", "casino pens", "pens casinos"} {
		ix.RecordQuery(q)
	}
	if got := querySuggestions(ix, "p"); len(got) != 1 || got[0] != "pens casinos" {
		t.Fatalf("block list: %v", got)
	}
	if got := querySuggestions(ix, "c"); len(got) != 0 {
		t.Fatalf("block list: %v", got)
	}
}

func TestSuggestStoreIsBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SuggestMaxQueries = 100
	ix := newTestIndex(t, cfg, nil, fixture())
	for i := 0; i < 5000; i++ {
		q := fmt.Sprintf("query %d", i)
		ix.RecordSearch(q, "a")
		if i%50 == 0 { // every 50th query is popular
			ix.RecordSearch(q, "b")
			ix.RecordSearch(q, "c")
			ix.RecordSearch(q, "d")
		}
	}
	sugg, pending := ix.SuggestionStats()
	if sugg > 100 || pending > 100 {
		t.Fatalf("%d suggested, %d pending: want at most 100 each", sugg, pending)
	}
	if sugg != 100 {
		t.Fatalf("%d suggested, want the 100 popular queries", sugg)
	}
	if got := querySuggestions(ix, "query 4950"); len(got) != 1 {
		t.Fatalf("a popular query was dropped: %v", got)
	}
}

// Issue 12 item 5: a 900 KB one-word query took 10.5 s.
func TestSearchRefusesHugeQuery(t *testing.T) {
	ix := newTestIndex(t, DefaultConfig(), nil, fixture())
	_, err := ix.Search(context.Background(), Request{Query: strings.Repeat("a", 900<<10)})
	if err == nil || !strings.Contains(err.Error(), "longer than the 512") {
		t.Fatalf("got %v", err)
	}
	if _, err := ix.Search(context.Background(), Request{Query: strings.Repeat("pen ", 128)}); err != nil {
		t.Fatalf("a 512-byte query: %v", err)
	}
	if s := ix.Suggest(strings.Repeat("a", 900<<10), 5); s != nil {
		t.Fatalf("suggest of a huge prefix: %v", s)
	}
}
