package experiment

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/internal/reqid"
)

func open(t testing.TB, dir string) (*Manager, func()) {
	t.Helper()
	imp, err := impressions.Open(filepath.Join(dir, "imp.db"), impressions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Open(Options{Path: filepath.Join(dir, "exp.db"), Impressions: imp,
		Price: func(_ context.Context, id string) (float64, bool) { return 10, true }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- imp.Run(ctx) }()
	go func() { done <- m.Run(ctx) }()
	return m, func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
		if err := m.Close(); err != nil {
			t.Error(err)
		}
		imp.Close()
	}
}

func contract() Experiment {
	return Experiment{Name: "models", Surface: "recommend", Variants: []Variant{
		{Name: "a", Weight: 50, Overrides: Overrides{Model: "popular"}}, {Name: "b", Weight: 50, Overrides: Overrides{Model: "ease"}}}}
}

func TestManagerAttributesOnceAndSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	m, closeM := open(t, dir)
	e, err := m.Create(contract())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(contract()); !errors.Is(err, ErrConflict) {
		t.Fatalf("a second experiment on the same surface: %v, want a conflict", err)
	}
	as, ok := m.Serve("recommend", "u1")
	if !ok || as.Experiment != e.ID || as.Variant != e.Variants[e.Assign("u1")].Name {
		t.Fatalf("Serve = %+v, %v", as, ok)
	}
	if _, ok := m.Serve("search", "u1"); ok {
		t.Fatal("another surface was assigned")
	}
	id := reqid.New()
	m.Shown(impressions.Impression{RequestID: id, Surface: "recommend", UserID: "u1", Experiment: e.ID, Variant: as.Variant, Items: []string{"i1", "i2"}}, "u1")
	two := 2.0
	click := events.Event{UserID: "u1", ItemID: "i2", Type: events.Click, RequestID: id, Position: 2, Timestamp: time.Now()}
	buy := events.Event{UserID: "u1", ItemID: "i2", Type: events.Purchase, RequestID: id, Value: &two, Timestamp: time.Now()}
	m.EventsAppended([]events.Event{click, buy})
	m.EventsAppended([]events.Event{click, buy}) // the same events again: counted once
	closeM()

	m, closeM = open(t, dir)
	defer closeM()
	r, err := m.Results(e.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range r.Variants {
		want := VariantResult{Name: v.Name}
		if v.Name == as.Variant {
			want = VariantResult{Name: v.Name, Users: 1, Exposures: 1, Clicks: 1, Orders: 1, Revenue: 20}
		}
		if v.Users != want.Users || v.Exposures != want.Exposures || v.Clicks != want.Clicks || v.Orders != want.Orders || v.Revenue != want.Revenue {
			t.Errorf("variant %s after a restart: %+v, want %+v", v.Name, v, want)
		}
	}
	// a deleted user leaves the results
	m.UserDeleted("u1")
	if r, _ := m.Results(e.ID); r.Variants[0].Users+r.Variants[1].Users != 0 {
		t.Fatalf("a deleted user is still counted: %+v", r.Variants)
	}
	if _, err := m.Ship(e.ID, "b"); err != nil {
		t.Fatal(err)
	}
	as, ok = m.Serve("recommend", "anyone")
	if !ok || as.Experiment != "" || as.Overrides.Model != "ease" {
		t.Fatalf("after shipping b: %+v, %v; want b's overrides for everyone", as, ok)
	}
	if _, err := m.Create(contract()); err != nil {
		t.Fatalf("a new experiment after shipping: %v", err)
	}
}

func TestInterleavingCreditsTheTeamThatPlacedTheItem(t *testing.T) {
	m, closeM := open(t, t.TempDir())
	defer closeM()
	e := contract()
	e.Method = MethodInterleave
	e, err := m.Create(e)
	if err != nil {
		t.Fatal(err)
	}
	as, ok := m.Serve("recommend", "u1")
	if !ok || as.Interleave == nil || as.Variant != "interleaved" || as.Interleave[1].Model != "ease" {
		t.Fatalf("Serve = %+v", as)
	}
	for u, clicked := range map[string]string{"u1": "y", "u2": "y", "u3": "x"} {
		id := reqid.New()
		m.Shown(impressions.Impression{RequestID: id, Surface: "recommend", UserID: u, Experiment: e.ID, Variant: "interleaved",
			Items: []string{"x", "y"}, Teams: []uint8{0, 1}}, u)
		m.EventsAppended([]events.Event{{UserID: u, ItemID: clicked, Type: events.Click, RequestID: id, Timestamp: time.Now()}})
	}
	r, err := m.Results(e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if il := r.Interleaving; il == nil || il.WinsA != 1 || il.WinsB != 2 || il.Ties != 0 {
		t.Fatalf("interleaving %+v: want a 1, b 2", r.Interleaving)
	}
	if r.Variants[1].Clicks != 2 || r.Variants[0].Clicks != 1 || r.Variants[0].Users != 3 {
		t.Errorf("credits per team %+v", r.Variants)
	}
}

// The fit of position bias is kept across restarts, and weighs only the
// surface it was fitted on, once it read 1,000 of its answers.
func TestPositionWeightFromTheSurfacesOwnFit(t *testing.T) {
	dir := t.TempDir()
	m, closeM := open(t, dir)
	var evs []events.Event
	for n := range 1200 {
		id := reqid.New()
		items := []string{"a", "b"}
		if n%2 == 1 {
			items = []string{"b", "a"}
		}
		// explored answers of "similar" and the same unexplored on "recommend"
		m.Shown(impressions.Impression{RequestID: id, Surface: "similar", SessionID: "s", Items: items, Explored: true}, "")
		rid := reqid.New()
		m.Shown(impressions.Impression{RequestID: rid, Surface: "recommend", SessionID: "s", Items: items}, "")
		for _, id := range []string{id, rid} {
			if n%4 < 2 { // position 1 clicked in half the lists, position 2 in a quarter
				evs = append(evs, events.Event{Type: events.Click, UserID: "v", ItemID: items[0], RequestID: id, Timestamp: time.Now()})
			}
			if n%8 < 2 {
				evs = append(evs, events.Event{Type: events.Click, UserID: "v", ItemID: items[1], RequestID: id, Timestamp: time.Now()})
			}
		}
	}
	m.EventsAppended(evs)
	if w := m.PositionWeight("similar", 2); w != 1 {
		t.Fatalf("weight %v before any fit, want 1", w)
	}
	// the log's writer takes its queue every 50 ms: fit until it has all
	// 1,200 answers and 900 clicks
	for deadline := time.Now().Add(30 * time.Second); ; {
		if err := m.FitPositions(context.Background()); err != nil {
			t.Fatal(err)
		}
		if f, r := m.PositionFits()["similar"], m.PositionFits()["recommend"]; f.Lists == 1200 && f.Clicks[0]+f.Clicks[1] == 900 &&
			r.Lists == 1200 && r.Clicks[0]+r.Clicks[1] == 900 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log never held the answers and clicks: %+v", m.PositionFits()["similar"])
		}
		time.Sleep(20 * time.Millisecond)
	}
	check := func(m *Manager, when string) {
		t.Helper()
		if w := m.PositionWeight("similar", 2); w < 1.8 || w > 2.2 {
			t.Errorf("%s: weight of position 2 on similar %v, want about 2", when, w)
		}
		if w := m.PositionWeight("similar", 1); w != 1 {
			t.Errorf("%s: weight of position 1 %v, want 1", when, w)
		}
		if f := m.PositionFits()["similar"]; f.Method != "randomised" {
			t.Errorf("%s: similar fitted by %q, want randomised (every answer explored)", when, f.Method)
		}
		if w := m.PositionWeight("recommend", 2); w != 1 {
			t.Errorf("%s: weight on recommend %v, want 1: an EM fit of a surface other than search is not trusted", when, w)
		}
		if w := m.PositionWeight("search", 2); w != 1 {
			t.Errorf("%s: weight on search, which has no answers, %v, want 1", when, w)
		}
	}
	check(m, "fitted")
	closeM()
	m, closeM = open(t, dir)
	defer closeM()
	check(m, "after a restart")
}

// An experiment created with "ends" stops by itself: from that time
// nobody is assigned, an event dated after it does not count, and the
// next flush records it as stopped at its end; an end in the past is
// refused, and an experiment past its end no longer blocks its surface.
func TestExperimentEndsByItself(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	imp, err := impressions.Open(filepath.Join(dir, "imp.db"), impressions.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer imp.Close()
	m, err := Open(Options{Path: filepath.Join(dir, "exp.db"), Impressions: imp, Now: clock,
		Price: func(context.Context, string) (float64, bool) { return 10, true }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	e := contract()
	past := now.Add(-time.Second)
	e.Ends = &past
	if _, err := m.Create(e); err == nil || !strings.Contains(err.Error(), "ends") {
		t.Fatalf("an end in the past: %v, want it refused", err)
	}
	end := now.Add(time.Hour)
	e.Ends = &end
	if e, err = m.Create(e); err != nil || e.Ends == nil || !e.Ends.Equal(end) {
		t.Fatalf("Create with ends: %+v, %v", e, err)
	}
	unit := ""
	for i := range 100 { // a shopper in b, the variant whose click is checked
		if u := fmt.Sprintf("u%d", i); e.Variants[e.Assign(u)].Name == "b" {
			unit = u
			break
		}
	}
	as, ok := m.Serve("recommend", unit)
	if !ok || as.Variant != "b" {
		t.Fatalf("before the end: %+v, %v", as, ok)
	}
	id := reqid.New()
	m.Shown(impressions.Impression{RequestID: id, Surface: "recommend", UserID: unit, Experiment: e.ID, Variant: "b", Items: []string{"i1", "i2"}, Time: now}, unit)
	m.EventsAppended([]events.Event{{UserID: unit, ItemID: "i1", Type: events.Click, RequestID: id, Position: 1, Timestamp: now.Add(time.Minute)}})

	mu.Lock()
	now = end.Add(time.Second)
	mu.Unlock()
	if as, ok := m.Serve("recommend", unit); ok {
		t.Fatalf("after the end the shopper is still assigned: %+v", as)
	}
	m.EventsAppended([]events.Event{{UserID: unit, ItemID: "i2", Type: events.Click, RequestID: id, Position: 2, Timestamp: now}})
	r, err := m.Results(e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b := r.Variants[1]; b.Users != 1 || b.Clicks != 1 {
		t.Errorf("variant b: %d users, %v clicks; want 1 and 1 (the click after the end not counted)", b.Users, b.Clicks)
	}
	m.EndDue()
	got, err := m.Get(e.ID)
	if err != nil || got.Status != Stopped || got.Ended == nil || !got.Ended.Equal(end) {
		t.Fatalf("after EndDue: %+v, %v; want stopped, ended at %s", got, err, end)
	}
	if _, err := m.Create(contract()); err != nil {
		t.Fatalf("a new experiment on the surface after the end: %v", err)
	}
}
