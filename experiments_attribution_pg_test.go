package aisle

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/store/pgstore/pgtest"
)

// Attribution does not depend on the replica that served the answer
// (issue 15, session 7), and results agree at once. Two replicas on one
// PostgreSQL schema and one feed: answers served by A, clicks and carts
// carrying their request ids sent to B. B attributes them from the
// request id alone (A's impression log is not B's) and adds them to the
// store before it acknowledges the events, so results asked right after
// the acknowledgement — no waiting — count them, the same on both
// replicas; later, when A hears the events through the feed, nothing is
// counted twice. B reads the surface of an answer A served from its id
// (what weighs a click for the popular list), and the contract outside
// checks rely on holds on both replicas.
func TestAttributionIndependentOfTheServingReplicaOnPostgres(t *testing.T) {
	cfg := clusterConfig(t)
	cfg.Store = pgtest.URL(t)
	cfg.Data = t.TempDir()
	cfg.Recommend.RetrainEvery = 0
	a, urlA, _ := replica(t, cfg, "a")
	cfgB := cfg
	cfgB.Data = t.TempDir()
	b, urlB, _ := replica(t, cfgB, "b")

	call(t, "POST", urlA+"/api/items", `[{"id":"a","title":"blue pen","price":2},{"id":"b","title":"red pen","price":3},{"id":"c","title":"stapler","price":10}]`, 200, nil)
	call(t, "POST", urlA+"/api/events", `[{"user_id":"x","item_id":"a","type":"purchase"},{"user_id":"y","item_id":"b","type":"purchase"}]`, 200, nil)
	// the contract: POST answers with the id
	var exp map[string]any
	call(t, "POST", urlA+"/api/experiments", `{"name":"models","surface":"recommend","variants":[{"name":"a","weight":50,"overrides":{"model":"popular"}},{"name":"b","weight":50,"overrides":{"model":"ease"}}]}`, 201, &exp)
	id, _ := exp["id"].(string)
	if id == "" {
		t.Fatalf("no id in the answer to POST /api/experiments: %v", exp)
	}
	waitFor(t, 10*time.Second, "B knows the experiment created on A", func() bool {
		code, _ := get(t, urlB+"/api/experiments/"+id)
		return code == 200
	})

	type answer struct {
		RequestID string `json:"request_id"`
		Variant   *string
		Items     []struct{ ID string }
	}
	want := map[string]variantResult{"a": {Name: "a"}, "b": {Name: "b"}}
	var rids []string
	for i := range 6 {
		user := fmt.Sprint("s", i)
		var ans answer
		call(t, "GET", urlA+"/api/recommend/"+user+"?n=3", "", 200, &ans)
		if ans.Variant == nil || ans.RequestID == "" || len(ans.Items) == 0 {
			t.Fatalf("answer of A inside the experiment (the contract: it carries \"variant\"): %+v", ans)
		}
		if tg, ok := b.exp.Attribution(ans.RequestID); !ok || tg.Surface != "recommend" {
			t.Fatalf("B reads A's request id %s as %+v, %v", ans.RequestID, tg, ok)
		}
		rids = append(rids, ans.RequestID)
		item := ans.Items[len(ans.Items)-1].ID
		call(t, "POST", urlB+"/api/events", fmt.Sprintf(`[{"user_id":%q,"item_id":%q,"type":"click","request_id":%q,"position":%d},
			{"user_id":%q,"item_id":%q,"type":"add_to_cart","request_id":%q,"position":%d}]`,
			user, item, ans.RequestID, len(ans.Items), user, item, ans.RequestID, len(ans.Items)), 200, nil)
		w := want[*ans.Variant]
		w.Users++
		w.Exposures++
		w.Clicks++
		want[*ans.Variant] = w
	}
	results := func(url string) []variantResult {
		t.Helper()
		var raw struct{ Variants []map[string]json.RawMessage }
		call(t, "GET", url+"/api/experiments/"+id+"/results", "", 200, &raw)
		var out []variantResult
		for _, v := range raw.Variants {
			// the contract: name, users and the metrics
			for _, k := range []string{"name", "users", "conversion", "ctr", "add_to_cart_rate", "revenue_per_user", "aov"} {
				if _, ok := v[k]; !ok {
					t.Fatalf("%s: a variant of the results has no %q: %v", url, k, v)
				}
			}
			b, _ := json.Marshal(v)
			var r variantResult
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	same := func(when string) {
		t.Helper()
		for _, url := range []string{urlA, urlB} {
			got := results(url)
			if len(got) != 2 || got[0] != want[got[0].Name] || got[1] != want[got[1].Name] {
				t.Fatalf("%s, results on %s: %+v; want %+v", when, url, got, want)
			}
		}
	}
	// right after the acknowledgements (A adds its exposures when asked)
	same("right after the events were acknowledged")
	// A hears the events through the feed; once it has, nothing changes
	waitFor(t, 10*time.Second, "A heard B's events", func() bool {
		for _, rid := range rids {
			if pos, err := a.exp.Impressions().Clicked(rid); err != nil || len(pos) == 0 {
				return false
			}
		}
		return true
	})
	same("after A heard the events")

	// a popular answer of A: B reads its surface from the id
	var pop answer
	call(t, "GET", urlA+"/api/popular?user_id=s1", "", 200, &pop)
	if tg, ok := b.exp.Attribution(pop.RequestID); !ok || tg.Surface != "popular" || tg.Variant != -1 {
		t.Fatalf("B reads A's popular request id as %+v, %v", tg, ok)
	}
}
