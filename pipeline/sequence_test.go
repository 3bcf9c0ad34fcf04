package pipeline

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/model"
)

// walks builds users who walk a ring of items one or two steps at a time,
// one item per minute: the previous item predicts the next one. With
// shuffle, each user's items keep their times but lose their order.
func walks(users, items, length int, shuffle bool) *model.Dataset {
	rng := rand.New(rand.NewPCG(7, 7))
	ds := &model.Dataset{UserPtr: []int{0}, ItemIDs: make([]string, items)}
	for u := 0; u < users; u++ {
		it := rng.IntN(items)
		var row []int32
		seen := map[int]bool{}
		for len(row) < length {
			if !seen[it] {
				seen[it] = true
				row = append(row, int32(it))
			}
			it = (it + 1 + rng.IntN(2)) % items
		}
		if shuffle {
			rng.Shuffle(len(row), func(i, j int) { row[i], row[j] = row[j], row[i] })
		}
		for k, x := range row {
			ds.Items = append(ds.Items, x)
			ds.Times = append(ds.Times, int64(u*1000+k*60))
		}
		ds.UserIDs = append(ds.UserIDs, "u")
		ds.UserPtr = append(ds.UserPtr, len(ds.Items))
	}
	return ds
}

func TestSequenceCheck(t *testing.T) {
	sameTime := walks(300, 200, 12, false)
	for k := range sameTime.Times {
		sameTime.Times[k] = 5 // one basket: the order within it is unknown
	}
	short := walks(300, 200, 4, false)
	for _, tc := range []struct {
		name          string
		ds            *model.Dataset
		users         int
		lo, hi        float64 // order signal bounds
		passes        bool
		reasonContain string
	}{
		{"ordered walks", walks(300, 200, 12, false), 300, 0.6, 1, true, "order signal"},
		{"shuffled walks", walks(300, 200, 12, true), 300, 0.45, 0.515, false, "order signal"},
		{"one timestamp", sameTime, 0, 0.5, 0.5, false, "time-ordered"},
		{"short histories", short, 0, 0.45, 1, false, "time-ordered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := measureSequence(tc.ds, 1)
			if s.Users != tc.users || s.OrderSignal < tc.lo || s.OrderSignal > tc.hi {
				t.Fatalf("got %+v, want %d users and signal in [%g, %g]", s, tc.users, tc.lo, tc.hi)
			}
			d := &Data{Implicit: tc.ds, Report: Report{Users: tc.ds.NumUsers(), ItemsWithData: 200, Interactions: tc.ds.NumInteractions()}}
			ok, why := DefaultRequirements("sasrec").Check(d)
			if ok != tc.passes || !strings.Contains(why, tc.reasonContain) || !strings.Contains(why, "sequential:") {
				t.Fatalf("check = %v, %q", ok, why)
			}
		})
	}
}

// The fast models' requirements do not depend on the order of histories.
func TestFastModelsIgnoreOrder(t *testing.T) {
	d := &Data{Implicit: walks(300, 200, 12, true)}
	d.Report = Report{Users: 300, ItemsWithData: 200, Interactions: d.Implicit.NumInteractions()}
	for _, m := range DefaultModels() {
		if ok, why := DefaultRequirements(m.Name).Check(d); !ok || strings.Contains(why, "sequential") {
			t.Fatalf("%s: %v %q", m.Name, ok, why)
		}
	}
}

func walkData(shuffle bool) *Data {
	ds := walks(400, 120, 15, shuffle)
	ds.Weights = make([]float32, len(ds.Items))
	for k := range ds.Weights {
		ds.Weights[k] = 1
	}
	return &Data{Implicit: ds, Report: Report{Users: 400, ItemsWithData: 120, Items: 120, Interactions: len(ds.Items)}}
}

func TestTuneRespectsBudgetAndFixedParams(t *testing.T) {
	d := walkData(false)
	ctx := context.Background()
	if _, _, err := Tune(ctx, d, Spec{Name: "itemknn"}, nil, time.Nanosecond, Options{}); err == nil || !strings.Contains(err.Error(), "budget") {
		t.Fatalf("a budget too short for one trial: %v", err)
	}
	spec, rep, err := Tune(ctx, d, Spec{Name: "itemknn", Params: model.Params{"shrink": 10}}, model.Params{"shrink": 10}, time.Minute, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// k has 4 values; shrink is the config's: the current parameters plus
	// four combinations
	if rep.Trials != 5 || rep.OutOfTime || rep.Params["shrink"] != 10 {
		t.Fatalf("report %+v", rep)
	}
	if rep.Improved != (rep.Best > rep.Baseline) || spec.Tuned != rep.Improved {
		t.Fatalf("improved %v with %.4f over %.4f, spec %+v", rep.Improved, rep.Best, rep.Baseline, spec)
	}
	// a budget that ends the grid early: the search stops in time and
	// keeps only whole trials
	budget := 300 * time.Millisecond
	start := time.Now()
	_, rep, err = Tune(ctx, d, Spec{Name: "ials", Params: model.Params{"iterations": 400}}, model.Params{"iterations": 400}, budget, Options{})
	took := time.Since(start)
	if err == nil && (!rep.OutOfTime || rep.Trials >= 45) {
		t.Fatalf("a 300ms budget ran the whole grid: %+v", rep)
	}
	if took > budget+2*time.Second { // generous: the machine is shared
		t.Fatalf("the search took %s with a budget of %s", took, budget)
	}
	if _, _, err := Tune(ctx, d, Spec{Name: "popular"}, nil, time.Minute, Options{}); err == nil {
		t.Fatal("popular has nothing to tune, yet Tune did not say so")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := Tune(cctx, d, Spec{Name: "ease"}, nil, time.Minute, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled search: %v", err)
	}
}

func TestBoundedSetsBudgetUnlessConfigured(t *testing.T) {
	s := bounded(Spec{Name: "sasrec"}, 90*time.Second, 1)
	if s.Params["time_budget"] != 90 || s.Params["threads"] != 1 {
		t.Fatalf("%+v", s.Params)
	}
	s = bounded(Spec{Name: "sasrec", Params: model.Params{"time_budget": 5}}, 90*time.Second, 1)
	if s.Params["time_budget"] != 5 {
		t.Fatalf("the config's budget was overridden: %+v", s.Params)
	}
	if s := bounded(Spec{Name: "itemknn"}, time.Minute, 1); len(s.Params) != 0 {
		t.Fatalf("itemknn has no budget parameter: %+v", s.Params)
	}
}

// BenchmarkSequence measures the sequential-data check on 20,000 users
// with 30 interactions each over 5,000 items.
func BenchmarkSequence(b *testing.B) {
	ds := walks(20000, 5000, 30, false)
	b.ResetTimer()
	for b.Loop() {
		measureSequence(ds, 1)
	}
}

// TestSequenceClock: histories one constant step apart (a loader's file
// order) are not a clock's; varied gaps are, and a share in between is
// judged by minClocked.
func TestSequenceClock(t *testing.T) {
	respace := func(ds *model.Dataset, varied func(u int) bool) *model.Dataset {
		rng := rand.New(rand.NewPCG(3, 3))
		for u := 0; u < ds.NumUsers(); u++ {
			if !varied(u) {
				continue
			}
			ts := int64(u * 1000)
			for k := ds.UserPtr[u]; k < ds.UserPtr[u+1]; k++ {
				ts += 1 + rng.Int64N(86400)
				ds.Times[k] = ts
			}
		}
		return ds
	}
	sameDay := walks(100, 200, 8, false)
	for u := 0; u < sameDay.NumUsers(); u++ { // two per day, days one apart
		for k := sameDay.UserPtr[u]; k < sameDay.UserPtr[u+1]; k++ {
			sameDay.Times[k] = int64(u*86400 + (k-sameDay.UserPtr[u])/2*86400)
		}
	}
	for _, tc := range []struct {
		name    string
		ds      *model.Dataset
		clocked float64
		timed   bool
	}{
		{"one minute a step", walks(200, 200, 8, false), 0, false},
		{"varied gaps", respace(walks(200, 200, 8, false), func(int) bool { return true }), 1, true},
		{"a quarter varied", respace(walks(200, 200, 8, false), func(u int) bool { return u%4 == 0 }), 0.25, false},
		{"three quarters varied", respace(walks(200, 200, 8, false), func(u int) bool { return u%4 != 0 }), 0.75, true},
		{"same-day pairs a day apart", sameDay, 0, false},
		{"no time-ordered user", walks(50, 200, 3, false), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := measureSequence(tc.ds, 1)
			if s.Clocked != tc.clocked || s.Timed() != tc.timed {
				t.Fatalf("clocked %.3f timed %v, want %.3f %v (%s)", s.Clocked, s.Timed(), tc.clocked, tc.timed, s)
			}
			if want := map[bool]string{true: "times vary", false: "a file's order"}[tc.timed]; !strings.Contains(s.String(), want) {
				t.Fatalf("%q does not say %q", s, want)
			}
		})
	}
}
