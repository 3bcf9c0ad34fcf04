package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/client"
)

// These tests build the real binary and talk HTTP to it on 127.0.0.1.

// binDir holds the aisle binary the tests run; TestMain removes it.
var binDir string

// buildAisle builds the aisle binary once per test process, on the first
// aisleBin call: a run that needs no binary (-run of an in-process test, a
// fuzz target's coordinator and workers, the race phase) builds none.
var buildAisle = sync.OnceValues(func() (string, error) {
	p := filepath.Join(binDir, "aisle")
	if out, err := exec.Command("go", "build", "-o", p, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build aisle: %v\n%s", err, out)
	}
	return p, nil
})

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "aisle-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// aisleBin is the path of the aisle binary the tests run as a separate
// process, built on first use. Under the race detector it skips the test
// instead: the binary is built without -race, so a race run of such a test
// checks only the test's own HTTP client again, while the plain
// `go test ./...` run (CI's first phase) runs it in full. Tests that run
// commands in this process (runAisle) stay under the race detector.
func aisleBin(t testing.TB) string {
	t.Helper()
	if raceDetector {
		t.Skip("runs the aisle binary (built without -race) as its own process: covered by the run without -race")
	}
	p, err := buildAisle()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Parallel tests: the few tests that take a minute or more (a data set
// trained through a server, a demo import, a background fit) call
// t.Parallel, so that they run two at a time after the serial tests
// instead of leaving a core idle while one waits on its server: cmd/aisle
// is the longest package of CI's test phase (docs/benchmarks.md, "CI time
// (session 8)"). Each starts its own server on its own port and temporary
// directory, or (TestEvalSimilarOffice) computes in this process without
// package state; none sets environment variables.

// server is a running `aisle serve` process.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	key  string
	logs *syncBuffer
}

// syncBuffer collects a process's output while tests read it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs `aisle serve` on a free port over dataDir and waits
// until it is ready.
func startServer(t *testing.T, dataDir string, extra ...string) *server {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dataDir, "--admin-key", "test-admin"}, extra...)
	return startCmd(t, args...)
}

func startCmd(t *testing.T, args ...string) *server {
	t.Helper()
	cmd := exec.Command(aisleBin(t), args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, key: "test-admin", logs: logs}
	t.Cleanup(func() { s.kill() })
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if i := strings.Index(line, "http://"); i >= 0 && strings.Contains(line, "listening") {
				f := strings.Fields(line[i:])
				urlc <- f[0]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case s.url = <-urlc:
	case <-time.After(60 * time.Second):
		t.Fatalf("server did not start; logs:\n%s", logs)
	}
	deadline := time.Now().Add(120 * time.Second)
	for c := s.client(); time.Now().Before(deadline); {
		if ready, err := c.Ready(context.Background()); err == nil && ready {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server not ready; logs:\n%s", logs)
	return nil
}

func (s *server) kill() {
	if s.cmd.Process != nil && s.cmd.ProcessState == nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

// stop ends the server gracefully (SIGTERM), waits, and checks that it
// exited with status 0 (a drain that finished or timed out is clean).
func (s *server) stop() {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			s.t.Errorf("server stopped on SIGTERM with %v\n%s", err, s.logs)
		}
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		s.t.Fatalf("server did not stop on SIGTERM")
	}
}

// client is a Go client of the server with its admin key. Tests of the
// wire itself (statuses, raw bodies, bad input) use do and doKey instead.
func (s *server) client() *client.Client {
	s.t.Helper()
	c, err := client.New(s.url, client.WithKey(s.key))
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// do sends a request with the admin key unless key is "-" (no key).
func (s *server) do(method, path, body string) (int, map[string]any) {
	return s.doKey(method, path, body, s.key)
}

func (s *server) doKey(method, path, body, key string) (int, map[string]any) {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if key != "-" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &m); err != nil {
			s.t.Fatalf("%s %s: bad JSON %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, m
}

func TestServeIngestReadRestart(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	code, body := s.do("POST", "/api/items", `[{"id":"p1","title":"Gel pen, blue","brand":"Pilot","categories":["Office/Pens/Gel"],"price":2.5,"attributes":{"colour":"blue","pack":12}},{"id":"p2","title":"Notebook A5","available":false}]`)
	if code != 200 || body["accepted"] != 2.0 {
		t.Fatalf("post items: %d %v", code, body)
	}
	code, body = s.do("POST", "/api/users", `{"id":"u1","attributes":{"country":"DE"}}`)
	if code != 200 || body["accepted"] != 1.0 {
		t.Fatalf("post users: %d %v", code, body)
	}
	code, body = s.do("POST", "/api/events", `[{"user_id":"u1","item_id":"p1","type":"view","session_id":"s1"},{"user_id":"u2","item_id":"p1","type":"purchase","value":1,"timestamp":"2026-01-02T03:04:05Z"},{"user_id":"u1","type":"search","query":"gel pen"},{"user_id":"u1","item_id":"p2","type":"rating","value":4}]`)
	if code != 200 || body["accepted"] != 4.0 {
		t.Fatalf("post events: %d %v", code, body)
	}
	check := func(s *server) {
		t.Helper()
		code, it := s.do("GET", "/api/items/p1", "")
		if code != 200 || it["title"] != "Gel pen, blue" || it["price"] != 2.5 || it["available"] != true {
			t.Fatalf("get p1: %d %v", code, it)
		}
		if attrs := it["attributes"].(map[string]any); attrs["pack"] != 12.0 || attrs["colour"] != "blue" {
			t.Fatalf("attributes: %v", attrs)
		}
		if code, it = s.do("GET", "/api/items/p2", ""); code != 200 || it["available"] != false {
			t.Fatalf("get p2: %d %v", code, it)
		}
		code, u := s.do("GET", "/api/users/u2", "")
		if code != 200 || u["id"] != "u2" {
			t.Fatalf("user created by event: %d %v", code, u)
		}
		code, evs := s.do("GET", "/api/users/u1/events?limit=10", "")
		list := evs["events"].([]any)
		if code != 200 || len(list) != 3 {
			t.Fatalf("u1 events: %d %v", code, evs)
		}
		if first := list[0].(map[string]any); first["type"] != "rating" || first["value"] != 4.0 {
			t.Fatalf("newest event first: %v", first)
		}
		code, page := s.do("GET", "/api/items?limit=1", "")
		if code != 200 || len(page["items"].([]any)) != 1 || page["next_cursor"] == "" {
			t.Fatalf("page 1: %d %v", code, page)
		}
		code, page = s.do("GET", "/api/items?limit=1&cursor="+page["next_cursor"].(string), "")
		if code != 200 || page["items"].([]any)[0].(map[string]any)["id"] != "p2" || page["next_cursor"] != "" {
			t.Fatalf("page 2: %d %v", code, page)
		}
		code, users := s.do("GET", "/api/users?limit=10", "")
		if code != 200 || len(users["users"].([]any)) != 2 {
			t.Fatalf("users: %d %v", code, users)
		}
	}
	check(s)
	s.stop()
	s = startServer(t, dir)
	check(s)

	// PATCH, DELETE and the right to be forgotten.
	if code, it := s.do("PATCH", "/api/items/p1", `{"price":3,"brand":null}`); code != 200 || it["price"] != 3.0 || it["brand"] != nil {
		t.Fatalf("patch: %d %v", code, it)
	}
	if code, _ := s.do("DELETE", "/api/items/p2", ""); code != 200 {
		t.Fatalf("delete item: %d", code)
	}
	if code, _ := s.do("GET", "/api/items/p2", ""); code != 404 {
		t.Fatalf("deleted item still there: %d", code)
	}
	if code, _ := s.do("DELETE", "/api/users/u1", ""); code != 200 {
		t.Fatalf("delete user: %d", code)
	}
	if code, evs := s.do("GET", "/api/users/u1/events", ""); code != 200 || len(evs["events"].([]any)) != 0 {
		t.Fatalf("forgotten user's events remain: %v", evs)
	}
	if code, _ := s.do("GET", "/api/users/u1", ""); code != 404 {
		t.Fatalf("forgotten user remains: %d", code)
	}
	code, st := s.do("GET", "/api/stats", "")
	if code != 200 || st["items"] != 1.0 || st["users"] != 1.0 || st["events"] != 1.0 {
		t.Fatalf("stats after deletes: %v", st)
	}
	// Metrics and the API description.
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`aisle_http_requests_total{code="200",method="GET",route="/api/items/{id}"}`, "aisle_http_request_duration_seconds_bucket", "aisle_events_ingested_total"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code, doc := s.do("GET", "/api/openapi.json", ""); code != 200 || doc["paths"] == nil {
		t.Fatalf("openapi: %d", code)
	}
	if strings.Contains(s.logs.String(), "test-admin") {
		t.Fatalf("the admin key appears in the logs")
	}
}

func TestBadInputIsRejectedWhole(t *testing.T) {
	s := startServer(t, t.TempDir(), "--max-body", "2048", "--read-key", "reader")
	if code, _ := s.do("POST", "/api/items", `{"id":"ok1","title":"x"}`); code != 200 {
		t.Fatalf("seed item: %d", code)
	}
	big := `[` + strings.Repeat(`{"id":"big","title":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},`, 60) + `{"id":"z"}]`
	cases := []struct {
		name, method, path, body, key string
		code                          int
		wantErr                       string // substring of "error"
		wantField                     string // field of the first detail
	}{
		{"invalid JSON", "POST", "/api/items", `[{"id":"a1",}]`, "", 400, "line 1, column", ""},
		{"truncated JSON", "POST", "/api/items", `[{"id":"a1"`, "", 400, "malformed JSON", ""},
		{"wrong type", "POST", "/api/items", `[{"id":"a1"},{"id":"a2","price":"cheap"}]`, "", 400, "nothing from this request was stored", "price"},
		{"unknown field", "POST", "/api/items", `[{"id":"a1","colour":"red"}]`, "", 400, "unknown field", "colour"},
		{"missing id", "POST", "/api/items", `[{"id":"a1"},{"title":"no id"}]`, "", 400, "id", "id"},
		{"duplicate ids", "POST", "/api/items", `[{"id":"a1"},{"id":"a1"}]`, "", 400, "duplicate", "id"},
		{"negative price", "POST", "/api/items", `[{"id":"a1","price":-1}]`, "", 400, "price", "price"},
		{"bad attribute", "POST", "/api/items", `[{"id":"a1","attributes":{"x":[1]}}]`, "", 400, "attributes", "attributes.x"},
		{"not an object", "POST", "/api/items", `[1]`, "", 400, "", ""},
		{"empty body", "POST", "/api/items", ``, "", 400, "empty", ""},
		{"event for unknown item", "POST", "/api/events", `[{"user_id":"u1","item_id":"ok1","type":"view"},{"user_id":"u1","item_id":"nope","type":"view"}]`, "", 400, "unknown item", "item_id"},
		{"event of unknown type", "POST", "/api/events", `[{"user_id":"u1","item_id":"ok1","type":"teleport"}]`, "", 400, "unknown event type", "type"},
		{"event with bad time", "POST", "/api/events", `[{"user_id":"u1","item_id":"ok1","type":"view","timestamp":"yesterday"}]`, "", 400, "", ""},
		{"rating without value", "POST", "/api/events", `[{"user_id":"u1","item_id":"ok1","type":"rating"}]`, "", 400, "value", "value"},
		{"search without query", "POST", "/api/events", `[{"user_id":"u1","type":"search"}]`, "", 400, "query", "query"},
		{"event missing user", "POST", "/api/events", `[{"item_id":"ok1","type":"view"}]`, "", 400, "user_id", "user_id"},
		{"user with unknown field", "POST", "/api/users", `[{"id":"u9","age":3}]`, "", 400, "unknown field", "age"},
		{"oversized body", "POST", "/api/items", big, "", 413, "larger than", ""},
		{"no key for write", "POST", "/api/items", `[{"id":"a1"}]`, "-", 401, "API key", ""},
		{"bad key for write", "POST", "/api/items", `[{"id":"a1"}]`, "wrong", 401, "API key", ""},
		{"read key cannot write", "POST", "/api/items", `[{"id":"a1"}]`, "reader", 401, "API key", ""},
		{"no key for read", "GET", "/api/items/ok1", ``, "-", 401, "API key", ""},
		{"bad limit", "GET", "/api/items?limit=0", ``, "", 400, "limit", ""},
		{"bad cursor", "GET", "/api/items?cursor=@@@", ``, "", 400, "cursor", ""},
		{"missing item", "GET", "/api/items/none", ``, "", 404, "not found", ""},
		{"patch changes id", "PATCH", "/api/items/ok1", `{"id":"other"}`, "", 400, "id", "id"},
		{"patch unknown field", "PATCH", "/api/items/ok1", `{"colour":"red"}`, "", 400, "unknown field", "colour"},
		{"unknown route", "GET", "/api/nothing", ``, "", 404, "no route", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := s.key
			if c.key != "" {
				key = c.key
			}
			code, body := s.doKey(c.method, c.path, c.body, key)
			if code != c.code {
				t.Fatalf("status %d, want %d: %v", code, c.code, body)
			}
			msg, _ := body["error"].(string)
			if msg == "" {
				t.Fatalf("no error message: %v", body)
			}
			if !strings.Contains(msg, c.wantErr) {
				t.Errorf("error %q lacks %q", msg, c.wantErr)
			}
			if c.wantField != "" {
				d, _ := body["details"].([]any)
				if len(d) == 0 {
					t.Fatalf("no details: %v", body)
				}
				found := false
				for _, x := range d {
					found = found || x.(map[string]any)["field"] == c.wantField
				}
				if !found {
					t.Errorf("details %v lack field %q", d, c.wantField)
				}
			}
		})
	}
	// Nothing from any rejected batch was stored.
	code, st := s.do("GET", "/api/stats", "")
	if code != 200 || st["items"] != 1.0 || st["events"] != 0.0 || st["users"] != 0.0 {
		t.Fatalf("rejected batches left data behind: %v", st)
	}
	if code, _ := s.doKey("GET", "/api/items/ok1", "", "reader"); code != 200 {
		t.Fatalf("read key cannot read: %d", code)
	}
	if code, _ := s.doKey("GET", "/api/items/ok1", "", "test-admin"); code != 200 {
		t.Fatalf("admin key cannot read: %d", code)
	}
	if code, _ := s.doKey("GET", "/api/health", "", "-"); code != 200 {
		t.Fatalf("health needs no key: %d", code)
	}
}

// TestKillAfterAckLosesNothing sends batches of events, kills the server
// with SIGKILL right after the last 200, restarts it and checks that every
// acknowledged event is there.
func TestKillAfterAckLosesNothing(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	if code, _ := s.do("POST", "/api/items", `[{"id":"i1"},{"id":"i2"}]`); code != 200 {
		t.Fatal("seed items")
	}
	acked := 0
	for b := 0; b < 30; b++ {
		var sb strings.Builder
		sb.WriteString("[")
		for i := 0; i < 20; i++ {
			if i > 0 {
				sb.WriteString(",")
			}
			fmt.Fprintf(&sb, `{"user_id":"u%d","item_id":"i%d","type":"click"}`, b%7, i%2+1)
		}
		sb.WriteString("]")
		code, body := s.do("POST", "/api/events", sb.String())
		if code != 200 {
			t.Fatalf("batch %d: %d %v", b, code, body)
		}
		acked += int(body["accepted"].(float64))
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.cmd.Wait()
	s = startServer(t, dir)
	code, st := s.do("GET", "/api/stats", "")
	if code != 200 || int(st["events"].(float64)) != acked {
		t.Fatalf("after SIGKILL: %v events stored, %d acknowledged", st["events"], acked)
	}
	total := 0
	for u := 0; u < 7; u++ {
		_, evs := s.do("GET", fmt.Sprintf("/api/users/u%d/events?limit=10000", u), "")
		total += len(evs["events"].([]any))
	}
	if total != acked {
		t.Fatalf("per-user events %d, acknowledged %d", total, acked)
	}
}

func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	items := filepath.Join(dir, "items.csv")
	os.WriteFile(items, []byte("id,title,categories,price,attr.colour\nc1,Stapler,Office/Desk|Sale,9.5,red\nc2,Tape,,x,\n,No id,,,\nc3,Glue,Office/Desk,1,\n"), 0o644)
	evs := filepath.Join(dir, "events.jsonl")
	os.WriteFile(evs, []byte(`{"user_id":"u1","item_id":"c1","type":"view","timestamp":"2026-01-01T00:00:00Z"}
{"user_id":"u1","item_id":"c9","type":"view"}
not json
{"user_id":"u2","item_id":"c3","type":"purchase"}
`), 0o644)
	data := filepath.Join(dir, "data")
	out, err := exec.Command(aisleBin(t), "import", "--data", data, "--items", items, "--events", evs).CombinedOutput()
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	for _, want := range []string{"2 accepted, 2 rejected", "line 3: price", "line 4: id", "line 2: item_id", "line 3:"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("import output lacks %q:\n%s", want, out)
		}
	}
	out, err = exec.Command(aisleBin(t), "import", "--data", data, "--items", filepath.Join(dir, "items.xml")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "format") {
		t.Fatalf("unknown format not refused clearly: %v\n%s", err, out)
	}
	s := startServer(t, data)
	if code, it := s.do("GET", "/api/items/c1", ""); code != 200 || it["price"] != 9.5 || len(it["categories"].([]any)) != 2 {
		t.Fatalf("imported item: %d %v", code, it)
	}
}
