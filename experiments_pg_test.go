package aisle

import (
	"fmt"
	"testing"
	"time"
)

// Experiments across replicas (issue 15): two replicas on one PostgreSQL
// store see the same experiment and the same results, which count every
// replica's traffic once: a shopper served by both replicas is one user
// with both exposures; a click sent to the replica that did not serve the
// answer counts (the serving replica attributes it); a purchase that both
// replicas see counts once.
func TestExperimentsAcrossReplicasOnPostgres(t *testing.T) {
	urlA, urlB := twoReplicasOnPostgres(t)

	call(t, "POST", urlA+"/api/items", `[{"id":"a","title":"blue pen","price":2},{"id":"b","title":"red pen","price":3},{"id":"c","title":"stapler","price":10}]`, 200, nil)
	call(t, "POST", urlA+"/api/events", `[{"user_id":"x","item_id":"a","type":"purchase"},{"user_id":"y","item_id":"b","type":"purchase"}]`, 200, nil)
	var exp struct{ ID string }
	call(t, "POST", urlA+"/api/experiments", `{"name":"replicas","surface":"recommend","variants":[{"name":"a","weight":1,"overrides":{"model":"popular"}},{"name":"b","weight":1,"overrides":{"model":"popular"}}]}`, 201, &exp)
	waitFor(t, 10*time.Second, "B knows the experiment created on A", func() bool {
		code, _ := get(t, urlB+"/api/experiments/"+exp.ID)
		return code == 200
	})
	// one running experiment per surface, whichever replica is asked
	call(t, "POST", urlB+"/api/experiments", `{"name":"again","surface":"recommend","variants":[{"name":"a","weight":1},{"name":"b","weight":1}]}`, 409, nil)

	type answer struct {
		RequestID string `json:"request_id"`
		Variant   string
		Items     []struct{ ID string }
	}
	serve := func(url, user string) answer {
		t.Helper()
		var a answer
		call(t, "GET", url+"/api/recommend/"+user+"?n=3", "", 200, &a)
		if a.Variant == "" || a.RequestID == "" || len(a.Items) == 0 {
			t.Fatalf("answer of %s for %s: %+v", url, user, a)
		}
		return a
	}
	onA, onB := serve(urlA, "s1"), serve(urlB, "s1")
	if onA.Variant != onB.Variant {
		t.Fatalf("s1 is in variant %s on A and %s on B", onA.Variant, onB.Variant)
	}
	s2 := serve(urlB, "s2")
	price := map[string]float64{"a": 2, "b": 3, "c": 10}
	// clicks sent to the other replica than the one that served the answer
	call(t, "POST", urlB+"/api/events", fmt.Sprintf(`{"user_id":"s1","item_id":%q,"type":"click","request_id":%q,"position":1}`, onA.Items[0].ID, onA.RequestID), 200, nil)
	call(t, "POST", urlA+"/api/events", fmt.Sprintf(`{"user_id":"s1","item_id":%q,"type":"click","request_id":%q,"position":1}`, onB.Items[0].ID, onB.RequestID), 200, nil)
	// purchases without a request id: every replica that exposed the
	// shopper attributes them, the store counts them once
	call(t, "POST", urlA+"/api/events", `{"user_id":"s1","item_id":"c","type":"purchase"}`, 200, nil)
	call(t, "POST", urlB+"/api/events", `{"user_id":"s2","item_id":"a","type":"purchase","value":2}`, 200, nil)

	want := map[string]variantResult{}
	add := func(variant string, r variantResult) {
		w := want[variant]
		w.Name = variant
		w.Users += r.Users
		w.Exposures += r.Exposures
		w.Clicks += r.Clicks
		w.Orders += r.Orders
		w.Revenue += r.Revenue
		want[variant] = w
	}
	add("a", variantResult{})
	add("b", variantResult{})
	add(onA.Variant, variantResult{Users: 1, Exposures: 2, Clicks: 2, Orders: 1, Revenue: price["c"]})
	add(s2.Variant, variantResult{Users: 1, Exposures: 1, Orders: 1, Revenue: 2 * price["a"]})
	for _, url := range []string{urlA, urlB} {
		var got []variantResult
		waitFor(t, 10*time.Second, fmt.Sprintf("the same results on %s: want %+v", url, want), func() bool {
			var res struct{ Variants []variantResult }
			call(t, "GET", url+"/api/experiments/"+exp.ID+"/results", "", 200, &res)
			got = res.Variants
			if len(got) != 2 {
				return false
			}
			for _, v := range got {
				if v != want[v.Name] {
					return false
				}
			}
			return true
		})
		t.Logf("%s: %+v", url, got)
	}
	// a shopper deleted on one replica leaves the results of both
	req := fmt.Sprintf("%s/api/users/s2", urlB)
	call(t, "DELETE", req, "", 200, nil)
	w := want[s2.Variant]
	w.Users, w.Exposures, w.Orders, w.Revenue = w.Users-1, w.Exposures-1, w.Orders-1, w.Revenue-2*price["a"]
	want[s2.Variant] = w
	for _, url := range []string{urlA, urlB} {
		waitFor(t, 10*time.Second, "s2 gone from the results on "+url, func() bool {
			var res struct{ Variants []variantResult }
			call(t, "GET", url+"/api/experiments/"+exp.ID+"/results", "", 200, &res)
			for _, v := range res.Variants {
				if v != want[v.Name] {
					return false
				}
			}
			return len(res.Variants) == 2
		})
	}
}
