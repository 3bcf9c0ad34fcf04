package experiment

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/internal/reqid"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/pgstore"
	"github.com/aisle-dev/aisle/store/pgstore/pgtest"
)

// replicaOn opens a manager in its own directory over the shared store.
func replicaOn(t *testing.T, shared store.Experiments) *Manager {
	t.Helper()
	dir := t.TempDir()
	imp, err := impressions.Open(filepath.Join(dir, "imp.db"), impressions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Open(Options{Path: filepath.Join(dir, "exp.db"), Impressions: imp, Shared: shared,
		Price: func(context.Context, string) (float64, bool) { return 10, true }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
		imp.Close()
	})
	return m
}

// twoReplicas opens two managers on one PostgreSQL store and starts the
// contract experiment on a; b has read its definition.
func twoReplicas(t *testing.T) (a, b *Manager, e Experiment) {
	t.Helper()
	st, err := pgstore.Open(context.Background(), pgtest.URL(t), pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // after the managers' cleanups
	a, b = replicaOn(t, st), replicaOn(t, st)
	if e, err = a.Create(contract()); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(); err != nil { // reads the shared definitions
		t.Fatal(err)
	}
	return a, b, e
}

// Two managers (two replicas) on one PostgreSQL store: the experiment
// created on one serves on the other; each counts the exposures of the
// answers it served and the clicks on them; a purchase both see counts
// once; both report the same results; a deleted shopper leaves them.
func TestManagersShareOutcomesThroughTheStore(t *testing.T) {
	a, b, e := twoReplicas(t)
	if _, err := b.Create(contract()); err == nil {
		t.Fatal("a second experiment on the surface was accepted by the other replica")
	}
	asA, okA := a.Serve("recommend", "u1")
	asB, okB := b.Serve("recommend", "u1")
	if !okA || !okB || asA.Experiment != e.ID || asA.Variant != asB.Variant {
		t.Fatalf("u1 on a: %+v; on b: %+v", asA, asB)
	}
	show := func(m *Manager, as Assignment) string {
		id := reqid.New()
		m.Shown(impressions.Impression{RequestID: id, Surface: "recommend", UserID: "u1", Experiment: as.Experiment, Variant: as.Variant, Items: []string{"i1", "i2"}}, "u1")
		return id
	}
	ra, rb := show(a, asA), show(b, asB)
	seq := uint64(0)
	ev := func(typ events.Type, item, rid string) events.Event {
		seq++
		return events.Event{Seq: seq, UserID: "u1", ItemID: item, Type: typ, RequestID: rid, Timestamp: a.now()}
	}
	// every replica hears every event (the change feed)
	evs := []events.Event{ev(events.Click, "i1", ra), ev(events.Click, "i2", rb), ev(events.Purchase, "i2", "")}
	a.EventsAppended(evs)
	b.EventsAppended(evs)
	// each adds what it counted within FlushEvery (Run); here at once
	for _, m := range []*Manager{a, b} {
		if err := m.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []*Manager{a, b, a} {
		r, err := m.Results(e.ID)
		if err != nil {
			t.Fatal(err)
		}
		i := e.Assign("u1")
		v := r.Variants[i]
		if v.Users != 1 || v.Exposures != 2 || v.Clicks != 2 || v.Orders != 1 || v.Revenue != 10 {
			t.Fatalf("results: %+v; want u1 once, with both exposures and clicks and one order", v)
		}
		if o := r.Variants[1-i]; o.Users != 0 {
			t.Fatalf("the other variant has %d users", o.Users)
		}
	}
	b.UserDeleted("u1")
	a.UserDeleted("u1")
	for _, m := range []*Manager{a, b} {
		if err := m.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []*Manager{a, b} {
		r, err := m.Results(e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n := r.Variants[0].Users + r.Variants[1].Users; n != 0 {
			t.Fatalf("%d users after the only one was deleted", n)
		}
	}
}

// The running minimum of the sequential p-value and the daily series are
// the same on every replica: a replica that never looked reports the
// minimum another replica's look reached, although the data now say less;
// a snapshot one replica takes is in both replicas' series.
func TestReplicasShareTheRunningPValueAndTheSeries(t *testing.T) {
	a, b, e := twoReplicas(t)
	seq := uint64(0)
	// visit shows an answer to user i on a; the user buys when buys says
	// so for their variant
	visit := func(from, to int, buys func(i, variant int) bool) {
		t.Helper()
		var evs []events.Event
		for i := from; i < to; i++ {
			u := fmt.Sprint("u", i)
			as, _ := a.Serve("recommend", u)
			a.Shown(impressions.Impression{RequestID: reqid.New(), Surface: "recommend", UserID: u, Experiment: as.Experiment, Variant: as.Variant, Items: []string{"i1"}}, u)
			if buys(i, as.Index) {
				seq++
				evs = append(evs, events.Event{Seq: seq, UserID: u, ItemID: "i1", Type: events.Purchase, Timestamp: a.now()})
			}
		}
		a.EventsAppended(evs)
		if err := a.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	conversion := func(m *Manager) Comparison {
		t.Helper()
		r, err := m.Results(e.ID)
		if err != nil {
			t.Fatal(err)
		}
		return r.Variants[1].VsControl["conversion"]
	}
	// first the treatment converts far better: a's look is significant
	visit(0, 200, func(i, v int) bool { return v == 1 || i%4 == 0 })
	early := conversion(a)
	if early.PValue > 0.001 {
		t.Fatalf("after 200 users converting 100%% against 25%%: p %v, want < 0.001", early.PValue)
	}
	// then the control catches up: the data alone say no difference
	visit(200, 400, func(i, v int) bool { return v == 0 || i%4 == 0 })
	for _, m := range []*Manager{b, a} { // b never looked before
		c := conversion(m)
		if c.PFixed < 0.05 {
			t.Fatalf("the data still differ (p_fixed %v): the test needs them not to", c.PFixed)
		}
		if c.PValue != early.PValue {
			t.Errorf("reported p %v, want the running minimum %v of a's earlier look (p_fixed now %v)", c.PValue, early.PValue, c.PFixed)
		}
	}
	a.snapshot()
	ra, errA := a.Results(e.ID)
	rb, errB := b.Results(e.ID)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if len(rb.Series) != 1 || rb.Series[0].Day != a.now().UTC().Format("2006-01-02") || rb.Series[0].Variants[0].Users != ra.Variants[0].Users {
		t.Fatalf("b's series %+v; want a's snapshot of today with %d control users", rb.Series, ra.Variants[0].Users)
	}
	if len(ra.Series) != 1 || !reflect.DeepEqual(ra.Series, rb.Series) {
		t.Fatalf("series differ: a %+v, b %+v", ra.Series, rb.Series)
	}
	// the hourly trim reaches the shared store: nothing here is older
	// than the attribution window, so the results stay
	if err := b.TrimCounted(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r, err := b.Results(e.ID); err != nil || r.Variants[0].Orders != ra.Variants[0].Orders {
		t.Fatalf("after the trim: %+v, %v", r.Variants, err)
	}
}

// The examination fit is shared: each replica writes the counts of its own
// explored answers, and every replica fits θ from the sum, so all weigh a
// click by the same propensities. 600 explored popular answers on each
// replica: alone, fewer than the 1,000 a surface needs to be trusted;
// together, trusted on both, with the same θ (2 and 4 of every 4 answers
// clicked at positions 2 and 3 against 4 at position 1: θ 0.5, 0.25).
func TestReplicasShareThePositionFit(t *testing.T) {
	a, b, _ := twoReplicas(t)
	items := []string{"i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7", "i8", "i9"}
	show := func(m *Manager, n int) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.imp.Run(ctx) }()
		for i := range n {
			id := reqid.New()
			m.Shown(impressions.Impression{RequestID: id, Surface: "popular", Items: items, Explored: true}, "")
			for k := 1; k <= 3; k++ {
				if i%(1<<(k-1)) == 0 {
					m.imp.Click(id, k)
				}
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	show(a, 600)
	show(b, 600)
	ctx := context.Background()
	if err := a.FitPositions(ctx); err != nil {
		t.Fatal(err)
	}
	if p := a.Propensities("popular"); p != nil {
		t.Fatalf("a trusts a fit of 600 answers before b shared its own: %+v", p)
	}
	for _, m := range []*Manager{b, a} {
		if err := m.FitPositions(ctx); err != nil {
			t.Fatal(err)
		}
	}
	pa, pb := a.Propensities("popular"), b.Propensities("popular")
	if pa == nil || pb == nil {
		t.Fatalf("after both shared: a %+v, b %+v; want a trusted fit on both", pa, pb)
	}
	if pa.Lists != 1200 || pa.Explored != 1200 || !reflect.DeepEqual(pa.Theta, pb.Theta) || pa.Theta[1] != 0.5 || pa.Theta[2] != 0.25 {
		t.Fatalf("a: %d lists, θ %v; b: θ %v; want 1200 lists and the same θ (1, 0.5, 0.25, …) on both", pa.Lists, pa.Theta, pb.Theta)
	}
	ev := events.Event{Type: events.Click, ItemID: "i2", RequestID: a.NewRequestID("popular", Assignment{}), Position: 3}
	if wa, wb := a.EventPositionWeight(ev), b.EventPositionWeight(ev); wa != 4 || wb != 4 {
		t.Fatalf("weight of a click at position 3 of a popular answer: %v on a, %v on b; want 4 on both", wa, wb)
	}
}

// Each replica counts the interleaved answers of a search ranker's
// challenge it served, with the clicks on them (every replica hears every
// event; only the one that served the answer knows its teams), and the
// decision reads every replica's: a replica's own count at first, the sum
// once the other has shared its own (at its hourly fit).
func TestReplicasShareTheChallengeCounts(t *testing.T) {
	a, b, _ := twoReplicas(t)
	const duel = "duel:search-ltr@2"
	items := []string{"i0", "i1", "i2", "i3"}
	teams := []uint8{0, 1, 1, 0}
	var evs []events.Event
	show := func(m *Manager, clicked ...[]int) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.imp.Run(ctx) }()
		for n, pos := range clicked {
			id := m.NewRequestID("search", Assignment{})
			sess := fmt.Sprintf("%p-%d", m, n)
			m.Shown(impressions.Impression{RequestID: id, Surface: "search", SessionID: sess, Query: "pen", Items: items, Experiment: duel, Variant: "interleaved", Teams: teams}, sess)
			for _, p := range pos {
				e := events.Event{Type: events.Click, SessionID: sess, UserID: "u" + sess, ItemID: items[p-1], RequestID: id, Position: p}
				evs = append(evs, e, e) // sent twice: counted once
			}
		}
		a.EventsAppended(evs) // both replicas hear every event
		b.EventsAppended(evs)
		evs = nil
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	show(a, []int{2}, []int{3, 1, 2}, nil)   // two wins for the challenger, one answer unclicked
	show(b, []int{1}, []int{1, 2}, []int{4}) // a tie between two losses
	ctx := context.Background()
	own, err := a.Duel(ctx, duel, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (impressions.DuelTally{Answers: 3, Wins: 2}); own != want {
		t.Fatalf("a alone: %+v, want %+v", own, want)
	}
	if err := b.FitPositions(ctx); err != nil { // shares b's counts
		t.Fatal(err)
	}
	for _, m := range []*Manager{a, b} {
		got, err := m.Duel(ctx, duel, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if want := (impressions.DuelTally{Answers: 6, Wins: 2, Losses: 2, Ties: 1}); got != want {
			t.Fatalf("%+v after both shared, want %+v", got, want)
		}
	}
	// the position fit reads the rows of challenge counts as nothing
	if err := a.FitPositions(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.PositionFits()[duel]; ok {
		t.Fatalf("the fit took a challenge for a surface: %v", a.PositionFits())
	}
}
