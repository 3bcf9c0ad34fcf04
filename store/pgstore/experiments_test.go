package pgstore_test

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/store"
)

// The experiment tables shared by replicas: deltas add up, a keyed delta
// counts once whichever replica adds it (also when two add at once), the
// first delta's variant and the earliest exposure stay, units are
// forgotten, and the key is the same for every caller.
func TestExperimentOutcomesAcrossReplicas(t *testing.T) {
	a := open(t)
	ctx := context.Background()
	if err := a.PutExperiment(ctx, "e1", []byte(`{"id":"e1","name":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if err := a.PutExperiment(ctx, "e1", []byte(`{"id":"e1","name":"y"}`)); err != nil {
		t.Fatal(err)
	}
	defs, err := a.ExperimentDefs(ctx)
	if err != nil || len(defs) != 1 || string(defs["e1"]) != `{"id":"e1","name":"y"}` {
		t.Fatalf("defs %q, %v", defs, err)
	}
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	delta := func(unit string, variant int, first time.Time, key string, clicks, orders float64) store.ExperimentDelta {
		return store.ExperimentDelta{ExperimentOutcome: store.ExperimentOutcome{Experiment: "e1", Unit: unit, Variant: variant, First: first,
			Exposures: 1, Clicks: clicks, Orders: orders, Revenue: 5 * orders}, Key: key}
	}
	// two replicas add the same keyed events at once, in different orders
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ds []store.ExperimentDelta
			for i := range 50 {
				j := i
				if r == 1 {
					j = 49 - i
				}
				ds = append(ds, delta(fmt.Sprint("u", j%5), 1, t0, fmt.Sprint("s:", j), 1, 0))
			}
			errs <- a.AddExperimentOutcomes(ctx, ds)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// an unkeyed exposure always adds; a later variant does not change it
	if err := a.AddExperimentOutcomes(ctx, []store.ExperimentDelta{delta("u0", 0, t0.Add(-time.Hour), "", 0, 1)}); err != nil {
		t.Fatal(err)
	}
	outs, err := a.ExperimentOutcomes(ctx, "e1")
	if err != nil || len(outs) != 5 {
		t.Fatalf("outcomes %v, %v", outs, err)
	}
	for _, o := range outs {
		// each unit: 10 keyed events once (each added by two replicas), and
		// every delta's exposure (20 keyed ones that counted… only the
		// first of each key adds: 10, and one unkeyed for u0)
		want := store.ExperimentOutcome{Experiment: "e1", Unit: o.Unit, Variant: 1, First: t0, Exposures: 10, Clicks: 10}
		if o.Unit == "u0" {
			want.First, want.Exposures, want.Orders, want.Revenue = t0.Add(-time.Hour), 11, 1, 5
		}
		if !o.First.Equal(want.First) {
			t.Errorf("%s: first %v, want %v", o.Unit, o.First, want.First)
		}
		o.First = want.First
		if o != want {
			t.Errorf("outcome %+v, want %+v", o, want)
		}
	}
	if err := a.ForgetExperimentUnits(ctx, []string{"u1", "u2"}); err != nil {
		t.Fatal(err)
	}
	if outs, _ := a.ExperimentOutcomes(ctx, "e1"); len(outs) != 3 {
		t.Fatalf("%d units after forgetting 2 of 5", len(outs))
	}
	k1, err := a.ExperimentKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := a.ExperimentKey(ctx)
	if err != nil || string(k1) != string(k2) || len(k1) != 32 {
		t.Fatalf("keys %x, %x, %v: want one 32-byte key", k1, k2, err)
	}
}

// The running minima of the p-values and the daily series are shared: a
// minimum never rises, whichever store (replica) lowers it; the last point
// of a day wins and the series is in day order; other experiments are
// apart.
func TestExperimentLooksAcrossReplicas(t *testing.T) {
	a := open(t)
	ctx := context.Background()
	got, err := a.LowerPValues(ctx, "e1", map[string]float64{"b\x1fctr": 0.4, "b\x1fconversion": 0.2})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]float64{"b\x1fctr": 0.4, "b\x1fconversion": 0.2}; !maps.Equal(got, want) {
		t.Fatalf("minima %v, want %v", got, want)
	}
	cases := []struct {
		in, want map[string]float64
	}{
		// a higher look leaves the minimum; a lower one lowers it
		{map[string]float64{"b\x1fctr": 0.6, "b\x1fconversion": 0.1}, map[string]float64{"b\x1fctr": 0.4, "b\x1fconversion": 0.1}},
		// no look: the stored minima
		{map[string]float64{}, map[string]float64{"b\x1fctr": 0.4, "b\x1fconversion": 0.1}},
		{map[string]float64{"c\x1fctr": 0.9}, map[string]float64{"b\x1fctr": 0.4, "b\x1fconversion": 0.1, "c\x1fctr": 0.9}},
	}
	for i, c := range cases {
		got, err := a.LowerPValues(ctx, "e1", c.in)
		if err != nil || !maps.Equal(got, c.want) {
			t.Errorf("look %d: minima %v, %v; want %v", i, got, err, c.want)
		}
	}
	if got, err := a.LowerPValues(ctx, "e2", nil); err != nil || len(got) != 0 {
		t.Errorf("another experiment's minima %v, %v; want none", got, err)
	}
	for _, p := range []struct{ day, point string }{
		{"2026-12-02", `{"day":"2026-12-02","n":1}`}, {"2026-12-01", `{"day":"2026-12-01"}`}, {"2026-12-02", `{"day":"2026-12-02","n":2}`},
	} {
		if err := a.PutExperimentPoint(ctx, "e1", p.day, []byte(p.point)); err != nil {
			t.Fatal(err)
		}
	}
	series, err := a.ExperimentSeries(ctx, "e1")
	if err != nil || len(series) != 2 || string(series[0]) != `{"day":"2026-12-01"}` || string(series[1]) != `{"day":"2026-12-02","n":2}` {
		t.Fatalf("series %q, %v", series, err)
	}
	if series, err := a.ExperimentSeries(ctx, "e2"); err != nil || len(series) != 0 {
		t.Fatalf("another experiment's series %q, %v", series, err)
	}
}

// Counted keys are trimmed by the time they were counted; a trimmed key
// counts again (the caller no longer sends events that old).
func TestExperimentCountedKeysAreTrimmed(t *testing.T) {
	a := open(t)
	ctx := context.Background()
	d := store.ExperimentDelta{ExperimentOutcome: store.ExperimentOutcome{Experiment: "e1", Unit: "u", First: time.Now(), Clicks: 1}, Key: "s:1"}
	add := func() float64 {
		t.Helper()
		if err := a.AddExperimentOutcomes(ctx, []store.ExperimentDelta{d}); err != nil {
			t.Fatal(err)
		}
		outs, err := a.ExperimentOutcomes(ctx, "e1")
		if err != nil || len(outs) != 1 {
			t.Fatalf("outcomes %v, %v", outs, err)
		}
		return outs[0].Clicks
	}
	if c := add(); c != 1 {
		t.Fatalf("%v clicks, want 1", c)
	}
	if n, err := a.TrimExperimentCounted(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("trimming before an hour ago deleted %d keys (%v), want 0", n, err)
	}
	if c := add(); c != 1 {
		t.Fatalf("a counted key counted again: %v clicks", c)
	}
	if n, err := a.TrimExperimentCounted(ctx, time.Now().Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("trimming up to now deleted %d keys (%v), want 1", n, err)
	}
	if c := add(); c != 2 {
		t.Fatalf("after the trim the key should count again: %v clicks, want 2", c)
	}
}
