package experiment

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/impressions"
)

// EventPositionWeight finds the surface of the answer an event names and
// weighs its position by that surface's trusted fit: search by any fit, a
// recommendation surface only by one from explored answers.
func TestEventPositionWeight(t *testing.T) {
	dir := t.TempDir()
	imp, err := impressions.Open(filepath.Join(dir, "imp.db"), impressions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer imp.Close()
	m, err := Open(Options{Path: filepath.Join(dir, "exp.db"), Impressions: imp, Price: func(context.Context, string) (float64, bool) { return 0, false }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	now := time.Now()
	rid := map[string]string{}
	for n, surface := range []string{"search", "recommend", "trending", "popular"} {
		rid[surface] = ridAt(now, n)
		m.Shown(impressions.Impression{RequestID: rid[surface], Surface: surface, Items: []string{"i1", "i2", "i3"}}, "")
	}
	ev := func(surface string, pos int) events.Event {
		return events.Event{Type: events.Click, ItemID: "i3", RequestID: rid[surface], Position: pos}
	}
	if w := m.EventPositionWeight(ev("recommend", 3)); w != 1 {
		t.Fatalf("weight %v before any fit, want 1", w)
	}
	theta := []float64{1, 0.5, 0.25}
	m.pos.Store(&map[string]impressions.Propensities{
		"search":    {Theta: theta, Lists: 5000, Method: "em"},
		"recommend": {Theta: theta, Lists: 5000, Method: "randomised"},
		"trending":  {Theta: theta, Lists: 5000, Method: "em"},        // confounded: not trusted
		"popular":   {Theta: theta, Lists: 500, Method: "randomised"}, // too few answers
		"":          {Theta: theta, Lists: 9000, Method: "em"},
	})
	cases := []struct {
		name string
		e    events.Event
		want float64
	}{
		{"search, position 3", ev("search", 3), 4},
		{"recommend, position 2", ev("recommend", 2), 2},
		{"recommend, past the fitted positions", ev("recommend", 7), 4},
		{"recommend, no position", ev("recommend", 0), 1},
		{"trending fitted by EM", ev("trending", 3), 1},
		{"popular with too few answers", ev("popular", 3), 1},
		{"unknown answer", events.Event{RequestID: ridAt(now, 99), Position: 3}, 1},
		{"no request id", events.Event{Position: 3}, 1},
	}
	for _, c := range cases {
		if got := m.EventPositionWeight(c.e); got != c.want {
			t.Errorf("%s: weight %v, want %v", c.name, got, c.want)
		}
	}
}
