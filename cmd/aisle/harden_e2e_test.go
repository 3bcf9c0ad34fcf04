package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// Issue 12 (items 1, 2, 9): bad values, times and text are refused with a
// 400 naming the field, nothing is stored, and a retried batch with the
// same Idempotency-Key is stored once. Talks HTTP to the real server.
func TestHardenedIngest(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	if code, body := s.do("POST", "/api/items", `[{"id":"p1","title":"Gel pen"},{"id":"p2","title":"Notebook"}]`); code != 200 {
		t.Fatalf("items: %d %v", code, body)
	}
	future := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	cases := []struct {
		name, path, body, field string
	}{
		{"rating 1e39", "/api/events", `{"user_id":"u1","item_id":"p1","type":"rating","value":1e39}`, "value"},
		{"rating out of scale", "/api/events", `{"user_id":"u1","item_id":"p1","type":"rating","value":11}`, "value"},
		{"purchase quantity 0", "/api/events", `{"user_id":"u1","item_id":"p1","type":"purchase","value":0}`, "value"},
		{"view dated 2100", "/api/events", `{"user_id":"u1","item_id":"p1","type":"view","timestamp":"2100-01-01T00:00:00Z"}`, "timestamp"},
		{"view 2 days ahead", "/api/events", `{"user_id":"u1","item_id":"p1","type":"view","timestamp":"` + future + `"}`, "timestamp"},
		{"view dated 9999", "/api/events", `{"user_id":"u1","item_id":"p1","type":"view","timestamp":"9999-12-31T23:59:59Z"}`, "timestamp"},
		{"zero time", "/api/events", `{"user_id":"u1","item_id":"p1","type":"view","timestamp":"0001-01-01T00:00:00Z"}`, "timestamp"},
		{"invalid UTF-8 in user id", "/api/events", "{\"user_id\":\"u\xff1\",\"item_id\":\"p1\",\"type\":\"view\"}", ""},
		{"NUL in query", "/api/events", `{"user_id":"u1","type":"search","query":"pen\u0000"}`, "query"},
		{"ESC in title", "/api/items", `{"id":"p3","title":"\u001b[2Jpen"}`, "title"},
		{"lone surrogate in id", "/api/items", `{"id":"p\udc004","title":"pen"}`, ""},
	}
	for _, c := range cases {
		code, body := s.do("POST", c.path, c.body)
		if code != 400 {
			t.Errorf("%s: status %d %v, want 400", c.name, code, body)
			continue
		}
		det, _ := body["details"].([]any)
		if len(det) != 1 {
			t.Errorf("%s: details %v", c.name, body)
			continue
		}
		if f, _ := det[0].(map[string]any)["field"].(string); f != c.field {
			t.Errorf("%s: field %q, want %q (%v)", c.name, f, c.field, body)
		}
	}
	if _, body := s.do("GET", "/api/stats", ""); body["events"] != 0.0 || body["items"] != 2.0 {
		t.Fatalf("bad input was stored: %v", body)
	}

	post := func(key, body string) int {
		req, _ := http.NewRequest("POST", s.url+"/api/events", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.key)
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	batch := `[{"user_id":"u1","item_id":"p1","type":"view"},{"user_id":"u2","item_id":"p2","type":"purchase","value":2}]`
	for i := 0; i < 3; i++ {
		if code := post("batch-1", batch); code != 200 {
			t.Fatalf("attempt %d: %d", i, code)
		}
	}
	if code := post("batch-1", `[{"user_id":"u3","item_id":"p1","type":"view"}]`); code != 400 {
		t.Fatalf("same key, other body: %d, want 400", code)
	}
	if _, body := s.do("GET", "/api/stats", ""); body["events"] != 2.0 {
		t.Fatalf("three attempts under one key stored %v events, want 2", body["events"])
	}
	if code := post("batch-2", batch); code != 200 {
		t.Fatal(code)
	}
	if _, body := s.do("GET", "/api/stats", ""); body["events"] != 4.0 {
		t.Fatalf("a new key: %v events, want 4", body["events"])
	}
	// Keys are kept in the store: a retry after a restart is still a retry.
	s.stop()
	s = startServer(t, dir)
	if code := post("batch-1", batch); code != 200 {
		t.Fatal(code)
	}
	if _, body := s.do("GET", "/api/stats", ""); body["events"] != 4.0 {
		t.Fatalf("a retry after a restart: %v events, want 4", body["events"])
	}
}

// Issue 12 item 6: serving a damaged or empty data file is refused with a
// clear message (no panic, no empty shop).
func TestServeRefusesDamagedFile(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	s.do("POST", "/api/items", `[{"id":"p1","title":"Gel pen"}]`)
	s.stop()
	path := filepath.Join(dir, "aisle.db")
	b, _ := os.ReadFile(path)
	for name, bad := range map[string][]byte{"truncated": b[:8<<10], "empty": nil} {
		os.WriteFile(path, bad, 0o644)
		out, err := exec.Command(aisleBin(t), "serve", "--addr", "127.0.0.1:0", "--data", dir, "--admin-key", "k").CombinedOutput()
		msg := string(out)
		if err == nil || strings.Contains(msg, "panic") || strings.Contains(msg, "SIGSEGV") || !strings.Contains(msg, path) {
			t.Fatalf("%s: %v\n%s", name, err, msg)
		}
		if after, _ := os.ReadFile(path); len(after) != len(bad) {
			t.Fatalf("%s: the file was changed", name)
		}
	}
}

// Issue 12 item 2: `aisle import` applies the same bounds as the API and
// skips the rows outside them, saying why.
func TestImportSkipsOutOfBoundsEvents(t *testing.T) {
	dir := t.TempDir()
	items := filepath.Join(dir, "items.jsonl")
	os.WriteFile(items, []byte(`{"id":"c1","title":"Stapler"}`+"\n"), 0o644)
	evs := filepath.Join(dir, "events.csv")
	os.WriteFile(evs, []byte("user_id,item_id,type,value,timestamp\n"+
		"u1,c1,view,,2026-01-01T00:00:00Z\n"+
		"u1,c1,view,,2100-01-01T00:00:00Z\n"+
		"u1,c1,view,,0001-01-01T00:00:00Z\n"+
		"u1,c1,view,,0\n"+
		"u2,c1,rating,1e39,1700000000\n"+
		"u2,c1,rating,4,1700000000\n"), 0o644)
	out, err := exec.Command(aisleBin(t), "import", "--data", filepath.Join(dir, "data"), "--items", items, "--events", evs).CombinedOutput()
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	for _, want := range []string{"2 accepted, 4 rejected", "line 3: timestamp", "line 4: timestamp", "line 5: timestamp", "line 6: value"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("import output lacks %q:\n%s", want, out)
		}
	}
}

// Issue 12 items 1 and 2, for data stored before the bounds existed: one
// rating of 1e39 made popular, trending and cold-start answers an empty
// 200, and one view dated 2100 took over "popular in the last 7 days".
func TestServeSurvivesOldBadEvents(t *testing.T) {
	dir := t.TempDir()
	st, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var items []catalog.Item
	for i := 0; i < 6; i++ {
		items = append(items, catalog.Item{ID: fmt.Sprintf("p%d", i), Title: fmt.Sprintf("pen %d", i), Available: true})
	}
	if err := st.PutItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	huge := 1e39
	var evs []events.Event
	for u := 0; u < 20; u++ {
		evs = append(evs, events.Event{UserID: fmt.Sprintf("u%d", u), ItemID: "p1", Type: events.Purchase, Timestamp: now.Add(-time.Duration(u) * time.Hour)})
		evs = append(evs, events.Event{UserID: fmt.Sprintf("u%d", u), ItemID: fmt.Sprintf("p%d", 2+u%3), Type: events.View, Timestamp: now.Add(-time.Duration(u) * time.Hour)})
	}
	evs = append(evs,
		events.Event{UserID: "x", ItemID: "p0", Type: events.Rating, Value: &huge, Timestamp: now},
		events.Event{UserID: "y", ItemID: "p5", Type: events.View, Timestamp: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err := st.AppendEvents(ctx, evs); err != nil { // straight into the store, as an older version would have
		t.Fatal(err)
	}
	st.Close()
	s := startServer(t, dir)
	for _, path := range []string{"/api/popular", "/api/popular?window=7d", "/api/trending", "/api/recommend/newcomer"} {
		code, body := s.do("GET", path, "")
		list, _ := body["items"].([]any)
		if code != 200 || len(list) == 0 {
			t.Errorf("%s: %d %v", path, code, body)
			continue
		}
		if first, _ := list[0].(map[string]any)["id"].(string); path != "/api/trending" && first != "p1" {
			t.Errorf("%s: first %q, want p1 (20 purchases): %v", path, first, list)
		}
	}
}

// Issue 12 item 4, through the real server: one shopper's searches do not
// become everyone's suggestion; three shoppers' do.
func TestSuggestPoisoningE2E(t *testing.T) {
	s := startServer(t, t.TempDir())
	if code, body := s.do("POST", "/api/items", `[{"id":"p1","title":"Gel pen, blue"},{"id":"p2","title":"Gel pen, red"}]`); code != 200 {
		t.Fatalf("items: %d %v", code, body)
	}
	querySuggested := func(text string) bool {
		_, body := s.do("GET", "/api/suggest?q=gel", "")
		list, _ := body["suggestions"].([]any)
		for _, x := range list {
			m := x.(map[string]any)
			if m["kind"] == "query" && m["text"] == text {
				return true
			}
		}
		return false
	}
	logged := func(user string, n int) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if _, body := s.do("GET", "/api/users/"+user+"/events", ""); body != nil {
				if evs, _ := body["events"].([]any); len(evs) >= n {
					return
				}
			}
		}
		t.Fatalf("the searches of %s were never logged", user)
	}
	for i := 0; i < 5; i++ {
		if _, res := s.do("GET", "/api/search?q=gel+pen+visit+scam+shop&session_id=s1", ""); res["total"] == 0.0 {
			t.Fatalf("the planted query finds nothing, so it would not be remembered anyway: %v", res)
		}
	}
	logged("anon-s1", 5)
	if querySuggested("gel pen visit scam shop") {
		t.Fatal("one shopper's query is suggested to everyone")
	}
	for _, u := range []string{"u1", "u2", "u3"} {
		s.do("GET", "/api/search?q=gel+pen&user_id="+u, "")
		logged(u, 1)
	}
	// the suggestion store hears a search from the engine's listeners,
	// which may run a moment after the event is readable
	for deadline := time.Now().Add(10 * time.Second); !querySuggested("gel pen"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a query three shoppers searched is not suggested")
		}
	}
}
