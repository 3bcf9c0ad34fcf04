package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A backup holds the impression log and the experiment store next to the
// store (online and offline), and restore puts them back: the experiment,
// its outcomes, and its impressions (a purchase carrying the request id of
// an answer served before the backup is still attributed after the
// restore). A shopper forgotten after the backup stays forgotten in them.
func TestBackupHoldsExperimentsAndImpressions(t *testing.T) { testBackupSideFiles(t, "") }

// TestBackupHoldsEveryShopsExperimentsAndImpressions: the same for a shop
// other than the default one, whose side files go beside the backup as
// FILE.shop.<id>.<name> and come back into its directory.
func TestBackupHoldsEveryShopsExperimentsAndImpressions(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the server four times")
	}
	testBackupSideFiles(t, "acme")
}

// testBackupSideFiles runs the backup of the side files of shop ("" for
// the default shop).
func testBackupSideFiles(t *testing.T, shop string) {
	api := func(p string) string { return "/api" + p }
	side := func(backup, name string) string { return backup + "." + name }
	inDir := func(dir, name string) string { return filepath.Join(dir, name) }
	backedUp, restored := "experiments.db written to", "experiments.db into"
	if shop != "" {
		api = func(p string) string { return "/api/shops/" + shop + p }
		side = func(backup, name string) string { return backup + ".shop." + shop + "." + name }
		inDir = func(dir, name string) string { return filepath.Join(dir, "shops", shop, name) }
		backedUp, restored = "with 2 side files", "(with 2 side files)"
	}
	dir := t.TempDir()
	s := startServer(t, dir)
	if shop != "" {
		if code, body := s.do("POST", "/api/shops", `{"id":"`+shop+`"}`); code != 201 {
			t.Fatalf("create shop: %d %v", code, body)
		}
	}
	if code, body := s.do("POST", api("/items"), `[{"id":"a","title":"blue pen","price":2},{"id":"b","title":"red pen","price":3},{"id":"c","title":"stapler","price":10}]`); code != 200 {
		t.Fatalf("items: %d %v", code, body)
	}
	if code, body := s.do("POST", api("/events"), `[{"user_id":"x","item_id":"a","type":"purchase"},{"user_id":"y","item_id":"b","type":"purchase"}]`); code != 200 {
		t.Fatalf("events: %d %v", code, body)
	}
	code, exp := s.do("POST", api("/experiments"), `{"name":"kept","surface":"recommend","variants":[{"name":"a","weight":1,"overrides":{"model":"popular"}},{"name":"b","weight":1,"overrides":{"model":"popular"}}]}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, exp)
	}
	id := exp["id"].(string)
	_, rec := s.do("GET", api("/recommend/shopper1?n=3"), "")
	rid, _ := rec["request_id"].(string)
	variant, _ := rec["variant"].(string)
	items, _ := rec["items"].([]any)
	if rid == "" || variant == "" || len(items) == 0 {
		t.Fatalf("answer in the experiment: %v", rec)
	}
	item := items[0].(map[string]any)["id"].(string)
	if code, body := s.do("POST", api("/events"), fmt.Sprintf(`{"user_id":"shopper1","item_id":%q,"type":"click","request_id":%q,"position":1}`, item, rid)); code != 200 {
		t.Fatalf("click: %d %v", code, body)
	}
	online := filepath.Join(t.TempDir(), "online.db")
	if out, err := exec.Command(aisleBin(t), "backup", "--url", s.url, "--admin-key", s.key, "--to", online).CombinedOutput(); err != nil || !strings.Contains(string(out), backedUp) {
		t.Fatalf("online backup: %v\n%s", err, out)
	}
	if code, body := s.do("GET", api("/admin/backup?file=nothing.db"), ""); code != 404 {
		t.Fatalf("backup of an unknown file: %d %v", code, body)
	}
	s.stop()
	offline := filepath.Join(t.TempDir(), "offline.db")
	if out, err := exec.Command(aisleBin(t), "backup", "--data", dir, "--to", offline).CombinedOutput(); err != nil || !strings.Contains(string(out), backedUp) {
		t.Fatalf("offline backup: %v\n%s", err, out)
	}
	for _, b := range []string{online, offline} {
		for _, name := range []string{"impressions.db", "experiments.db"} {
			if _, err := os.Stat(side(b, name)); err != nil {
				t.Fatalf("the backup %s lacks its %s: %v", b, name, err)
			}
		}
	}

	// counts checks the results of the experiment: shopper1's variant has
	// users, clicks and orders; the other nothing
	counts := func(s *server, users, clicks, orders float64) {
		t.Helper()
		code, res := s.do("GET", api("/experiments/"+id+"/results"), "")
		if code != 200 {
			t.Fatalf("results: %d %v", code, res)
		}
		vs, _ := res["variants"].([]any)
		if len(vs) != 2 {
			t.Fatalf("results: %v", res)
		}
		for _, v := range vs {
			v := v.(map[string]any)
			want := [3]float64{}
			if v["name"] == variant {
				want = [3]float64{users, clicks, orders}
			}
			if got := [3]float64{v["users"].(float64), v["clicks"].(float64), v["orders"].(float64)}; got != want {
				t.Fatalf("variant %v: users, clicks, orders %v, want %v", v["name"], got, want)
			}
		}
	}
	for _, from := range []string{online, offline} {
		d := t.TempDir()
		if out, err := exec.Command(aisleBin(t), "restore", "--from", from, "--data", d).CombinedOutput(); err != nil || !strings.Contains(string(out), restored) {
			t.Fatalf("restore %s: %v\n%s", from, err, out)
		}
		r := startServer(t, d)
		counts(r, 1, 1, 0)
		// the answer's impression came back: a purchase with its request id
		// is attributed
		if code, body := r.do("POST", api("/events"), fmt.Sprintf(`{"user_id":"shopper1","item_id":%q,"type":"purchase","request_id":%q,"position":1}`, item, rid)); code != 200 {
			t.Fatalf("purchase: %d %v", code, body)
		}
		counts(r, 1, 1, 1)
		r.stop()
	}

	// shopper1 is forgotten after the backup: restoring it over the data
	// directory does not bring back their outcomes
	s = startServer(t, dir)
	if code, body := s.do("DELETE", api("/users/shopper1"), ""); code != 200 {
		t.Fatalf("delete: %d %v", code, body)
	}
	s.stop()
	if out, err := exec.Command(aisleBin(t), "restore", "--from", offline, "--data", dir, "--force").CombinedOutput(); err != nil {
		t.Fatalf("restore --force: %v\n%s", err, out)
	}
	for _, name := range []string{"impressions.db", "experiments.db"} {
		if _, err := os.Stat(inDir(dir, name+".before-restore")); err != nil {
			t.Fatalf("the replaced %s was not kept: %v", name, err)
		}
	}
	s = startServer(t, dir)
	defer s.stop()
	counts(s, 0, 0, 0)
}
