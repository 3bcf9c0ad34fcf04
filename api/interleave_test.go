package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/search"
)

// keywordRanker ranks by keyword rank (the serving version here); its
// reverse ranks the other way round (the challenger).
type keywordRanker struct{ reverse bool }

func (k keywordRanker) Score(f []float32) float64 {
	r := float64(f[slices.Index(search.FeatureNames(), "keyword_rrank")])
	if k.reverse {
		return -r
	}
	return r
}

func (keywordRanker) Check([]string) error { return nil }

// An answer of /api/search interleaved with a challenger ranker (the
// online promotion check) carries its request id like any other; its
// impression names the challenge and each item's team, its items are
// those of the two rankers' answers; clicks sent back with the request id
// are credited to the team that placed the item, once per answer and
// position however often they come, and the answer's verdict follows
// (impressions.Log.Duel).
func TestInterleavedSearchAnswersCarryTheRequestIDAndCreditOnce(t *testing.T) {
	ctx := context.Background()
	st, eng := testEngine(t)
	var items []catalog.Item
	for i := range 12 { // keyword ranking puts the shortest title first
		items = append(items, catalog.Item{ID: fmt.Sprintf("p%02d", i), Title: "pen" + strings.Repeat(" with more words", i), Available: true})
	}
	if err := eng.AddItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	svc := recommend.New(st, recommend.Config{}, nil)
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	if err := ix.Upsert(ctx, items...); err != nil {
		t.Fatal(err)
	}
	if err := ix.SetRanker(keywordRanker{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.AddSearchRoutes(ix, search.NewClicks(), svc, search.ModeLTR))
	m := experimentsFor(t, srv, st)
	eng.Subscribe(m)
	const duel = "duel:search-ltr@2"
	srv.SetSearchChallenge(1, func() (SearchChallenge, bool) {
		return SearchChallenge{Duel: duel, Ranker: keywordRanker{reverse: true}}, true
	})
	srv.SetReady(true)

	search := func(user string) (string, []string) {
		t.Helper()
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", "/api/search?q=pen&n=10&user_id="+user, nil))
		var ans struct {
			RequestID string `json:"request_id"`
			Variant   string `json:"variant"`
			Mode      string `json:"mode"`
			Items     []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &ans) != nil {
			t.Fatalf("search: %d %s", rec.Code, rec.Body)
		}
		if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(ans.RequestID) || ans.Variant != "" || ans.Mode != "ltr" {
			t.Fatalf("answer: request_id %q, variant %q, mode %q: want an id, no variant, ltr", ans.RequestID, ans.Variant, ans.Mode)
		}
		var ids []string
		for _, it := range ans.Items {
			ids = append(ids, it.ID)
		}
		return ans.RequestID, ids
	}
	send := func(body string) {
		t.Helper()
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("POST", "/api/events", strings.NewReader(body)))
		if rec.Code != 200 {
			t.Fatalf("POST /api/events: %d %s", rec.Code, rec.Body)
		}
	}
	impression := func(rid string) impressions.Impression {
		t.Helper()
		imp, ok, err := m.Impressions().Get(rid)
		if err != nil || !ok {
			t.Fatalf("impression %s: %v %v", rid, ok, err)
		}
		return imp
	}

	rid, got := search("u1")
	imp := impression(rid)
	if imp.Experiment != duel || imp.Variant != "interleaved" || !slices.Equal(imp.Items, got) || len(imp.Teams) != len(got) {
		t.Fatalf("impression %+v of answer %v: want the duel, its items and a team each", imp, got)
	}
	serving := []string{"p00", "p01", "p02", "p03", "p04", "p05", "p06", "p07", "p08", "p09"}
	challenger := []string{"p11", "p10", "p09", "p08", "p07", "p06", "p05", "p04", "p03", "p02"}
	for i, id := range got {
		want := serving
		if imp.Teams[i] == 1 {
			want = challenger
		}
		if imp.Teams[i] > 1 || !slices.Contains(want, id) {
			t.Fatalf("item %s at %d placed by team %d, which does not rank it: %v %v", id, i+1, imp.Teams[i], got, imp.Teams)
		}
	}
	if !slices.Contains(imp.Teams, 0) || !slices.Contains(imp.Teams, 1) {
		t.Fatalf("teams %v: want both rankers in the answer", imp.Teams)
	}
	ofTeam := func(imp impressions.Impression, team uint8) (string, int) {
		i := slices.Index(imp.Teams, team)
		return imp.Items[i], i + 1
	}
	// the challenger's item clicked twice and bought: one credit
	id, pos := ofTeam(imp, 1)
	ev := func(user, typ, item, rid string, pos int, at string) string {
		return fmt.Sprintf(`{"user_id":%q,"session_id":"s-%s","item_id":%q,"type":%q,"request_id":%q,"position":%d,"timestamp":%q}`, user, user, item, typ, rid, pos, at)
	}
	send("[" + ev("u1", "click", id, rid, pos, "2026-03-01T10:00:00Z") + "," + ev("u1", "click", id, rid, pos, "2026-03-01T10:00:05Z") + "]")
	send("[" + ev("u1", "click", id, rid, pos, "2026-03-01T10:01:00Z") + "," + ev("u1", "purchase", id, rid, pos, "2026-03-01T10:02:00Z") + "]")
	// a second answer: one item of each team clicked, a tie
	rid2, _ := search("u2")
	imp2 := impression(rid2)
	a, pa := ofTeam(imp2, 0)
	b, pb := ofTeam(imp2, 1)
	send("[" + ev("u2", "click", a, rid2, pa, "2026-03-01T11:00:00Z") + "," + ev("u2", "click", b, rid2, pb, "2026-03-01T11:00:10Z") + "]")
	// a third, unclicked: counted as shown, decides nothing
	search("u3")

	want := impressions.DuelTally{Answers: 3, Wins: 1, Ties: 1}
	var tl impressions.DuelTally
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) { // the log's writer takes its queue every 50 ms
		if tl, err = m.Impressions().Duel(ctx, duel, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if tl == want {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // nothing more arrives later
	if tl, err = m.Impressions().Duel(ctx, duel, time.Time{}); err != nil || tl != want {
		t.Fatalf("tally %+v (%v), want %+v", tl, err, want)
	}
	// a page other than the first is never interleaved
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("GET", "/api/search?q=pen&n=5&offset=5&user_id=u4", nil))
	var page2 struct {
		RequestID string `json:"request_id"`
	}
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &page2) != nil {
		t.Fatalf("page 2: %d %s", rec.Code, rec.Body)
	}
	if imp := impression(page2.RequestID); imp.Experiment != "" || imp.Teams != nil {
		t.Fatalf("page 2 logged as %+v: want no duel", imp)
	}
}
