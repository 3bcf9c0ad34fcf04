package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// privacyShop loads a small shop: 30 items in three categories, 60
// shoppers who each favour one, and alice, the only one to touch item
// pz, who bought it with p1 in one session and searched a query nobody
// else did (secretQuery) ten times, and a query two others searched too.
const secretQuery = "qz7f3a9 secret lamp"

func privacyShop(t *testing.T, s *server) {
	t.Helper()
	var items []string
	for i := 0; i < 30; i++ {
		items = append(items, fmt.Sprintf(`{"id":"p%d","title":"Lamp %d","categories":["%c"]}`, i, i, 'A'+i%3))
	}
	items = append(items, `{"id":"pz","title":"Zebra lamp","categories":["A"]}`)
	if code, body := s.do("POST", "/api/items", "["+strings.Join(items, ",")+"]"); code != 200 {
		t.Fatalf("items: %d %v", code, body)
	}
	now := time.Now().UTC().Add(-2 * time.Hour)
	ts := func(k int) string { return now.Add(time.Duration(k) * time.Second).Format(time.RFC3339) }
	var evs []string
	k := 0
	for u := 0; u < 60; u++ {
		for j := 0; j < 8; j++ {
			item := (u%3 + 3*((u+j)%10)) % 30
			typ := "view"
			if j%3 == 0 {
				typ = "purchase"
			}
			k++
			evs = append(evs, fmt.Sprintf(`{"user_id":"u%d","item_id":"p%d","type":"%s","timestamp":"%s"}`, u, item, typ, ts(k)))
		}
	}
	for _, u := range []string{"u1", "u2", "alice"} {
		k++
		evs = append(evs, fmt.Sprintf(`{"user_id":"%s","type":"search","query":"zebra umbrella","value":3,"timestamp":"%s"}`, u, ts(k)))
	}
	for j := 0; j < 10; j++ {
		k++
		evs = append(evs, fmt.Sprintf(`{"user_id":"alice","session_id":"alice-s1","type":"search","query":"%s","value":2,"timestamp":"%s"}`, secretQuery, ts(k)))
	}
	for j := 0; j < 9; j++ {
		k++
		evs = append(evs, fmt.Sprintf(`{"user_id":"alice","session_id":"alice-s1","item_id":"p%d","type":"view","timestamp":"%s"}`, 3*j, ts(k)))
	}
	for _, it := range []string{"pz", "p1"} {
		k++
		evs = append(evs, fmt.Sprintf(`{"user_id":"alice","session_id":"alice-s1","item_id":"%s","type":"purchase","timestamp":"%s"}`, it, ts(k)))
	}
	if code, body := s.do("POST", "/api/events", "["+strings.Join(evs, ",")+"]"); code != 200 {
		t.Fatalf("events: %d %v", code, body)
	}
}

// retrain trains every model and waits until the run is over.
func (s *server) retrain(t *testing.T) {
	t.Helper()
	lastRun := func() (running bool, last string) {
		_, body := s.do("GET", "/api/models", "")
		tr, _ := body["training"].(map[string]any)
		if tr == nil {
			return false, ""
		}
		if tr["last_run"] != nil {
			last = fmt.Sprint(tr["last_run"])
		}
		return tr["running"] == true, last
	}
	_, before := lastRun()
	if code, body := s.do("POST", "/api/models/retrain", ""); code != 202 {
		t.Fatalf("retrain: %d %v", code, body)
	}
	// done when a run other than the one before has finished: the 202
	// can come before the run starts, when the old run still shows
	for deadline := time.Now().Add(120 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if running, last := lastRun(); !running && last != "" && last != before {
			return
		}
	}
	t.Fatal("training did not finish")
}

// reasons returns the reason of every item recommended to user.
func (s *server) reasons(t *testing.T, user string) []string {
	t.Helper()
	code, body := s.do("GET", "/api/recommend/"+user+"?n=10", "")
	if code != 200 {
		t.Fatalf("recommend %s: %d %v", user, code, body)
	}
	var out []string
	for _, it := range toItems(t, body) {
		out = append(out, it.Reason)
	}
	return out
}

func (s *server) has(t *testing.T, path, field, value string) bool {
	t.Helper()
	code, body := s.do("GET", path, "")
	if code != 200 {
		t.Fatalf("%s: %d %v", path, code, body)
	}
	list, _ := body[field].([]any)
	for _, x := range list {
		m, _ := x.(map[string]any)
		if m["id"] == value || m["text"] == value {
			return true
		}
	}
	return false
}

func personal(reasons []string) bool {
	for _, r := range reasons {
		if strings.HasPrefix(r, "model:") {
			return true
		}
	}
	return false
}

// dirHolds reports whether a file in dir contains needle.
func dirHolds(t *testing.T, dir, needle string) []string {
	t.Helper()
	var in []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(needle)) {
			in = append(in, filepath.Base(p))
		}
		return nil
	})
	return in
}

// Issue 12, privacy: after DELETE /api/users/{id} no answer is derived
// from the user (no model row, no popularity, no bought-together pair, no
// suggestion vouched by them), a restart keeps it so, their query text is
// gone from every file of the data directory after the compaction, and
// GET /api/users/{id}/forgotten says what was removed and what is pending.
func TestForgetEverywhereE2E(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(t.TempDir(), "aisle.yaml")
	cfg := "recommend:\n  primary: ials\n  retrain_after_events: 0\n  retrain_every: 0s\nprivacy:\n  compact_after: 1s\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, dir, "--config", cfgPath)
	privacyShop(t, s)
	// alice searched it through the API too: the answer's impression (her
	// query and the items shown) is logged in impressions.db
	if code, body := s.do("GET", "/api/search?q="+url.QueryEscape(secretQuery)+"&user_id=alice&session_id=alice-s1", ""); code != 200 {
		t.Fatalf("search: %d %v", code, body)
	}
	s.retrain(t)

	// before: everything mentions alice
	if r := s.reasons(t, "alice"); !personal(r) {
		t.Fatalf("alice is not served by a model before deletion (%v): the test proves nothing", r)
	}
	if !s.has(t, "/api/popular?n=200", "items", "pz") || !s.has(t, "/api/items/pz/bought-together", "items", "p1") {
		t.Fatal("alice's purchase of pz is not counted before deletion: the test proves nothing")
	}
	if !s.has(t, "/api/suggest?q=zebra", "suggestions", "zebra umbrella") {
		t.Fatal("the query three shoppers searched is not suggested before deletion")
	}
	if len(dirHolds(t, dir, secretQuery)) == 0 {
		t.Fatal("alice's query is not in the data file before deletion: the test proves nothing")
	}
	if !strings.Contains(s.page(t, "/admin"), secretQuery) {
		t.Fatal("alice's query is not among the dashboard's top queries before deletion: the test proves nothing")
	}

	if code, body := s.do("DELETE", "/api/users/alice", ""); code != 200 || body["deleted"] != "alice" {
		t.Fatalf("delete: %d %v", code, body)
	}
	check := func(when string) {
		t.Helper()
		if r := s.reasons(t, "alice"); personal(r) {
			t.Fatalf("%s: alice is still answered from a model: %v", when, r)
		}
		if s.has(t, "/api/popular?n=200", "items", "pz") {
			t.Fatalf("%s: alice's events still make pz popular", when)
		}
		if s.has(t, "/api/items/pz/bought-together", "items", "p1") {
			t.Fatalf("%s: alice's basket still pairs pz with p1", when)
		}
		if s.has(t, "/api/suggest?q=zebra", "suggestions", "zebra umbrella") {
			t.Fatalf("%s: a query only two shoppers are left to vouch for is still suggested", when)
		}
		if s.has(t, "/api/suggest?q=qz7", "suggestions", secretQuery) {
			t.Fatalf("%s: alice's own query is suggested", when)
		}
		if code, _ := s.do("GET", "/api/users/alice", ""); code != 404 {
			t.Fatalf("%s: the user record answers %d", when, code)
		}
		if strings.Contains(s.page(t, "/admin"), secretQuery) {
			t.Fatalf("%s: alice's query is still on the dashboard", when)
		}
	}
	check("at once")
	code, rep := s.do("GET", "/api/users/alice/forgotten", "")
	if code != 200 {
		t.Fatalf("forgotten: %d %v", code, rep)
	}
	st, _ := rep["store"].(map[string]any)
	if st["events"] != 23.0 || st["search_log_entries"] != 12.0 || st["profile"] != true {
		t.Fatalf("the report does not count what was removed: %v", rep)
	}
	mem, _ := rep["in_memory"].(map[string]any)
	if mem["suggestions_removed"] != 1.0 || mem["popularity_events"].(float64) < 11 || mem["model_user_rows_hidden"].(float64) < 1 {
		t.Fatalf("the report does not count what left memory: %v", mem)
	}
	t.Logf("report right after the deletion: %v", rep)
	// the compaction comes within privacy.compact_after (+ its run time)
	var last map[string]any
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, last = s.do("GET", "/api/users/alice/forgotten", "")
		pending := fmt.Sprint(last["pending"])
		if !strings.Contains(pending, "compaction") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("compaction still pending after 30s: %v", last)
		}
	}
	// impressions.db is rewritten by its own writer within compact_after
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		files := dirHolds(t, dir, secretQuery)
		if len(files) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice's query is still on disk after compaction, in %v", files)
		}
	}
	// her id was in the stored model versions (their user tables) too
	if files := dirHolds(t, dir, "alice"); len(files) > 0 {
		t.Fatalf("alice's id is still on disk after compaction, in %v", files)
	}
	if strings.Contains(fmt.Sprint(last["pending"]), "relearning") {
		t.Fatalf("the click model is still being relearnt: %v", last)
	}
	if !strings.Contains(fmt.Sprint(last["pending"]), "model ") {
		t.Fatalf("the models trained with alice's events are not reported pending: %v", last)
	}
	check("after compaction")

	s.stop()
	s = startServer(t, dir, "--config", cfgPath)
	check("after restart")
	if r := s.reasons(t, "u3"); !personal(r) {
		t.Fatalf("after scrubbing alice from the stored models, u3 is no longer served by one: %v", r)
	}
	if code, rep := s.do("GET", "/api/users/alice/forgotten", ""); code != 200 || rep["compacted_at"] == nil {
		t.Fatalf("after restart the report is %d %v", code, rep)
	}
	// retraining drops her from the models: nothing is pending any more
	s.retrain(t)
	if _, rep := s.do("GET", "/api/users/alice/forgotten", ""); rep["complete"] != true {
		t.Fatalf("after retraining something is still pending: %v", rep)
	}
	// a returning alice starts cold
	if code, body := s.do("POST", "/api/events", `[{"user_id":"alice","item_id":"p2","type":"view"}]`); code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	if r := s.reasons(t, "alice"); len(r) == 0 {
		t.Fatal("a returning user gets nothing")
	}
}

// exportLines reads an export.
func exportLines(t *testing.T, s *server, user string) (int, []map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+"/api/users/"+user+"/export", nil)
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []map[string]any
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return resp.StatusCode, out
}

// The export holds the profile, every event and every search, oldest
// first, and ends with a count; consent withheld through a user attribute
// makes answers non-personal at once and keeps the user's purchases out
// of others' bought-together lists and out of training.
func TestExportAndConsentE2E(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "aisle.yaml")
	if err := os.WriteFile(cfgPath, []byte("recommend:\n  primary: ials\n  retrain_after_events: 0\n  retrain_every: 0s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, t.TempDir(), "--config", cfgPath)
	privacyShop(t, s)
	code, lines := exportLines(t, s, "alice")
	if code != 200 || len(lines) != 1+22+1 {
		t.Fatalf("export: %d, %d lines", code, len(lines))
	}
	kinds := map[string]int{}
	for _, l := range lines {
		kinds[l["kind"].(string)]++
	}
	if kinds["user"] != 1 || kinds["search"] != 11 || kinds["event"] != 11 || lines[len(lines)-1]["kind"] != "end" || lines[len(lines)-1]["records"] != 23.0 {
		t.Fatalf("export kinds %v, last %v", kinds, lines[len(lines)-1])
	}
	if code, _ := exportLines(t, s, "nobody"); code != 404 {
		t.Fatalf("export of an unknown user: %d", code)
	}
	if code, _ := s.doKey("GET", "/api/users/alice/export", "", "-"); code != 401 && code != 403 {
		t.Fatalf("export without the admin key: %d", code)
	}

	s.retrain(t)
	if r := s.reasons(t, "alice"); !personal(r) {
		t.Fatalf("alice is not personalised before withdrawing consent: %v", r)
	}
	if code, body := s.do("POST", "/api/users", `[{"id":"alice","attributes":{"personalization":"false"}}]`); code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	for _, r := range s.reasons(t, "alice") {
		if r != "trending" && r != "popular" && !strings.HasPrefix(r, "popular in") && r != "new in catalogue" {
			t.Fatalf("alice withdrew consent but gets %q", r)
		}
	}
	if s.has(t, "/api/items/pz/bought-together", "items", "p1") {
		t.Fatal("alice's basket still pairs pz with p1 for others")
	}
	s.retrain(t)
	_, body := s.do("GET", "/api/models", "")
	checked := 0
	for _, m := range body["models"].([]any) {
		mm := m.(map[string]any)
		if mm["version"] != 2.0 {
			continue
		}
		checked++
		if mm["users"] != 60.0 {
			t.Fatalf("%v@2 trained on %v users, want the 60 who consented", mm["name"], mm["users"])
		}
	}
	if checked == 0 {
		t.Fatalf("no model was retrained: %v", body["models"])
	}
}

// A backup taken from a running server while events are being written
// restores into a data directory that serves the same counts and answers
// as a backup of the stopped server's own directory... and aisle restore
// refuses a directory that holds data.
func TestBackupRestoreE2E(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	privacyShop(t, s)
	stop := make(chan struct{})
	wrote := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				wrote <- n
				return
			default:
			}
			code, _ := s.do("POST", "/api/events", fmt.Sprintf(`[{"user_id":"w%d","item_id":"p%d","type":"view"}]`, n%7, n%30))
			if code == 200 {
				n++
			}
		}
	}()
	time.Sleep(200 * time.Millisecond)
	online := filepath.Join(t.TempDir(), "online.db")
	out, err := exec.Command(aisleBin(t), "backup", "--url", s.url, "--admin-key", s.key, "--to", online).CombinedOutput()
	close(stop)
	n := <-wrote
	if err != nil {
		t.Fatalf("online backup: %v\n%s", err, out)
	}
	_, stats := s.do("GET", "/api/stats", "")
	t.Logf("%s; %d events written meanwhile; live stats %v", bytes.TrimSpace(out), n, stats)
	s.stop()

	offline := filepath.Join(t.TempDir(), "offline.db")
	if out, err := exec.Command(aisleBin(t), "backup", "--data", dir, "--to", offline).CombinedOutput(); err != nil {
		t.Fatalf("offline backup: %v\n%s", err, out)
	}
	restore := func(from string) *server {
		d := t.TempDir()
		if out, err := exec.Command(aisleBin(t), "restore", "--from", from, "--data", d).CombinedOutput(); err != nil {
			t.Fatalf("restore: %v\n%s", err, out)
		}
		if out, err := exec.Command(aisleBin(t), "restore", "--from", from, "--data", d).CombinedOutput(); err == nil || !strings.Contains(string(out), "--force") {
			t.Fatalf("restore over data: %v\n%s", err, out)
		}
		return startServer(t, d)
	}
	a := restore(online)
	_, sa := a.do("GET", "/api/stats", "")
	base := 31.0
	if sa["items"] != base || sa["events"].(float64) < 60*8+24 || sa["events"].(float64) > 60*8+24+float64(n) {
		t.Fatalf("online backup restored %v (%d written while it ran)", sa, n)
	}
	// user w* events in the copy all carry an index entry, and the counts agree
	var perUser float64
	for u := 0; u < 7; u++ {
		_, body := a.do("GET", fmt.Sprintf("/api/users/w%d/events?limit=10000", u), "")
		evs, _ := body["events"].([]any)
		perUser += float64(len(evs))
	}
	if perUser != sa["events"].(float64)-(60*8+24) {
		t.Fatalf("the online copy counts %v events but indexes %v of the writers'", sa["events"], perUser)
	}
	a.stop()

	b := restore(offline)
	orig := startServer(t, dir)
	_, sb := b.do("GET", "/api/stats", "")
	_, so := orig.do("GET", "/api/stats", "")
	if fmt.Sprint(sb) != fmt.Sprint(so) {
		t.Fatalf("restored stats %v, original %v", sb, so)
	}
	for _, path := range []string{"/api/recommend/u3?n=10", "/api/popular?n=20", "/api/items/p1/bought-together", "/api/users/alice/events?limit=100"} {
		// the restored directory has no snapshots, so its item relations
		// are learnt from the log after it is ready, where the original
		// restores them from its snapshot: wait (bounded) for the same
		// answer rather than compare the first one
		var x, y map[string]any
		for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			_, x = b.do("GET", path, "")
			_, y = orig.do("GET", path, "")
			delete(x, "request_id") // new for every answer
			delete(y, "request_id")
			if fmt.Sprint(x) == fmt.Sprint(y) || time.Now().After(deadline) {
				break
			}
		}
		if fmt.Sprint(x) != fmt.Sprint(y) {
			t.Fatalf("%s differs after restore (for 90 s):\n%v\n%v", path, x, y)
		}
	}
	b.stop()

	// alice is forgotten after the backup was taken; restoring it over the
	// data dir (--force) forgets her again rather than bring her back
	if code, _ := orig.do("DELETE", "/api/users/alice", ""); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	orig.stop()
	out, err = exec.Command(aisleBin(t), "restore", "--from", offline, "--data", dir, "--force").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "forgot again 1 users") {
		t.Fatalf("restore --force: %v\n%s", err, out)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "aisle.db"))
	if bytes.Contains(raw, []byte(secretQuery)) {
		t.Fatal("the restored file holds the query of a user forgotten after the backup")
	}
	again := startServer(t, dir)
	if code, _ := again.do("GET", "/api/users/alice", ""); code != 404 {
		t.Fatalf("alice is back after restoring an older backup: %d", code)
	}
	if code, rep := again.do("GET", "/api/users/alice/forgotten", ""); code != 200 || rep["complete"] != true {
		t.Fatalf("forgotten after restore: %d %v", code, rep)
	}
}

// page returns the body of an HTML page read with the admin key.
func (s *server) page(t *testing.T, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

// Retention deletes events older than their type's limit in small steps
// in the background, keeps the others, and shows its progress on the
// dashboard, in /api/admin/privacy and in /metrics.
func TestRetentionE2E(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "aisle.yaml")
	cfg := "events:\n  retention:\n    view: 2160h\n    purchase: 17520h\nprivacy:\n  retention_every: 1s\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, t.TempDir(), "--config", cfgPath)
	if code, body := s.do("POST", "/api/items", `[{"id":"p1","title":"Lamp"},{"id":"p2","title":"Desk"},{"id":"p3","title":"Chair"}]`); code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	now := time.Now().UTC()
	var evs []string
	add := func(n int, item, typ string, age time.Duration) {
		for i := 0; i < n; i++ {
			evs = append(evs, fmt.Sprintf(`{"user_id":"u%d","item_id":"%s","type":"%s","timestamp":"%s"}`, i%5, item, typ, now.Add(-age).Format(time.RFC3339)))
		}
	}
	add(3000, "p1", "view", 100*24*time.Hour)      // expired
	add(200, "p2", "view", 10*24*time.Hour)        // kept
	add(300, "p3", "purchase", 100*24*time.Hour)   // kept: purchases are kept 2 years
	add(100, "p1", "purchase", 3*365*24*time.Hour) // expired
	add(50, "p3", "click", 5*365*24*time.Hour)     // kept: no rule for clicks
	if code, body := s.do("POST", "/api/events", "["+strings.Join(evs, ",")+"]"); code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	var ret map[string]any
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		code, body := s.do("GET", "/api/admin/privacy", "")
		if code != 200 {
			t.Fatalf("privacy status: %d %v", code, body)
		}
		ret, _ = body["retention"].(map[string]any)
		if ret["deleted_total"] == 3100.0 && ret["running"] == false {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("retention did not delete the 3100 expired events: %v", ret)
		}
	}
	if by, _ := ret["deleted_by_type"].(map[string]any); by["view"] != 3000.0 || by["purchase"] != 100.0 {
		t.Fatalf("deleted by type: %v", ret)
	}
	if _, st := s.do("GET", "/api/stats", ""); st["events"] != 550.0 {
		t.Fatalf("after retention the store holds %v events, want 550", st["events"])
	}
	if _, body := s.do("GET", "/api/users/u1/events?limit=10000", ""); len(body["events"].([]any)) != 110 {
		t.Fatalf("u1 has %d indexed events after retention, want 110", len(body["events"].([]any)))
	}
	// the counts in memory are relearnt without the expired events
	for deadline := time.Now().Add(20 * time.Second); s.has(t, "/api/popular?n=10", "items", "p1"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("expired events still make p1 popular")
		}
	}
	if !s.has(t, "/api/popular?n=10", "items", "p2") {
		t.Fatal("kept events no longer count")
	}
	metrics := s.page(t, "/metrics")
	if !strings.Contains(metrics, "aisle_retention_deleted_events 3100") || !strings.Contains(metrics, "aisle_retention_progress 1") {
		t.Fatalf("/metrics lacks the retention progress:\n%s", metrics)
	}
	dash := s.page(t, "/admin")
	if !strings.Contains(dash, `id="retention-status"`) || !strings.Contains(dash, "3100 deleted since start") || !strings.Contains(dash, "view: kept 2160h0m0s") {
		t.Fatalf("the dashboard does not show retention: %s", dash[strings.Index(dash, "Data retention"):][:600])
	}
}
