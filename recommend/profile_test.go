package recommend

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/pipeline"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// A user who bought and rated more items than any recent window holds
// never gets any of them back, and the model is queried with the whole
// history, not the newest events only.
func TestWholeHistoryIsExcludedAndQueried(t *testing.T) {
	st, its := fixture(t)
	svc := New(st, Config{}, nil)
	ctx := context.Background()
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	trainAndPromote(t, st, svc, "itemknn")
	// "heavy" buys 30 items long ago, rates 20 and views 300 times since:
	// the purchases and ratings are far beyond the newest 200 events.
	var evs []events.Event
	ts := t0.Add(-365 * 24 * time.Hour)
	consumed := map[string]bool{}
	for k := 0; k < 50; k++ {
		typ, val := events.Purchase, (*float64)(nil)
		if k >= 30 {
			v := 4.0
			typ, val = events.Rating, &v
		}
		it := its[k].ID
		consumed[it] = true
		evs = append(evs, events.Event{UserID: "heavy", ItemID: it, Type: typ, Value: val, Timestamp: ts.Add(time.Duration(k) * time.Minute)})
	}
	for k := 0; k < 300; k++ {
		evs = append(evs, events.Event{UserID: "heavy", ItemID: its[50+k%30].ID, Type: events.View, Timestamp: t0.Add(time.Duration(k) * time.Minute)})
	}
	if err := st.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	svc.EventsAppended(evs)
	h, err := svc.userHistory(ctx, "heavy")
	if err != nil {
		t.Fatal(err)
	}
	if len(h.whole) != 80 || len(h.exclude) != 50 {
		t.Fatalf("whole history %d items (want 80), %d excluded (want 50)", len(h.whole), len(h.exclude))
	}
	// The recent interest is the newest 50 items less those a year older
	// than the newest event (the time half-life is a week): the 30 viewed.
	if len(h.items) != 30 {
		t.Fatalf("recent interest holds %d items, want the 30 viewed", len(h.items))
	}
	ans, err := svc.Recommend(ctx, "heavy", Request{N: 30})
	if err != nil {
		t.Fatal(err)
	}
	if len(ans.Items) != 30 {
		t.Fatalf("%d items, want 30 (30 of 80 are left)", len(ans.Items))
	}
	for _, it := range ans.Items {
		if consumed[it.ID] {
			t.Fatalf("item %s was bought or rated and came back: %v", it.ID, ans.Items)
		}
	}
	// Deleting the user forgets the history.
	svc.UserDeleted("heavy")
	if h, _ := svc.userHistory(ctx, "heavy"); len(h.whole) != 0 || len(h.exclude) != 0 {
		t.Fatalf("history after deletion: %d items, %d excluded", len(h.whole), len(h.exclude))
	}
}

// Event-triggered retraining waits for a quiet stream, so a bulk load is
// trained once, whole; a steady stream still triggers after maxPending.
func TestRetrainDue(t *testing.T) {
	st, _ := fixture(t)
	svc := New(st, Config{}, nil)
	r := svc.NewRetrainer(0, 100, pipeline.Options{})
	now := time.Now()
	r.Quiet = 5 * time.Second
	cases := []struct {
		name      string
		newEvents int64
		lastEvent time.Duration // before now
		pending   time.Duration // since the threshold was reached; 0 = not yet
		want      bool
	}{
		{"too few", 99, time.Minute, 0, false},
		{"still loading", 5000, time.Second, 0, false},
		{"quiet after the load", 5000, 6 * time.Second, 0, true},
		{"steady stream, long pending", 5000, time.Second, maxPending + time.Second, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			svc.newEvents.Store(c.newEvents)
			svc.lastEventAt.Store(now.Add(-c.lastEvent).UnixNano())
			r.pendingSince = time.Time{}
			if c.pending > 0 {
				r.pendingSince = now.Add(-c.pending)
			}
			if got := r.due(now, now.Add(time.Hour)); got != c.want {
				t.Fatalf("due = %v, want %v", got, c.want)
			}
		})
	}
	// At start-up, a log imported while the server was down (1,200 item
	// events in the fixture) and no serving model call for a run at once.
	if err := svc.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !r.startupDue() {
		t.Fatal("no first run over an imported, untrained log")
	}
	r.AfterEvents = 2000
	if r.startupDue() {
		t.Fatal("a first run over fewer events than AfterEvents")
	}
	r.Every = time.Hour
	svc.newEvents.Store(0)
	if !r.due(now, now.Add(-time.Second)) {
		t.Fatal("the schedule did not trigger a run")
	}
}

// BenchmarkRecommendLongHistory measures one personal recommendation for a
// user with 2,000 distinct items in their history (whole-history query and
// exclusion from memory) over a 5,000-item catalogue with ItemKNN serving.
func BenchmarkRecommendLongHistory(b *testing.B) {
	ctx := context.Background()
	st, err := boltstore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var its []catalog.Item
	for i := 0; i < 5000; i++ {
		its = append(its, catalog.Item{ID: fmt.Sprintf("i%04d", i), Title: fmt.Sprintf("thing %d", i), Available: true})
	}
	if err := st.PutItems(ctx, its); err != nil {
		b.Fatal(err)
	}
	var evs []events.Event
	for u := 0; u < 300; u++ {
		for k := 0; k < 40; k++ {
			evs = append(evs, events.Event{UserID: fmt.Sprintf("u%03d", u), ItemID: its[(u*37+k*101)%5000].ID, Type: events.Purchase, Timestamp: t0.Add(time.Duration(u*100+k) * time.Minute)})
		}
	}
	for k := 0; k < 2000; k++ {
		evs = append(evs, events.Event{UserID: "heavy", ItemID: its[(k*7)%5000].ID, Type: events.View, Timestamp: t0.Add(time.Duration(k) * time.Second)})
	}
	if err := st.AppendEvents(ctx, evs); err != nil {
		b.Fatal(err)
	}
	svc := New(st, Config{}, nil)
	if err := svc.Load(ctx); err != nil {
		b.Fatal(err)
	}
	opts := pipeline.Options{Preprocess: pipeline.DefaultPreprocess(), Models: []pipeline.Spec{{Name: "itemknn"}}, ValidationUsers: -1}
	data, err := opts.Load(ctx, st)
	if err != nil {
		b.Fatal(err)
	}
	res, err := pipeline.Train(ctx, st, data, opts)
	if err != nil || !res[0].Trained {
		b.Fatalf("train: %v %+v", err, res)
	}
	if _, err := svc.Promote(ctx, res[0].Model, res[0].Version); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ans, err := svc.Recommend(ctx, "heavy", Request{N: 10})
		if err != nil || len(ans.Items) != 10 {
			b.Fatalf("%v %v", err, ans)
		}
	}
}
