package search

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/events"
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

// Issue 12 item 4 (decision 0061): sessions cost nothing, so vouches of
// untrusted sources count by client network as well. Many sessions (or
// none) from one network do not make a suggestion; three networks do. An
// anonymous search read from the log only counts; a query that earned its
// place is suggested again after a restart once MarkEarned says so.
func TestSuggestNeedsDistinctNetworks(t *testing.T) {
	const q = "pen visit fresh-cookie-scam example"
	ix := newTestIndex(t, DefaultConfig(), nil, fixture())
	var earned []string
	ix.OnEarned(func(s string, ok bool) {
		if ok {
			earned = append(earned, s)
		}
	})
	for i := range 6 { // six sessions, one network
		ix.CountSearch(q)
		ix.VouchSearch(q, Source{Shopper: fmt.Sprintf("anon-s%d", i), Network: "net-A"})
	}
	for range 4 { // cookie-less: by network only
		ix.CountSearch(q)
		ix.VouchSearch(q, Source{Network: "net-A"})
	}
	ix.EventsAppended([]events.Event{{UserID: "anon-0123456789abcdef01234567", Type: events.Search, Query: q},
		{UserID: "anon-r-0123456789abcdef01234567", Type: events.Search, Query: q}, {UserID: "anon-r-89abcdef0123456789abcdef", Type: events.Search, Query: q}})
	if got := querySuggestions(ix, "pen"); len(got) != 0 {
		t.Fatalf("sessions from one network planted a suggestion: %v", got)
	}
	ix.VouchSearch(q, Source{Network: "net-B"})
	if got := querySuggestions(ix, "pen"); len(got) != 0 {
		t.Fatalf("two networks made a suggestion: %v", got)
	}
	ix.VouchSearch(q, Source{Shopper: "anon-s9", Network: "net-C"})
	if got := querySuggestions(ix, "pen"); len(got) != 1 || got[0] != q {
		t.Fatalf("three networks and sessions: %v", got)
	}
	if len(earned) != 1 || earned[0] != q {
		t.Fatalf("earned %v", earned)
	}
	// restart: the log's anonymous searches count but do not vouch, unless
	// the query earned its place before
	fresh := newTestIndex(t, DefaultConfig(), nil, fixture())
	var replay []events.Event
	for i := range 3 { // storefront sessions and read-key pseudonyms
		replay = append(replay, events.Event{UserID: fmt.Sprintf("anon-%024x", i), Type: events.Search, Query: q},
			events.Event{UserID: fmt.Sprintf("anon-r-%024x", i), Type: events.Search, Query: q})
	}
	fresh.EventsAppended(replay)
	if got := querySuggestions(fresh, "pen"); len(got) != 0 {
		t.Fatalf("anonymous searches from the log vouch: %v", got)
	}
	fresh.MarkEarned(earned)
	if got := querySuggestions(fresh, "pen"); len(got) != 1 || got[0] != q {
		t.Fatalf("after MarkEarned: %v", got)
	}
	// users named by a key that writes (POST /api/events) vouch as
	// themselves, also under an "anon-" name of their own
	for _, u := range []string{"u1", "anon-u2", "anon-0123"} {
		fresh.EventsAppended([]events.Event{{UserID: u, Type: events.Search, Query: "pencil sharpener"}})
	}
	if got := querySuggestions(fresh, "pencil"); len(got) != 1 {
		t.Fatalf("three named users: %v", got)
	}
}

// A removed query can be restored: it is suggested again once searched.
func TestSuggestRestore(t *testing.T) {
	ix := newTestIndex(t, DefaultConfig(), nil, fixture())
	ix.RemoveSuggestion("pencil case")
	for _, u := range []string{"u1", "u2", "u3"} {
		ix.RecordSearch("pencil case", u)
	}
	if got := querySuggestions(ix, "pen"); len(got) != 0 {
		t.Fatalf("removed query suggested: %v", got)
	}
	if !ix.RestoreSuggestion("Pencil case") || ix.RestoreSuggestion("pencil case") {
		t.Fatal("restore did not report the removal once")
	}
	for _, u := range []string{"u1", "u2", "u3"} {
		ix.RecordSearch("pencil case", u)
	}
	if got := querySuggestions(ix, "pen"); len(got) != 1 {
		t.Fatalf("restored query not suggested: %v", got)
	}
}

// Forgetting a shopper who vouched with a network takes their network out
// too (a vouch is a (shopper, network) pair): the query waits for a third
// network again, and the caller hears that it is no longer earned.
func TestForgetTakesTheNetworkOut(t *testing.T) {
	const q = "pencil case"
	ix := newTestIndex(t, DefaultConfig(), nil, fixture())
	heard := map[string]bool{}
	ix.OnEarned(func(s string, ok bool) { heard[s] = ok })
	for i, net := range []string{"A", "B", "C"} {
		ix.CountSearch(q)
		ix.VouchSearch(q, Source{Shopper: fmt.Sprintf("anon-s%d", i), Network: net})
	}
	if got := querySuggestions(ix, "pen"); len(got) != 1 || !heard[q] {
		t.Fatalf("three networks: %v, heard %v", got, heard)
	}
	if _, removed := ix.ForgetSearches("anon-s0", []string{q}); removed != 1 {
		t.Fatalf("forgetting one of three vouchers removed %d suggestions", removed)
	}
	if ok, told := heard[q]; !told || ok {
		t.Fatalf("the caller was not told the query lost its place: %v", heard)
	}
	ix.CountSearch(q)
	ix.VouchSearch(q, Source{Shopper: "anon-s3", Network: "B"}) // a third shopper, but no third network
	if got := querySuggestions(ix, "pen"); len(got) != 0 {
		t.Fatalf("the forgotten shopper's network still counts: %v", got)
	}
	ix.VouchSearch(q, Source{Shopper: "anon-s4", Network: "D"})
	if got := querySuggestions(ix, "pen"); len(got) != 1 {
		t.Fatalf("a third network again: %v", got)
	}
}
