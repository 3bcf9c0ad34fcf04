package aisle

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/store/pgstore/pgtest"
)

// twoReplicasOnPostgres starts two servers on one PostgreSQL schema (and
// one NATS feed), each with its own data directory, and returns their URLs.
func twoReplicasOnPostgres(t *testing.T) (urlA, urlB string) {
	t.Helper()
	cfg := clusterConfig(t)
	cfg.Store = pgtest.URL(t)
	cfg.Data = t.TempDir()
	cfg.Recommend.RetrainEvery = 0
	_, urlA, _ = replica(t, cfg, "a")
	cfgB := cfg
	cfgB.Data = t.TempDir()
	_, urlB, _ = replica(t, cfgB, "b")
	return urlA, urlB
}

// The running minimum of the always-valid p-value is shared by the
// replicas (issue 15): after replica A's look found a strong difference
// and later traffic washed it out, replica B, which never looked before,
// reports A's minimum, as A does.
func TestExperimentPValueAcrossReplicasOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("two servers and 400 shoppers: not in -short")
	}
	urlA, urlB := twoReplicasOnPostgres(t)

	call(t, "POST", urlA+"/api/items", `[{"id":"a","title":"blue pen","price":2},{"id":"b","title":"red pen","price":3}]`, 200, nil)
	call(t, "POST", urlA+"/api/events", `[{"user_id":"x","item_id":"a","type":"purchase"}]`, 200, nil)
	var exp struct{ ID string }
	call(t, "POST", urlA+"/api/experiments", `{"name":"looks","surface":"recommend","variants":[{"name":"a","weight":1,"overrides":{"model":"popular"}},{"name":"b","weight":1,"overrides":{"model":"popular"}}]}`, 201, &exp)
	waitFor(t, 10*time.Second, "B knows the experiment created on A", func() bool {
		code, _ := get(t, urlB+"/api/experiments/"+exp.ID)
		return code == 200
	})
	type comparison struct {
		PValue float64 `json:"p_value"`
		PFixed float64 `json:"p_fixed"`
	}
	type results struct {
		Variants []struct {
			Name      string
			Users     int
			Orders    float64
			VsControl map[string]comparison `json:"vs_control"`
		}
	}
	// users from … to are served by A; those of variant b (phase 1) or a
	// (phase 2) buy, and every fourth whatever its variant
	bought := 0
	visit := func(from, to int, buyer string) {
		t.Helper()
		var evs []string
		for i := from; i < to; i++ {
			var ans struct{ Variant string }
			call(t, "GET", fmt.Sprintf("%s/api/recommend/u%d?n=2", urlA, i), "", 200, &ans)
			if ans.Variant == buyer || i%4 == 0 {
				evs = append(evs, fmt.Sprintf(`{"user_id":"u%d","item_id":"b","type":"purchase"}`, i))
			}
		}
		call(t, "POST", urlA+"/api/events", "["+strings.Join(evs, ",")+"]", 200, nil)
		bought += len(evs)
	}
	look := func(url string, users int) comparison {
		t.Helper()
		var r results
		waitFor(t, 20*time.Second, fmt.Sprintf("%d users and %d orders in the results on %s", users, bought, url), func() bool {
			call(t, "GET", url+"/api/experiments/"+exp.ID+"/results", "", 200, &r)
			return len(r.Variants) == 2 && r.Variants[0].Users+r.Variants[1].Users == users &&
				int(r.Variants[0].Orders+r.Variants[1].Orders) == bought
		})
		b, _ := json.Marshal(r)
		t.Logf("%s: %s", url, b)
		return r.Variants[1].VsControl["conversion"]
	}
	visit(0, 200, "b")
	early := look(urlA, 200)
	if early.PValue > 0.001 {
		t.Fatalf("after 200 users converting 100%% against 25%%: p %v, want < 0.001", early.PValue)
	}
	visit(200, 400, "a")
	// A's look adds all of its traffic to the store, so B's first look
	// (a results request is a look) sees every user at once
	for _, url := range []string{urlA, urlB} {
		c := look(url, 400)
		if c.PFixed < 0.05 {
			t.Fatalf("the data still differ (p_fixed %v): the test needs them not to", c.PFixed)
		}
		if c.PValue != early.PValue {
			t.Errorf("%s reports p %v, want A's running minimum %v", url, c.PValue, early.PValue)
		}
	}
}
