package experiment

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/internal/reqid"
)

func open(t *testing.T, dir string) (*Manager, func()) {
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
