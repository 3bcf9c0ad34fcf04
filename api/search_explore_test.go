package api

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/experiment"
	"github.com/aisle-dev/aisle/impressions"
)

// With experiments.search_explore_share at 1 every search answer that may
// be explored is: its first page in relevance order with nothing pinned,
// sponsored or moved by a rule among the first 10, whose first 10 items
// are shuffled (impressions.ExploreOrder of the plain answer), the rest
// in place, the scores staying with the positions, and its impression
// flagged. Every other answer (a later page, a sort the shopper chose, a
// pin or boost rule, an ad among the first 10) is the plain answer and is
// not flagged, so the fit of search positions reads only shuffled lists.
func TestSearchExploreShareShufflesOnlyAllowedPositions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two shops of 5,000 items")
	}
	plain, explored := merchBenchServer(t), merchBenchServer(t)
	dir := t.TempDir()
	imp, err := impressions.Open(filepath.Join(dir, "impressions.db"), impressions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// recommendations are not explored: only search is
	m, err := experiment.Open(experiment.Options{Path: filepath.Join(dir, "experiments.db"), Impressions: imp, SearchExploreShare: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- imp.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		m.Close()
		imp.Close()
	})
	explored.AddExperimentRoutes(m)
	type hit struct {
		ID        string  `json:"id"`
		Score     float64 `json:"score"`
		Pinned    bool    `json:"pinned"`
		Sponsored bool    `json:"sponsored"`
	}
	get := func(srv *Server, path string) ([]hit, string) {
		t.Helper()
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		var ans struct {
			RequestID string `json:"request_id"`
			Items     []hit  `json:"items"`
		}
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &ans) != nil {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		return ans.Items, ans.RequestID
	}
	ids := func(hs []hit) []string {
		out := make([]string, len(hs))
		for i, h := range hs {
			out[i] = h.ID
		}
		return out
	}
	for _, tc := range []struct {
		name, path string
		explored   bool
		// fixed: an item of the first 10 the shuffle must not move
		// (pinned or sponsored), checked in the plain answer
		fixed bool
	}{
		{"first page, relevance order", "/api/search?q=red+stapler&n=10&ads=off", true, false},
		{"first page of 20: only the first 10 move", "/api/search?q=red+stapler&n=20&ads=off", true, false},
		{"second page", "/api/search?q=red+stapler&n=10&offset=10&ads=off", false, false},
		{"sorted by price", "/api/search?q=red+stapler&n=10&sort=price_asc&ads=off", false, false},
		{"a rule pins an item and boosts a brand", "/api/search?q=blue+pen&n=10&ads=off", false, true},
		{"a sponsored item among the first 10", "/api/search?q=pen&n=10&rules=off", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, _ := get(plain, tc.path)
			got, id := get(explored, tc.path)
			if len(want) < 5 {
				t.Fatalf("%d items, too few to tell", len(want))
			}
			if fixed := slices.ContainsFunc(want[:min(10, len(want))], func(h hit) bool { return h.Pinned || h.Sponsored }); fixed != tc.fixed {
				t.Fatalf("fixture: plain answer %v has a pinned or sponsored item in its first 10: %v, want %v", ids(want), fixed, tc.fixed)
			}
			top := min(len(want), impressions.ExploreTop)
			wantIDs := ids(want)
			if tc.explored {
				for i, j := range impressions.ExploreOrder(id, top) {
					wantIDs[i] = want[j].ID
				}
				if slices.Equal(wantIDs, ids(want)) {
					t.Fatalf("fixture: ExploreOrder of %s left %v as it was", id, wantIDs)
				}
			}
			if tc.fixed {
				// an ad's auction may change with its impressions: the
				// fixed items keep their slots, the organic ones their order
				for i := range want {
					if (want[i].Pinned || want[i].Sponsored) && (i >= len(got) || got[i].ID != want[i].ID) {
						t.Fatalf("position %d: want the fixed %s (plain %v, got %v)", i+1, want[i].ID, ids(want), ids(got))
					}
				}
				organic := func(hs []hit) []string {
					return ids(slices.DeleteFunc(slices.Clone(hs), func(h hit) bool { return h.Sponsored }))
				}
				if !slices.Equal(organic(got), organic(want)) {
					t.Fatalf("got %v, want the plain order %v", ids(got), ids(want))
				}
			} else if !slices.Equal(ids(got), wantIDs) {
				t.Fatalf("got %v, want %v (plain %v)", ids(got), wantIDs, ids(want))
			}
			for i := range want {
				if got[i].Score != want[i].Score {
					t.Fatalf("position %d score %v, plain %v: want the positions' scores unchanged", i+1, got[i].Score, want[i].Score)
				}
			}
			var logged impressions.Impression
			for range 300 { // the writer batches every 50 ms
				if l, ok, err := imp.Get(id); err == nil && ok {
					logged = l
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if logged.RequestID != id || logged.Surface != "search" || logged.Explored != tc.explored || !slices.Equal(logged.Items, ids(got)) {
				t.Fatalf("impression of %s: %+v, want surface search, explored %v, items %v", id, logged, tc.explored, ids(got))
			}
		})
	}
	// recommendation answers keep their order: their share is 0
	want, _ := get(plain, "/api/popular?n=10&ads=off&rules=off")
	got, _ := get(explored, "/api/popular?n=10&ads=off&rules=off")
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("popular %v, plain %v: the search share must not explore recommendations", ids(got), ids(want))
	}
}
