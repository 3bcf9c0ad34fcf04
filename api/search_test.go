package api

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/store/boltstore"
)

func TestFusionParams(t *testing.T) {
	base := search.Fusion{Method: "convex", Alpha: 0.7, RRFK: 60, Depth: 100}
	for _, c := range []struct {
		method, alpha, k string
		want             *search.Fusion
		bad              bool
	}{
		{"", "", "", nil, false},
		{"rrf", "", "", &search.Fusion{Method: "rrf", Alpha: 0.7, RRFK: 60, Depth: 100}, false},
		{"", "0.25", "", &search.Fusion{Method: "convex", Alpha: 0.25, RRFK: 60, Depth: 100}, false},
		{"rrf", "1", "10", &search.Fusion{Method: "rrf", Alpha: 1, RRFK: 10, Depth: 100}, false},
		{"magic", "", "", nil, true},
		{"", "1.5", "", nil, true},
		{"", "-0.1", "", nil, true},
		{"", "NaN", "", nil, true},
		{"", "x", "", nil, true},
		{"", "", "0", nil, true},
		{"", "", "-3", nil, true},
		{"", "", "NaN", nil, true},
	} {
		got, msg := fusionParams(base, c.method, c.alpha, c.k)
		if c.bad {
			if msg == "" {
				t.Errorf("%q %q %q accepted: %+v", c.method, c.alpha, c.k, got)
			}
			continue
		}
		if msg != "" || (got == nil) != (c.want == nil) || (got != nil && *got != *c.want) {
			t.Errorf("%q %q %q = %+v %q, want %+v", c.method, c.alpha, c.k, got, msg, c.want)
		}
	}
}

// FuzzFusionParams: whatever the query string holds, the fusion is
// either refused with a message or valid.
func FuzzFusionParams(f *testing.F) {
	for _, s := range [][3]string{{"convex", "0.5", ""}, {"rrf", "", "60"}, {"rerank", "1", "1e6"}, {"", "NaN", "-1"}, {"x", "1e400", "Inf"}} {
		f.Add(s[0], s[1], s[2])
	}
	base := search.DefaultConfig().Fusion
	f.Fuzz(func(t *testing.T, method, alpha, k string) {
		got, msg := fusionParams(base, method, alpha, k)
		if msg != "" {
			if got != nil {
				t.Fatalf("refused with %q but returned %+v", msg, got)
			}
			return
		}
		if got == nil {
			if method != "" || alpha != "" || k != "" {
				t.Fatalf("accepted %q %q %q without a fusion", method, alpha, k)
			}
			return
		}
		if err := got.Validate(); err != nil || !(got.RRFK > 0) || math.IsInf(got.RRFK, 0) {
			t.Fatalf("accepted %q %q %q as invalid %+v: %v", method, alpha, k, got, err)
		}
	})
}

// The search log hands back (for the click model) only the searches the
// store will keep, so what the model learns live is what a restart
// replays.
func TestSearchLogAddsOnlyStorableSearches(t *testing.T) {
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng, err := engine.New(engine.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	l := newSearchLog(eng, slog.New(slog.DiscardHandler), prometheus.NewCounter(prometheus.CounterOpts{Name: "dropped"}), nil)
	for _, c := range []struct {
		name, user, session, query string
		want                       bool
	}{
		{"session", "", "s1", "ink", true},
		{"user", "u1", "", "ink", true},
		{"neither", "", "", "ink", false},
		{"blank query", "", "s1", "   ", false},
		{"invalid UTF-8 query", "", "s1", "ink \xff", false},
		{"session with white space", "", " s1", "ink", false},
		{"user too long", strings.Repeat("u", 1000), "s1", "ink", false},
	} {
		if e, ok := l.add(c.user, c.session, c.query, 3); ok != c.want {
			t.Errorf("%s: add = %v, want %v (%+v)", c.name, ok, c.want, e)
		}
	}
	l.close()
	n := 0
	if err := st.ScanEvents(context.Background(), 0, func(events.Event) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d searches stored, want the 2 handed back", n)
	}
}

// anyRanker accepts any feature schema and scores nothing.
type anyRanker struct{}

func (anyRanker) Score([]float32) float64 { return 0 }
func (anyRanker) Check([]string) error    { return nil }

// noImages has image similarity for no item.
type noImages struct{}

func (noImages) ImageCloseness(_, _ []string) ([]float32, []bool) { return nil, nil }

// TestPersonaliseFillsRecentOnlyWhenUsed: the shopper's recent items are
// looked up for a learned-ranking search with image similarity, and not
// for any other search (they would cost a store read for nothing).
func TestPersonaliseFillsRecentOnlyWhenUsed(t *testing.T) {
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	p := &Personaliser{Index: ix, Recent: func(_ context.Context, user string, n int) ([]string, error) {
		calls++
		if n != search.MaxImageAnchors {
			t.Errorf("asked for %d recent items", n)
		}
		return []string{user + "-a", user + "-b"}, nil
	}}
	run := func(mode search.Mode, user string) []string {
		req := search.Request{Query: "pen", Mode: mode}
		if err := p.Personalise(context.Background(), &req, user); err != nil {
			t.Fatal(err)
		}
		return req.Recent
	}
	if r := run(search.ModeLTR, "u1"); r != nil || calls != 0 {
		t.Errorf("no ranker yet: recent %v after %d lookups", r, calls)
	}
	if err := ix.SetRanker(anyRanker{}); err != nil {
		t.Fatal(err)
	}
	if r := run(search.ModeLTR, "u1"); r != nil || calls != 0 {
		t.Errorf("ranker without images: recent %v after %d lookups", r, calls)
	}
	ix.SetImageCloseness(noImages{})
	if r := run(search.ModeKeyword, "u1"); r != nil || calls != 0 {
		t.Errorf("keyword search: recent %v after %d lookups", r, calls)
	}
	if r := run(search.ModeLTR, ""); r != nil || calls != 0 {
		t.Errorf("nobody: recent %v after %d lookups", r, calls)
	}
	if r := run(search.ModeLTR, "u1"); len(r) != 2 || r[0] != "u1-a" || calls != 1 {
		t.Errorf("learned ranking with images: recent %v after %d lookups", r, calls)
	}
}

// A search logged just before the shopper's deletion is written before the
// deletion, not after it: the forgotten user must not come back from the
// search log's queue (TestForgetEverywhereE2E found 22 of 23 events and a
// user record answering 200 after the DELETE when the search landed late).
func TestSearchLoggedBeforeDeleteDoesNotBringTheUserBack(t *testing.T) {
	r := newSuggestRig(t, t.TempDir(), search.DefaultConfig())
	for i := range 5 {
		u := fmt.Sprintf("u%d", i)
		r.search("pen", "&user_id="+u, "admin-k", "192.0.2.1:1")
		if code, body := r.do("DELETE", "/api/users/"+u, "admin-k", "192.0.2.1:1"); code != http.StatusOK {
			t.Fatalf("delete %s: %d %v", u, code, body)
		}
	}
	r.srv.search.log.close() // writes whatever is still queued
	for i := range 5 {
		u := fmt.Sprintf("u%d", i)
		if evs, err := r.eng.UserEvents(context.Background(), u, 10); err != nil || len(evs) != 0 {
			t.Errorf("%s's search was written after the deletion: %+v, %v", u, evs, err)
		}
	}
}
