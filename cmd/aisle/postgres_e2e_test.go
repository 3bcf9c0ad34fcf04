package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/boltstore"
	"github.com/aisle-dev/aisle/store/pgstore"
	"github.com/aisle-dev/aisle/store/pgstore/pgtest"
)

// `aisle serve --store postgres://…` keeps everything in PostgreSQL: a
// restarted server (with an empty data directory) finds it all again.
func TestServeOnPostgres(t *testing.T) {
	url := pgtest.URL(t)
	start := func() *server {
		return startServer(t, t.TempDir(), "--store", url, "--embedder", "none")
	}
	// The catalogue comes in through `aisle import --store`, the events
	// through the API.
	var items []string
	for i := range 12 {
		colour := []string{"blue", "red", "green"}[i%3]
		items = append(items, fmt.Sprintf(`{"id":"p%d","title":"Gel pen %s %d","brand":"Pilot","categories":["Office/Pens"],"price":%d}`, i, colour, i, i+1))
	}
	file := filepath.Join(t.TempDir(), "items.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(items, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runBin(t, "import", "--store", url, "--data", t.TempDir(), "--items", file); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	s := start()
	var evs []string
	for u := range 8 {
		for k := range 4 {
			evs = append(evs, fmt.Sprintf(`{"user_id":"u%d","item_id":"p%d","type":"view"}`, u, (u+k)%12))
		}
		evs = append(evs, fmt.Sprintf(`{"user_id":"u%d","item_id":"p%d","type":"purchase"}`, u, u%12))
	}
	if code, body := s.do("POST", "/api/events", "["+strings.Join(evs, ",")+"]"); code != 200 || body["accepted"] != 40.0 {
		t.Fatalf("post events: %d %v", code, body)
	}
	check := func(s *server) {
		t.Helper()
		code, body := s.do("GET", "/api/search?q=gel+pen+blue&n=5", "")
		hits, _ := body["items"].([]any)
		if code != 200 || len(hits) == 0 {
			t.Fatalf("search: %d %v", code, body)
		}
		code, body = s.do("GET", "/api/recommend/u1?n=5", "")
		recs, _ := body["items"].([]any)
		if code != 200 || len(recs) == 0 {
			t.Fatalf("recommend: %d %v", code, body)
		}
		for _, r := range recs {
			if r.(map[string]any)["id"] == "p1" {
				t.Fatalf("u1 bought p1, yet it is recommended: %v", recs)
			}
		}
		code, st := s.do("GET", "/api/stats", "")
		if code != 200 || st["items"] != 12.0 || st["users"] != 8.0 || st["events"] != 40.0 {
			t.Fatalf("stats: %d %v", code, st)
		}
		code, page := s.do("GET", "/api/users/u3/events?limit=2", "")
		if list, _ := page["events"].([]any); code != 200 || len(list) != 2 || list[0].(map[string]any)["type"] != "purchase" {
			t.Fatalf("newest events of u3: %d %v", code, page)
		}
	}
	check(s)
	s.stop()
	s = start()
	check(s)
	if code, _ := s.do("DELETE", "/api/users/u2", ""); code != 200 {
		t.Fatalf("delete user: %d", code)
	}
	if code, _ := s.do("GET", "/api/users/u2", ""); code != 404 {
		t.Fatalf("a deleted user remains: %d", code)
	}
	// backups of a PostgreSQL shop, through the server and from the
	// store, in the embedded format: restored, they serve the same shop
	backups := t.TempDir()
	viaServer, viaStore := filepath.Join(backups, "server.db"), filepath.Join(backups, "store.db")
	if out, err := runBin(t, "backup", "--url", s.url, "--admin-key", s.key, "--to", viaServer); err != nil {
		t.Fatalf("backup --url: %v\n%s", err, out)
	}
	if out, err := runBin(t, "backup", "--store", url, "--to", viaStore); err != nil {
		t.Fatalf("backup --store: %v\n%s", err, out)
	}
	if strings.Contains(s.logs.String(), "panic") {
		t.Fatalf("logs:\n%s", s.logs)
	}
	s.stop()
	for _, file := range []string{viaServer, viaStore} {
		data := t.TempDir()
		if out, err := runBin(t, "restore", "--from", file, "--data", data); err != nil {
			t.Fatalf("restore %s: %v\n%s", file, err, out)
		}
		r := startServer(t, data, "--embedder", "none")
		code, st := r.do("GET", "/api/stats", "")
		if code != 200 || st["items"] != 12.0 || st["users"] != 7.0 || st["events"] != 35.0 {
			t.Fatalf("stats of the restored %s: %d %v, want the shop after u2 was deleted", filepath.Base(file), code, st)
		}
		if code, _ := r.do("GET", "/api/users/u2", ""); code != 404 {
			t.Fatalf("the deleted user is in the backup: %d", code)
		}
		r.stop()
	}
}

func runBin(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(aisleBin(t), args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// `aisle migrate` copies a shop from the data directory to PostgreSQL and
// back, and everything survives both trips.
func TestMigrateBoltToPostgresAndBack(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	src := t.TempDir()
	bs, err := boltstore.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	var items []catalog.Item
	for i := range 2500 {
		items = append(items, catalog.Item{ID: fmt.Sprintf("i%04d", i), Title: "thing", Available: i%2 == 0, CreatedAt: time.Unix(int64(i), 0).UTC()})
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(bs.PutItems(ctx, items))
	must(bs.PutUsers(ctx, []catalog.User{{ID: "alice", Attributes: map[string]any{"tier": "gold"}}}))
	var evs []events.Event
	for i := range 12345 {
		evs = append(evs, events.Event{UserID: fmt.Sprint("u", i%300), ItemID: fmt.Sprintf("i%04d", i%2500), Type: events.View, Timestamp: time.Date(2026, time.Month(1+i%12), 1+i%28, 0, 0, i%60, i, time.UTC)})
	}
	must(bs.AppendEvents(ctx, evs[:5000]))
	must(bs.AppendEvents(ctx, evs[5000:]))
	_, _, err = bs.ForgetUser(ctx, "u7", time.Now()) // leaves a gap in the seqs
	must(err)
	big := bytes.Repeat([]byte("model bytes "), 300000)
	for v := 1; v <= 3; v++ {
		_, err := bs.SaveModel(ctx, store.ModelMeta{Name: "ease", Status: store.StatusCandidate, Params: map[string]float64{"v": float64(v)}}, big[:len(big)-v])
		must(err)
	}
	_, err = bs.SaveModel(ctx, store.ModelMeta{Name: "ranker", Status: store.StatusServing, Note: "first"}, []byte("r"))
	must(err)
	must(bs.PutVectors(ctx, "hash/8", []store.ItemVector{{ItemID: "i0001", Vec: []float32{1, 2}}, {ItemID: "i0002", Vec: []float32{3}}}))
	wantEvents := dump(t, bs)
	must(bs.Close())

	out, err := runBin(t, "migrate", "--from", src, "--to", url)
	if err != nil || !strings.Contains(out, "counts match") {
		t.Fatalf("to postgres: %v\n%s", err, out)
	}
	if out, err := runBin(t, "migrate", "--from", src, "--to", url); err == nil || !strings.Contains(out, "already holds data") {
		t.Fatalf("a second copy into the same database must be refused: %v\n%s", err, out)
	}
	if out, err := runBin(t, "migrate", "--store", url); err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate --store: %v\n%s", err, out)
	}
	back := t.TempDir()
	if out, err := runBin(t, "migrate", "--from", url, "--to", back); err != nil || !strings.Contains(out, "counts match") {
		t.Fatalf("back to a data directory: %v\n%s", err, out)
	}
	ps, err := pgstore.Open(ctx, url, pgstore.Options{})
	must(err)
	defer ps.Close()
	rs, err := boltstore.Open(back)
	must(err)
	defer rs.Close()
	for name, s := range map[string]store.Store{"postgres": ps, "copy back": rs} {
		if got := dump(t, s); got != wantEvents {
			t.Errorf("%s: the copy differs from the source", name)
		}
		metas, err := s.ListModels(ctx, "")
		must(err)
		if len(metas) != 4 || metas[0].Params["v"] != 1 || metas[3].Note != "first" || metas[3].Status != store.StatusServing {
			t.Errorf("%s: models %+v", name, metas)
		}
		_, blob, err := s.LoadModel(ctx, "ease", 2)
		must(err)
		if !bytes.Equal(blob, big[:len(big)-2]) {
			t.Errorf("%s: model bytes differ", name)
		}
		vs, err := s.(store.Vectors).GetVectors(ctx, "hash/8", []string{"i0001", "i0002"})
		must(err)
		if !slices.Equal(vs[0].Vec, []float32{1, 2}) || vs[1].Vec[0] != 3 {
			t.Errorf("%s: vectors %+v", name, vs)
		}
		if u, err := s.GetUser(ctx, "alice"); err != nil || u.Attributes["tier"] != "gold" {
			t.Errorf("%s: user %+v %v", name, u, err)
		}
	}
}

// dump renders a store's items, users and events (without seq numbers,
// which a copy gives afresh) for comparison.
func dump(t *testing.T, s store.Store) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	err := s.ScanItems(ctx, func(it catalog.Item) error {
		fmt.Fprintf(&b, "item %s %s %v %s\n", it.ID, it.Title, it.Available, it.CreatedAt.UTC().Format(time.RFC3339Nano))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for cursor := ""; ; {
		page, next, err := s.ListUsers(ctx, cursor, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range page {
			fmt.Fprintf(&b, "user %s %v %s\n", u.ID, u.Attributes, u.CreatedAt.UTC().Format(time.RFC3339Nano))
		}
		if next == "" {
			break
		}
		cursor = next
	}
	n := 0
	err = s.ScanEvents(ctx, 0, func(e events.Event) error {
		n++
		fmt.Fprintf(&b, "event %s %s %s %s\n", e.UserID, e.ItemID, e.Type, e.Timestamp.UTC().Format(time.RFC3339Nano))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := s.CountEvents(ctx); c != n {
		t.Fatalf("CountEvents %d, scanned %d", c, n)
	}
	return b.String()
}

// aisle migrate says what is wrong with its arguments.
func TestMigrateErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{nil, "pass --store URL"},
		{[]string{"--store", "./dir"}, "want a postgres:// URL"},
		{[]string{"--from", filepath.Join(t.TempDir(), "none"), "--to", t.TempDir()}, "holds no Aisle data"},
		{[]string{"--from", "a", "--store", "postgres://x"}, "pass --store URL"},
	}
	for _, c := range cases {
		out, err := runAisle(t, append([]string{"migrate"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error()+out, c.want) {
			t.Errorf("migrate %q: %v %s; want an error mentioning %q", c.args, err, out, c.want)
		}
	}
}

// aisle import --shop with a PostgreSQL store registers the shop in the
// database's registry, which every replica reads: a server started on
// another, empty data directory serves the shop and its imported items.
func TestImportShopOnPostgresRegistersIt(t *testing.T) {
	url := pgtest.URL(t)
	file := filepath.Join(t.TempDir(), "items.jsonl")
	if err := os.WriteFile(file, []byte(`{"id":"m1","title":"gift mug"}`+"\n"+`{"id":"m2","title":"tea mug"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runBin(t, "import", "--store", url, "--data", t.TempDir(), "--shop", "gift", "--items", file); err != nil || !strings.Contains(string(out), `Created shop "gift"`) {
		t.Fatalf("import --shop: %v\n%s", err, out)
	}
	s := startServer(t, t.TempDir(), "--store", url, "--embedder", "none")
	if code, body := s.do("GET", "/api/shops/gift/stats", ""); code != 200 || body["items"] != 2.0 {
		t.Errorf("the imported shop on a replica with another data directory: %d %v", code, body)
	}
}
