package web

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/experiment"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/internal/reqid"
)

// The experiments page shows the examination of each position fitted from
// the impression log: here answers whose first item is clicked twice as
// often as the second (the same items at both places).
func TestExperimentsPageShowsPositionBias(t *testing.T) {
	dir := t.TempDir()
	imp, err := impressions.Open(filepath.Join(dir, "impressions.db"), impressions.Options{Queue: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	defer imp.Close()
	m, err := experiment.Open(experiment.Options{Path: filepath.Join(dir, "experiments.db"), Impressions: imp})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s := newShop(t, Options{AdminKey: testAdminKey, Experiments: m})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- imp.Run(ctx) }()
	var evs []events.Event
	for n := range 2000 {
		id := reqid.New()
		items := []string{"P001", "P002"}
		if n%2 == 1 {
			items = []string{"P002", "P001"}
		}
		m.Shown(impressions.Impression{RequestID: id, Surface: "similar", SessionID: fmt.Sprint("s", n), Items: items}, "")
		// position 1 examined always, position 2 half the time; both items
		// clicked when examined with probability 1/2 (every other list)
		if n%4 < 2 {
			evs = append(evs, events.Event{Type: events.Click, SessionID: fmt.Sprint("s", n), UserID: fmt.Sprint("v", n), ItemID: items[0], RequestID: id, Timestamp: time.Now()})
		}
		if n%8 < 2 {
			evs = append(evs, events.Event{Type: events.Click, SessionID: fmt.Sprint("s", n), UserID: fmt.Sprint("v", n), ItemID: items[1], RequestID: id, Timestamp: time.Now()})
		}
	}
	m.EventsAppended(evs)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := m.FitPositions(context.Background()); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	s.ui.experimentsPage(w, httptest.NewRequest("GET", "/admin/experiments", nil))
	page := w.Body.String()
	if !strings.Contains(page, "Position bias") || !strings.Contains(page, "<td>similar</td><td>2000</td>") {
		t.Fatalf("the page lacks the fitted positions:\n%s", page)
	}
	row := regexp.MustCompile(`<td>similar</td><td>2000</td><td>([0-9.]+)</td><td>([0-9.]+)</td>`).FindStringSubmatch(page)
	if row == nil || row[1] != "1.00" || (row[2] != "0.50" && row[2] != "0.49" && row[2] != "0.51") {
		t.Fatalf("similar's fitted row %v: want 1.00 and about 0.50", row)
	}
}
