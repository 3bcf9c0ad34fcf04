package main

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// `aisle bench serve` samples users through the client and loads the
// route at each level; every answer is 200, so no errors are counted, and
// a route that answers 404 is counted as errors.
func TestBenchServeCountsRequestsAndErrors(t *testing.T) {
	s := startServer(t, t.TempDir())
	c := s.client()
	ctx := context.Background()
	if _, err := c.AddItems(ctx, catalog.Item{ID: "a", Title: "blue pen"}, catalog.Item{ID: "b", Title: "red pen"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddEvents(ctx, events.Event{UserID: "u1", ItemID: "a", Type: events.Purchase},
		events.Event{UserID: "u2", ItemID: "b", Type: events.View}); err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^\s+1\s+(\d+)\s+(\d+)\s`)
	for _, tc := range []struct {
		path       string
		wantErrors bool
	}{
		{"/api/recommend/{user}?n=5", false},
		{"/api/items/nothere/similar", true},
	} {
		var out, errOut bytes.Buffer
		cmd := exec.Command(aisleBin(t), "bench", "serve", "--url", s.url, "--key", s.key, "--concurrency", "1",
			"--duration", "300ms", "--path", tc.path)
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("bench serve %s: %v\n%s%s", tc.path, err, out.String(), errOut.String())
		}
		m := row.FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("bench serve %s: no result row in\n%s", tc.path, out.String())
		}
		if m[1] == "0" {
			t.Errorf("bench serve %s: no request was sent\n%s", tc.path, out.String())
		}
		if got := m[2] != "0"; got != tc.wantErrors {
			t.Errorf("bench serve %s: errors %s, want errors: %v\n%s", tc.path, m[2], tc.wantErrors, out.String())
		}
		if !strings.Contains(out.String(), "2 users sampled") {
			t.Errorf("bench serve %s: want 2 users sampled\n%s", tc.path, out.String())
		}
	}
}
