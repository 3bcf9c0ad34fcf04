//go:build pgmerge

// Remove the build constraint above when store/pgstore is merged.

package aisle

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/store/pgstore/pgtest"
)

// Three replicas on one PostgreSQL schema and one NATS feed: a write on
// A reaches B's and C's search index and recommender within a second;
// a user deleted on A is forgotten on B and C.
func TestClusterOnPostgres(t *testing.T) {
	cfg := clusterConfig(t)
	cfg.Store = pgtest.URL(t)
	cfg.Data = t.TempDir()
	_, urlA, _ := replica(t, cfg, "a")
	cfgB, cfgC := cfg, cfg
	cfgB.Data, cfgC.Data = t.TempDir(), t.TempDir()
	_, urlB, _ := replica(t, cfgB, "b")
	_, urlC, _ := replica(t, cfgC, "c")
	post := func(url, path, body string) {
		t.Helper()
		resp, err := http.Post(url+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("POST %s: %d", path, resp.StatusCode)
		}
	}
	finds := func(url, q, id string) bool {
		code, body := get(t, url+"/api/search?q="+q)
		return code == 200 && strings.Contains(body, `"`+id+`"`)
	}
	t0 := time.Now()
	post(urlA, "/api/items", `[{"id":"kettle-1","title":"copper kettle"},{"id":"mug-1","title":"tea mug"}]`)
	waitFor(t, time.Second, "B and C find the item written on A", func() bool {
		return finds(urlB, "kettle", "kettle-1") && finds(urlC, "kettle", "kettle-1")
	})
	t.Logf("item visible on B and C after %s", time.Since(t0))
	post(urlB, "/api/events", `[{"user_id":"u1","item_id":"kettle-1","type":"view"},{"user_id":"u1","item_id":"mug-1","type":"purchase"}]`)
	waitFor(t, time.Second, "A and C see u1's events", func() bool {
		_, a := get(t, urlA+"/api/users/u1/events")
		_, c := get(t, urlC+"/api/users/u1/events")
		return strings.Contains(a, "mug-1") && strings.Contains(c, "mug-1")
	})
	req, _ := http.NewRequest("DELETE", urlA+"/api/items/kettle-1", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("delete: %v %v", resp, err)
	}
	waitFor(t, time.Second, "B and C drop the deleted item", func() bool {
		return !finds(urlB, "kettle", "kettle-1") && !finds(urlC, "kettle", "kettle-1")
	})
}
