package search

import (
	"fmt"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

func TestClicksLearnFromActionsAfterASearch(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	c := NewClicks()
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	c.EventsAppended([]events.Event{
		{UserID: "u", SessionID: "s1", Type: events.Search, Query: "Gel Pens", Timestamp: at(0)},
		{UserID: "u", SessionID: "s1", ItemID: "a", Type: events.Click, Timestamp: at(1)},
		{UserID: "u", SessionID: "s1", ItemID: "a", Type: events.Purchase, Timestamp: at(2)},
		{UserID: "u", SessionID: "s1", ItemID: "b", Type: events.Click, Timestamp: at(3)},
		{UserID: "u", SessionID: "s1", ItemID: "late", Type: events.Click, Timestamp: at(45)}, // after the window
		{UserID: "v", SessionID: "s2", ItemID: "other", Type: events.Click, Timestamp: at(1)}, // no search in s2
		{UserID: "v", ItemID: "nosession", Type: events.Click, Timestamp: at(1)},
		{UserID: "w", SessionID: "s3", Type: events.Search, Query: "stapler", Timestamp: at(0)},
		{UserID: "w", SessionID: "s3", ItemID: "s", Type: events.View, Timestamp: at(1)}, // views do not count
	})
	b := c.Boost("gel pens") // normalised like the query
	if b == nil {
		t.Fatal("no boost for a query shoppers acted on")
	}
	if !(b("a") > b("b") && b("b") > 0 && b("late") == 0 && b("other") == 0 && b("a") < 1) {
		t.Fatalf("boosts a %v b %v late %v other %v", b("a"), b("b"), b("late"), b("other"))
	}
	if c.Boost("stapler") != nil || c.Boost("unknown") != nil {
		t.Fatal("boost without actions")
	}
	both := CombineBoosts(b, func(id string) float64 { return 0.9 })
	if both("a") != 0.9 || CombineBoosts(nil, b)("a") != b("a") || CombineBoosts(nil, nil) != nil {
		t.Fatal("combine")
	}
}

// Learned clicks lift an item among equally relevant ones.
func TestClicksReorderResults(t *testing.T) {
	ix := newTestIndex(t, DefaultConfig(), nil, []catalog.Item{
		{ID: "x", Title: "Blue gel pen", Available: true},
		{ID: "y", Title: "Blue gel pen", Available: true},
	})
	first := search(t, ix, Request{Query: "blue gel pen"}).Items[0].ID
	other := "x"
	if first == "x" {
		other = "y"
	}
	c := NewClicks()
	t0 := time.Now()
	c.Record(events.Event{SessionID: "s", Type: events.Search, Query: "blue gel pen", Timestamp: t0})
	c.Record(events.Event{SessionID: "s", ItemID: other, Type: events.Purchase, Timestamp: t0.Add(time.Minute)})
	if got := search(t, ix, Request{Query: "blue gel pen", Boost: c.Boost("blue gel pen")}).Items[0].ID; got != other {
		t.Fatalf("the purchased item %s did not move up (first %s)", other, got)
	}
}

func TestClicksJudgments(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	c := NewClicks()
	c.EventsAppended([]events.Event{
		{SessionID: "s1", Type: events.Search, Query: "Stapler", Timestamp: t0},
		{SessionID: "s1", ItemID: "a", Type: events.Click, Timestamp: t0.Add(time.Minute)},
		{SessionID: "s1", ItemID: "a", Type: events.Purchase, Timestamp: t0.Add(2 * time.Minute)},
		{SessionID: "s2", Type: events.Search, Query: "ink", Timestamp: t0},
		{SessionID: "s2", ItemID: "b", Type: events.AddToCart, Timestamp: t0.Add(time.Minute)},
		{SessionID: "s3", Type: events.Search, Query: "nothing clicked", Timestamp: t0},
	})
	got := c.Judgments()
	want := []Judgment{{Query: "ink", Gains: map[string]float64{"b": 2}}, {Query: "stapler", Gains: map[string]float64{"a": 4}}}
	if len(got) != len(want) {
		t.Fatalf("got %d judgments %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i].Query != want[i].Query || len(got[i].Gains) != len(want[i].Gains) {
			t.Fatalf("judgment %d = %+v, want %+v", i, got[i], want[i])
		}
		for id, g := range want[i].Gains {
			if got[i].Gains[id] != g {
				t.Fatalf("judgment %q item %s gain %v, want %v", want[i].Query, id, got[i].Gains[id], g)
			}
		}
	}
	got[0].Gains["b"] = 99 // a copy: the model is unchanged
	if c.Judgments()[0].Gains["b"] != 2 {
		t.Fatal("Judgments returned the model's own map")
	}
}

// A search heard late (the logged copy of a search the model already
// heard) does not replace a newer search of the session.
func TestClicksKeepTheNewestSearch(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	c := NewClicks()
	first := events.Event{SessionID: "s", Type: events.Search, Query: "ink", Timestamp: t0}
	c.Record(first)
	c.Record(events.Event{SessionID: "s", Type: events.Search, Query: "toner", Timestamp: t0.Add(time.Minute)})
	c.Record(first) // replayed
	c.Record(events.Event{SessionID: "s", ItemID: "t1", Type: events.Click, Timestamp: t0.Add(2 * time.Minute)})
	if c.Boost("toner") == nil || c.Boost("ink") != nil {
		t.Fatalf("the click went to the wrong search: toner %v, ink %v", c.Boost("toner") != nil, c.Boost("ink") != nil)
	}
}

// normQuery keeps a trailing space (the shopper finished a word) and reads
// the last character, not the last byte: 선 ends in byte 0xA0, which as a
// rune is a no-break space.
func TestNormQuery(t *testing.T) {
	for in, want := range map[string]string{
		"Gel  Pens": "gel pens", "gel ": "gel ", "무선": "무선", "무선 ": "무선 ", "": "", "  ": "", "ﾍﾟﾝ": "ﾍﾟﾝ",
	} {
		if got := normQuery(in); got != want {
			t.Errorf("normQuery(%q) = %q, want %q", in, got, want)
		}
	}
}

// Events out of order, as a batched search log stores them: an action
// counts for the newest search of its session at or before its time,
// whenever that search is heard.
func TestClicksOutOfOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	c := NewClicks()
	c.EventsAppended([]events.Event{
		{SessionID: "s", Type: events.Search, Query: "ink", Timestamp: at(0)},
		{SessionID: "s", ItemID: "i1", Type: events.Click, Timestamp: at(5)},     // after ink
		{SessionID: "s", ItemID: "t1", Type: events.Purchase, Timestamp: at(65)}, // after toner, heard before it
		{SessionID: "s", Type: events.Search, Query: "toner", Timestamp: at(60)},
		{SessionID: "s", Type: events.Search, Query: "toner", Timestamp: at(60)}, // the stored copy of a search heard live
		{SessionID: "u", ItemID: "p1", Type: events.Click, Timestamp: at(10)},    // no search yet in u
		{SessionID: "u", Type: events.Search, Query: "paper", Timestamp: at(9)},
		{SessionID: "u", ItemID: "late", Type: events.Click, Timestamp: at(9 + 31*60)}, // after the window
	})
	want := map[string]map[string]float64{"ink": {"i1": 1}, "toner": {"t1": 3}, "paper": {"p1": 1}}
	got := map[string]map[string]float64{}
	for _, j := range c.Judgments() {
		got[j.Query] = j.Gains
	}
	if len(got) != len(want) {
		t.Fatalf("judgments %v, want %v", got, want)
	}
	for q, items := range want {
		if len(got[q]) != len(items) {
			t.Fatalf("%q: %v, want %v", q, got[q], items)
		}
		for id, w := range items {
			if got[q][id] != w {
				t.Fatalf("%q %s: %v, want %v (all %v)", q, id, got[q][id], w, got)
			}
		}
	}
}

// An action heard after a newer search of its session still counts for
// the newest search at or before it (a tracker that batches clicks sends
// them after the next search was answered and recorded).
func TestClicksLateActionBeforeTheNewestSearch(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for _, tc := range []struct {
		name string
		evs  []events.Event
		want map[string]map[string]float64
	}{
		{"click between two searches, heard last", []events.Event{
			{SessionID: "s", Type: events.Search, Query: "ink", Timestamp: at(0)},
			{SessionID: "s", Type: events.Search, Query: "toner", Timestamp: at(60)},
			{SessionID: "s", ItemID: "i1", Type: events.Click, Timestamp: at(30)},
			{SessionID: "s", ItemID: "t1", Type: events.Click, Timestamp: at(70)},
		}, map[string]map[string]float64{"ink": {"i1": 1}, "toner": {"t1": 1}}},
		{"searches heard in reverse after the clicks", []events.Event{
			{SessionID: "s", ItemID: "i1", Type: events.Click, Timestamp: at(30)},
			{SessionID: "s", ItemID: "t1", Type: events.AddToCart, Timestamp: at(70)},
			{SessionID: "s", Type: events.Search, Query: "toner", Timestamp: at(60)},
			{SessionID: "s", Type: events.Search, Query: "ink", Timestamp: at(0)},
			{SessionID: "s", Type: events.Search, Query: "ink", Timestamp: at(0)}, // stored copy
		}, map[string]map[string]float64{"ink": {"i1": 1}, "toner": {"t1": 2}}},
		{"a blank search (never stored) changes nothing", []events.Event{
			{SessionID: "s", ItemID: "i1", Type: events.Click, Timestamp: at(30)},
			{SessionID: "s", Type: events.Search, Query: "  ", Timestamp: at(20)},
			{SessionID: "s", Type: events.Search, Query: "ink", Timestamp: at(0)},
		}, map[string]map[string]float64{"ink": {"i1": 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClicks()
			c.EventsAppended(tc.evs)
			got := map[string]map[string]float64{}
			for _, j := range c.Judgments() {
				got[j.Query] = j.Gains
			}
			if len(got) != len(tc.want) {
				t.Fatalf("judgments %v, want %v", got, tc.want)
			}
			for q, items := range tc.want {
				if len(got[q]) != len(items) {
					t.Fatalf("%q: %v, want %v", q, got[q], items)
				}
				for id, w := range items {
					if got[q][id] != w {
						t.Fatalf("%q %s: %v, want %v (all %v)", q, id, got[q][id], w, got)
					}
				}
			}
		})
	}
}

// The sessions remembered stay bounded even when every one is active
// (many sessions, or made-up session ids), and the least recent go first.
func TestClicksSessionsBounded(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		max, n   int
		interval time.Duration // between two sessions' events
	}{
		{"all active", 100, 1000, time.Millisecond},
		{"stale ones", 100, 1000, time.Minute},
		{"under the bound", 100, 50, time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClicks()
			c.maxSessions, c.pruneAt = tc.max, tc.max
			for i := range tc.n {
				c.Record(events.Event{SessionID: fmt.Sprintf("s%d", i), Type: events.Search, Query: "ink", Timestamp: t0.Add(time.Duration(i) * tc.interval)})
			}
			if len(c.sessions) > tc.max {
				t.Fatalf("%d sessions remembered, bound %d", len(c.sessions), tc.max)
			}
			last := fmt.Sprintf("s%d", tc.n-1)
			if c.sessions[last] == nil {
				t.Fatalf("the newest session %s was forgotten", last)
			}
			if tc.n <= tc.max && len(c.sessions) != tc.n {
				t.Fatalf("%d sessions remembered, want all %d", len(c.sessions), tc.n)
			}
		})
	}
}

// Whether a click-scoped ranker covers a query is asked on every search:
// it answers from the model without copying the query's weights (a
// popular query has thousands of clicked items).
func TestClickScopedCoversWithoutCopying(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	c := NewClicks()
	c.Record(events.Event{SessionID: "s", Type: events.Search, Query: "ink", Timestamp: t0})
	for i := range 50 {
		c.Record(events.Event{SessionID: "s", ItemID: fmt.Sprintf("i%d", i), Type: events.Click, Timestamp: t0.Add(time.Second)})
	}
	rs := rankState{ranker: scopedRanker{}, signals: Signals{Clicks: c}}
	for _, tc := range []struct {
		q    string
		want bool
	}{{"ink", true}, {"Ink", true}, {"toner", false}, {"", false}} {
		if got := rs.covers(tc.q); got != tc.want {
			t.Errorf("covers(%q) = %v, want %v", tc.q, got, tc.want)
		}
	}
	// normalising the query may allocate once; a copy of 50 weights more
	if n := testing.AllocsPerRun(20, func() { rs.covers("ink") }); n > 1 {
		t.Fatalf("covers allocates %v times per call, want at most 1", n)
	}
}

// scopedRanker is a click-scoped ranker that ranks by the first feature.
type scopedRanker struct{}

func (scopedRanker) Score(x []float32) float64 { return float64(x[0]) }
func (scopedRanker) Check([]string) error      { return nil }
func (scopedRanker) ClickScoped() bool         { return true }

// One event whose clock is far ahead (a shopper's device set wrong) does
// not make the session forget its latest search.
func TestClicksEventFromTheFuture(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	c := NewClicks()
	c.EventsAppended([]events.Event{
		{SessionID: "s", Type: events.Search, Query: "ink", Timestamp: t0},
		{SessionID: "s", ItemID: "x", Type: events.Click, Timestamp: t0.Add(3 * time.Hour)}, // clock ahead
		{SessionID: "s", ItemID: "i1", Type: events.Click, Timestamp: t0.Add(10 * time.Second)},
	})
	j := c.Judgments()
	if len(j) != 1 || j[0].Query != "ink" || j[0].Gains["i1"] != 1 || len(j[0].Gains) != 1 {
		t.Fatalf("judgments %+v, want ink: i1 1", j)
	}
}

// A new session whose event is stamped far ahead of the clock does not
// make every other session look stale when sessions are pruned; replaying
// an old log, the events' times still say which sessions are stale.
func TestClicksPruneIgnoresAFutureClock(t *testing.T) {
	now := time.Now().UTC()
	for _, tc := range []struct {
		name      string
		at, newAt time.Time // of the ten sessions, and of the new one
		want      int
	}{
		{"live, new session ahead of the clock", now.Add(-time.Minute), now.Add(3 * time.Hour), 11},
		{"live, new session on time", now.Add(-time.Minute), now, 11},
		{"replay, within the window", now.Add(-2 * time.Hour), now.Add(-2*time.Hour + 29*time.Minute), 11},
		{"replay, after the window", now.Add(-2 * time.Hour), now.Add(-2*time.Hour + 31*time.Minute), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClicks()
			c.maxSessions, c.pruneAt = 100, 10
			for i := range 10 {
				c.Record(events.Event{SessionID: fmt.Sprintf("s%d", i), Type: events.Search, Query: "ink", Timestamp: tc.at})
			}
			c.Record(events.Event{SessionID: "new", Type: events.Search, Query: "ink", Timestamp: tc.newAt})
			if len(c.sessions) != tc.want || c.sessions["new"] == nil {
				t.Fatalf("%d sessions remembered, want %d with the new one", len(c.sessions), tc.want)
			}
		})
	}
}
