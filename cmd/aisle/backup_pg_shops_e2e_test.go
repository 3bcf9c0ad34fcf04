package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/store/pgstore/pgtest"
)

// An offline backup of a PostgreSQL deployment (`aisle backup --store
// postgres://…`, no server asked) holds the shop registry and every
// shop's store, not only the default shop's: restored into an empty data
// directory, the second shop answers with its items, users and key.
func TestOfflineBackupOfPostgresHoldsEveryShop(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the server twice")
	}
	url := pgtest.URL(t)
	s := startServer(t, t.TempDir(), "--store", url, "--embedder", "none")
	s.must(201, "POST", "/api/shops", `{"id":"acme"}`, s.key)
	var items, evs []string
	for i := range 9 {
		items = append(items, fmt.Sprintf(`{"id":"p%d","title":"teapot %d"}`, i, i))
		evs = append(evs, fmt.Sprintf(`{"user_id":"u%d","item_id":"p%d","type":"purchase"}`, i%3, i))
	}
	s.must(200, "POST", "/api/shops/acme/items", "["+strings.Join(items, ",")+"]", s.key)
	s.must(200, "POST", "/api/shops/acme/events", "["+strings.Join(evs, ",")+"]", s.key)
	s.must(200, "POST", "/api/items", `[{"id":"d1","title":"stapler"}]`, s.key)
	key := s.must(201, "POST", "/api/shops/acme/keys", `{"scopes":["public"]}`, s.key)["key"].(string)
	s.stop()

	to := filepath.Join(t.TempDir(), "pg.db")
	out, err := exec.Command(aisleBin(t), "backup", "--store", url, "--data", t.TempDir(), "--to", to).CombinedOutput()
	if err != nil {
		t.Fatalf("aisle backup --store: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "stores of 1 shops") {
		t.Errorf("the backup did not say it wrote acme's store: %s", out)
	}
	for _, f := range []string{to, to + ".shops.db", to + ".shop.acme.db"} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("the backup lacks %s: %v", f, err)
		}
	}
	data := t.TempDir()
	if out, err := exec.Command(aisleBin(t), "restore", "--from", to, "--data", data).CombinedOutput(); err != nil {
		t.Fatalf("aisle restore: %v\n%s", err, out)
	}
	r := startServer(t, data, "--embedder", "none")
	defer r.stop()
	if st := r.must(200, "GET", "/api/shops/acme/stats", "", r.key); st["items"] != 9.0 || st["users"] != 3.0 || st["events"] != 9.0 {
		t.Errorf("acme restored from the PostgreSQL backup: %v, want 9 items, 3 users, 9 events", st)
	}
	if res := r.must(200, "GET", "/api/shops/acme/search?q=teapot", "", key); res["total"] != 9.0 {
		t.Errorf("acme's key after the restore: search found %v, want 9", res["total"])
	}
	if st := r.must(200, "GET", "/api/stats", "", r.key); st["items"] != 1.0 {
		t.Errorf("the default shop after the restore: %v", st)
	}
}
