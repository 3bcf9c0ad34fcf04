package aisle

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/config"
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
	a, b, urlA, urlB := twoSeededReplicasOnPostgres(t, config.Experiments{})
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

// twoSeededReplicasOnPostgres starts two replicas on one PostgreSQL schema
// and one feed, with the experiments settings ex, and writes three items
// and two purchases through A.
func twoSeededReplicasOnPostgres(tb testing.TB, ex config.Experiments) (a, b *Aisle, urlA, urlB string) {
	tb.Helper()
	cfg := clusterConfigTB(tb)
	cfg.Store = pgtest.URL(tb)
	cfg.Data = tb.TempDir()
	cfg.Recommend.RetrainEvery = 0
	cfg.Experiments.CountAfterAck = ex.CountAfterAck
	a, urlA, _ = replicaTB(tb, cfg, "a")
	cfgB := cfg
	cfgB.Data = tb.TempDir()
	b, urlB, _ = replicaTB(tb, cfgB, "b")
	call(tb, "POST", urlA+"/api/items", `[{"id":"a","title":"blue pen","price":2},{"id":"b","title":"red pen","price":3},{"id":"c","title":"stapler","price":10}]`, 200, nil)
	call(tb, "POST", urlA+"/api/events", `[{"user_id":"x","item_id":"a","type":"purchase"},{"user_id":"y","item_id":"b","type":"purchase"}]`, 200, nil)
	return a, b, urlA, urlB
}

// BenchmarkClickAckInExperimentPostgres: the latency of POST /api/events
// (one click carrying the request id of an answer replica A served, sent
// to replica B) on two replicas of one PostgreSQL schema, with no
// experiment running and with one whose answers the click counts in —
// then B adds the count to the store before it acknowledges (one more
// transaction), or, with experiments.count_after_ack, right after. b.N
// answers are served before the timer starts; p50 and p99 of the POSTs
// are reported.
//
//	go test -run XXX -bench ClickAckInExperimentPostgres -benchtime 400x .
func BenchmarkClickAckInExperimentPostgres(b *testing.B) {
	for _, mode := range []string{"none", "count-before-ack", "count-after-ack"} {
		running := mode != "none"
		b.Run("experiment="+mode, func(b *testing.B) {
			_, bRep, urlA, urlB := twoSeededReplicasOnPostgres(b, config.Experiments{CountAfterAck: mode == "count-after-ack"})
			if running {
				call(b, "POST", urlA+"/api/experiments", `{"name":"ack","surface":"recommend","variants":[{"name":"a","weight":1,"overrides":{"model":"popular"}},{"name":"b","weight":1,"overrides":{"model":"popular"}}]}`, 201, nil)
				waitForTB(b, 10*time.Second, "B knows the experiment", func() bool {
					return len(bRep.exp.List()) == 1
				})
			}
			type answer struct {
				RequestID string `json:"request_id"`
				Items     []struct{ ID string }
			}
			clicks := make([]string, b.N)
			for i := range b.N {
				var ans answer
				call(b, "GET", fmt.Sprintf("%s/api/recommend/s%d?n=2", urlA, i), "", 200, &ans)
				if len(ans.Items) == 0 {
					b.Fatalf("answer %d: %+v", i, ans)
				}
				clicks[i] = fmt.Sprintf(`{"user_id":"s%d","item_id":%q,"type":"click","request_id":%q,"position":1}`, i, ans.Items[0].ID, ans.RequestID)
			}
			took := make([]time.Duration, b.N)
			b.ResetTimer()
			for i := range b.N {
				t0 := time.Now()
				call(b, "POST", urlB+"/api/events", clicks[i], 200, nil)
				took[i] = time.Since(t0)
			}
			b.StopTimer()
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
