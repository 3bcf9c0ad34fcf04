package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// --log-format json writes one JSON object per line, and --access-log
// adds a line per request; the environment sets keys the flags do not.
func TestJSONAccessLog(t *testing.T) {
	t.Setenv("AISLE_SERVER_LOG_LEVEL", "info")
	s := startServer(t, t.TempDir(), "--log-format", "json", "--access-log")
	if code, _ := s.do("GET", "/api/stats", ""); code != 200 {
		t.Fatalf("stats: %d", code)
	}
	s.stop()
	found := false
	for _, line := range strings.Split(strings.TrimSpace(s.logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a log line is not JSON: %q", line)
		}
		if rec["msg"] == "http request" && rec["route"] == "/api/stats" && rec["status"] == float64(200) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no access log line for GET /api/stats:\n%s", s.logs)
	}
}

// aisle version and aisle --version print the build: version, revision
// and build date.
func TestVersion(t *testing.T) {
	a, err := exec.Command(aisleBin(t), "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	b, err := exec.Command(aisleBin(t), "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) || !strings.HasPrefix(string(a), "aisle ") || !strings.Contains(string(a), "revision ") || !strings.Contains(string(a), "built ") {
		t.Fatalf("version %q, --version %q", a, b)
	}
}
