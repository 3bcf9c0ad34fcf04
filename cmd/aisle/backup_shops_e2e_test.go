package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A backup of a deployment with a second shop, online and offline, holds
// the shop registry (the shop, its own configuration, its key's hash) and
// the shop's store; restored into an empty directory the shop answers as
// before, with its key and its synonyms; restored over the directory, a
// user of the shop forgotten since the backup stays forgotten.
func TestBackupRestoreShopsE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the server four times")
	}
	dir := t.TempDir()
	s := startServer(t, dir)
	s.must(201, "POST", "/api/shops", `{"id":"acme","config":{"search.synonyms":[["kettle","teapot"]]}}`, s.key)
	var items, evs []string
	for i := range 12 {
		items = append(items, fmt.Sprintf(`{"id":"p%d","title":"teapot %d"}`, i, i))
		evs = append(evs, fmt.Sprintf(`{"user_id":"u%d","item_id":"p%d","type":"purchase"}`, i%4, i))
	}
	s.must(200, "POST", "/api/shops/acme/items", "["+strings.Join(items, ",")+"]", s.key)
	s.must(200, "POST", "/api/shops/acme/events", "["+strings.Join(evs, ",")+"]", s.key)
	s.must(200, "POST", "/api/items", `[{"id":"p1","title":"stapler"}]`, s.key)
	key := s.must(201, "POST", "/api/shops/acme/keys", `{"scopes":["public"]}`, s.key)["key"].(string)
	s.must(403, "GET", "/api/admin/backup?file=shops.db", "", key) // a shop key cannot copy the registry

	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(aisleBin(t), args...).CombinedOutput()
		if err != nil {
			t.Fatalf("aisle %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	online := filepath.Join(t.TempDir(), "online.db")
	if out := run("backup", "--url", s.url, "--admin-key", s.key, "--to", online); !strings.Contains(out, "stores of 1 shops") {
		t.Errorf("online backup: %s", out)
	}
	s.stop()
	offline := filepath.Join(t.TempDir(), "offline.db")
	run("backup", "--data", dir, "--to", offline)
	for _, b := range []string{online, offline} {
		for _, f := range []string{b + ".shops.db", b + ".shop.acme.db"} {
			if _, err := os.Stat(f); err != nil {
				t.Fatalf("the backup lacks %s: %v", f, err)
			}
		}
	}

	check := func(s *server, users float64) {
		t.Helper()
		if st := s.must(200, "GET", "/api/shops/acme/stats", "", s.key); st["items"] != 12.0 || st["users"] != users {
			t.Errorf("acme's stats after the restore: %v, want 12 items and %v users", st, users)
		}
		if r := s.must(200, "GET", "/api/shops/acme/search?q=kettle", "", key); r["total"] != 12.0 {
			t.Errorf("acme's key and synonyms after the restore: search for kettle found %v, want 12", r["total"])
		}
		if st := s.must(200, "GET", "/api/stats", "", s.key); st["items"] != 1.0 {
			t.Errorf("the default shop after the restore: %v", st)
		}
	}
	for _, b := range []string{online, offline} {
		d := t.TempDir()
		if out := run("restore", "--from", b, "--data", d); !strings.Contains(out, "restored the shop registry (1 keys) and the stores of 1 shops") {
			t.Errorf("restore %s: %s", filepath.Base(b), out)
		}
		r := startServer(t, d)
		check(r, 4)
		r.stop()
	}

	// u1 of acme is forgotten after the backup: restoring over the
	// directory does not bring them back
	s = startServer(t, dir)
	s.must(200, "DELETE", "/api/shops/acme/users/u1", "", s.key)
	s.stop()
	if out := run("restore", "--from", offline, "--data", dir, "--force"); !strings.Contains(out, "forgot again 1 users the replaced shops had forgotten") {
		t.Errorf("restore --force over the directory: %s", out)
	}
	s = startServer(t, dir)
	check(s, 3)
	s.must(404, "GET", "/api/shops/acme/users/u1", "", s.key)
}

// must sends a request with key and fails the test unless the answer has
// status want; it returns the answer's JSON object.
func (s *server) must(want int, method, path, body, key string) map[string]any {
	s.t.Helper()
	code, m := s.doKey(method, path, body, key)
	if code != want {
		s.t.Fatalf("%s %s: %d %v, want %d", method, path, code, m, want)
	}
	return m
}
