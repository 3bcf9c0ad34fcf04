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

// With enough shuffled (explored) answers the fit is "randomised": the page
// names the method and how many answers were shuffled, shows each
// position's standard error and the EM fit beside it for comparison.
func TestExperimentsPageShowsRandomisedFit(t *testing.T) {
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
	const lists = 600 // ≥ impressions.MinExplored
	for n := range lists {
		id := reqid.New()
		items := []string{"P001", "P002"}
		if n%2 == 1 {
			items = []string{"P002", "P001"}
		}
		m.Shown(impressions.Impression{RequestID: id, Surface: "popular", SessionID: fmt.Sprint("s", n), Items: items, Explored: true}, "")
		// position 1 clicked in half the lists, position 2 in a quarter
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
	if f := m.PositionFits()["popular"]; f.Method != "randomised" {
		t.Fatalf("fit %+v: want method randomised", f)
	}
	w := httptest.NewRecorder()
	s.ui.experimentsPage(w, httptest.NewRequest("GET", "/admin/experiments", nil))
	page := w.Body.String()
	// θ2 = (150/600)/(300/600) = 0.5; its standard error by the delta
	// method 0.5·sqrt(1/150 − 1/600 + 1/300 − 1/600) = 0.041
	re := regexp.MustCompile(`<tr class="fit-randomised"><td>popular</td><td>600</td><td>1.00</td><td>0.50 <small class="se">± 0.04</small></td>[^\n]*<td>randomised \(600 shuffled\)</td>`)
	if !re.MatchString(page) {
		t.Fatalf("the page lacks popular's randomised fit with its standard error:\n%s", page)
	}
	if !regexp.MustCompile(`<tr class="fit-em-beside"><td></td><td></td><td>1.00</td><td>0.5[0-9]</td>[^\n]*<td>em, for comparison</td>`).MatchString(page) {
		t.Fatalf("the page lacks the EM fit beside the randomised one:\n%s", page)
	}
}

// positionRow: the method, standard errors and EM fit shown for each kind
// of fit; the page escapes what it shows.
func TestPositionRow(t *testing.T) {
	at := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		surface string
		fit     impressions.Propensities
		want    posRow
	}{
		{"em", "", impressions.Propensities{Theta: []float64{1, 0.4}, Lists: 50, Method: "em", Fitted: at},
			posRow{Surface: "all surfaces", Lists: 50, Method: "em", Theta: []posCell{{Theta: 1}, {Theta: 0.4}}, Fitted: "2026-12-07 03:00 UTC"}},
		{"saved before exploration", "search", impressions.Propensities{Theta: []float64{1}, Lists: 3, Fitted: at},
			posRow{Surface: "search", Lists: 3, Method: "em", Theta: []posCell{{Theta: 1}}, Fitted: "2026-12-07 03:00 UTC"}},
		{"randomised", "recommend", impressions.Propensities{Theta: []float64{1, 0.5, 0.5}, Lists: 900, Method: "randomised", Explored: 400,
			ThetaSE: []float64{0, 0.031, -1}, EMTheta: []float64{1, 0.45, 0.2}, Fitted: at},
			posRow{Surface: "recommend", Lists: 900, Method: "randomised", Explored: 400,
				Theta:   []posCell{{Theta: 1}, {Theta: 0.5, SE: "± 0.03"}, {Theta: 0.5, SE: "(no click)"}},
				EMTheta: []float64{1, 0.45, 0.2}, Fitted: "2026-12-07 03:00 UTC"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := positionRow(tc.surface, tc.fit)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("positionRow = %+v\nwant %+v", got, tc.want)
			}
		})
	}
	s := newShop(t, Options{AdminKey: testAdminKey})
	w := httptest.NewRecorder()
	row := positionRow(`<script>x</script>`, impressions.Propensities{Theta: []float64{1}, Method: `<b>em</b>`})
	s.ui.render(w, httptest.NewRequest("GET", "/admin/experiments", nil), 200, "experiments.html",
		pageData{Title: "Experiments", Body: expPage{Enabled: true, Positions: []posRow{row}}})
	page := w.Body.String()
	if strings.Contains(page, "<script>x") || strings.Contains(page, "<b>em") || !strings.Contains(page, "&lt;script&gt;x&lt;/script&gt;") {
		t.Fatalf("the surface and method are not escaped:\n%s", page)
	}
}
