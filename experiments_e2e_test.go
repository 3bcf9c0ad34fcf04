package aisle

import (
	"bytes"
	"fmt"
	"regexp"
	"testing"
	"time"
)

type variantResult struct {
	Name                               string
	Users                              int
	Exposures, Clicks, Orders, Revenue float64
}

// Attribution end to end over HTTP: an answer inside an experiment names
// its variant and request id; a click and a purchase sent back with the
// request id count once (sent twice), in that variant, with the revenue
// at the item's price; all of it survives a restart, and the shopper keeps
// the variant.
func TestExperimentAttributionOverHTTP(t *testing.T) {
	dir := t.TempDir()
	url, stop := serveAt(t, dir)
	call(t, "POST", url+"/api/items", `[{"id":"a","title":"blue pen","price":2.5},{"id":"b","title":"red pen","price":4},{"id":"c","title":"stapler","price":12}]`, 200, nil)
	call(t, "POST", url+"/api/events", `[{"user_id":"x","item_id":"a","type":"purchase"},{"user_id":"y","item_id":"b","type":"view"}]`, 200, nil)
	var exp struct{ ID string }
	call(t, "POST", url+"/api/experiments", `{"name":"models","surface":"recommend","variants":[{"name":"a","weight":50,"overrides":{"model":"popular"}},{"name":"b","weight":50,"overrides":{"model":"ease"}}]}`, 201, &exp)
	if exp.ID == "" {
		t.Fatal("no id in the answer to POST /api/experiments")
	}
	var rec struct {
		RequestID string `json:"request_id"`
		Variant   string
		Items     []struct{ ID string }
	}
	call(t, "GET", url+"/api/recommend/shopper1?n=3", "", 200, &rec)
	if rec.Variant != "a" && rec.Variant != "b" || len(rec.RequestID) != 32 || len(rec.Items) == 0 {
		t.Fatalf("answer inside the experiment: %+v", rec)
	}
	// another surface is outside the experiment: a request id, no variant
	var pop struct {
		RequestID string `json:"request_id"`
		Variant   string
	}
	call(t, "GET", url+"/api/popular?user_id=shopper1", "", 200, &pop)
	if pop.RequestID == "" || pop.Variant != "" || pop.RequestID == rec.RequestID {
		t.Fatalf("popular answer %+v", pop)
	}
	item := rec.Items[0].ID
	price := map[string]float64{"a": 2.5, "b": 4, "c": 12}[item]
	evs := fmt.Sprintf(`[{"user_id":"shopper1","item_id":%q,"type":"click","request_id":%q,"position":1},
		{"user_id":"shopper1","item_id":%q,"type":"purchase","value":2,"request_id":%q,"position":1}]`, item, rec.RequestID, item, rec.RequestID)
	call(t, "POST", url+"/api/events", evs, 200, nil)
	call(t, "POST", url+"/api/events", evs, 200, nil) // a retry: counted once
	call(t, "POST", url+"/api/events", `{"user_id":"shopper1","item_id":"a","type":"click","request_id":"zz"}`, 400, nil)

	check := func(when string) {
		var res struct{ Variants []variantResult }
		call(t, "GET", url+"/api/experiments/"+exp.ID+"/results", "", 200, &res)
		if len(res.Variants) != 2 {
			t.Fatalf("%s: %d variants", when, len(res.Variants))
		}
		for _, v := range res.Variants {
			want := variantResult{Name: v.Name}
			if v.Name == rec.Variant {
				want = variantResult{Name: v.Name, Users: 1, Exposures: 1, Clicks: 1, Orders: 1, Revenue: 2 * price}
			}
			if v != want {
				t.Errorf("%s: variant %+v, want %+v", when, v, want)
			}
		}
	}
	check("before a restart")
	stop()

	url, stop = serveAt(t, dir)
	defer stop()
	check("after a restart")
	var again struct{ Variant string }
	call(t, "GET", url+"/api/recommend/shopper1?n=3", "", 200, &again)
	if again.Variant != rec.Variant {
		t.Fatalf("after a restart shopper1 got variant %q, before %q", again.Variant, rec.Variant)
	}
	if code, page := get(t, url+"/admin/experiments"); code != 200 || !bytes.Contains([]byte(page), []byte(exp.ID)) || !bytes.Contains([]byte(page), []byte("<td>"+rec.Variant+"</td><td>1</td>")) {
		t.Fatalf("/admin/experiments: %d, lacks the experiment or its variant's row:\n%s", code, page)
	}
	// the storefront's rows carry a request id and positions, and its event
	// path accepts them back
	_, home := get(t, url+"/")
	m := regexp.MustCompile(`data-request-id="([0-9a-f]{32})" data-position="1"`).FindStringSubmatch(home)
	if m == nil {
		t.Fatalf("the storefront's rows carry no request id:\n%s", home)
	}
	call(t, "POST", url+"/ui/events", fmt.Sprintf(`{"type":"click","item_id":"a","request_id":%q,"position":1}`, m[1]), 200, nil)
	call(t, "POST", url+"/api/experiments", `{"name":"again","surface":"recommend","variants":[{"name":"a","weight":1},{"name":"b","weight":1}]}`, 409, nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := get(t, url+"/metrics")
		if bytes.Contains([]byte(body), []byte("aisle_impressions_dropped_total 0")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/metrics lacks aisle_impressions_dropped_total")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
