package ranking

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// The popularity feature of training is measured before the split, so it
// cannot see the actions the labels come from: an item bought only after
// the cut has popularity 0 however often it was bought. (Taking the
// serving popularity, measured over the whole log, made the learned ranker
// rank by popularity and lose 0.08 nDCG@10 to keyword ranking in
// BenchmarkESCIClickLearning.)
func TestTrainingPopularityIsMeasuredBeforeTheSplit(t *testing.T) {
	ctx := context.Background()
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	four := 4.0
	var evs []events.Event
	// four searches: the cut is the third one's time (t0+300s)
	for i, sec := range []int{0, 100, 300, 400} {
		s := string(rune('a' + i))
		evs = append(evs, events.Event{UserID: "u" + s, SessionID: s, Type: events.Search, Query: "lamp", Timestamp: at(sec)})
	}
	evs = append(evs,
		events.Event{UserID: "ua", SessionID: "a", ItemID: "old", Type: events.Click, Timestamp: at(10)},
		events.Event{UserID: "x", ItemID: "both", Type: events.View, Timestamp: at(20)}, // no session: counts for popularity
		events.Event{UserID: "x", ItemID: "rated", Type: events.Rating, Value: &four, Timestamp: at(30)},
		events.Event{UserID: "uc", SessionID: "c", ItemID: "both", Type: events.Purchase, Timestamp: at(310)},
		events.Event{UserID: "ud", SessionID: "d", ItemID: "new", Type: events.Purchase, Timestamp: at(410)},
		events.Event{UserID: "ud", SessionID: "d", ItemID: "new", Type: events.Purchase, Timestamp: at(420)},
	)
	if err := st.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	serving := func(string) float64 { return 1 }
	log := func(v float64) float64 { return math.Log1p(v) / math.Log1p(4) }
	cases := []struct {
		name string
		cfg  Config
		want map[string]float64 // nil: no popularity feature
	}{
		{"no popularity when serving has none", Config{MinQueries: 2}, nil},
		{"default weights", Config{MinQueries: 2, Popularity: serving},
			map[string]float64{"old": log(2), "both": log(1), "rated": 1, "new": 0, "unknown": 0}},
		{"custom weights", Config{MinQueries: 2, Popularity: serving, PopularityWeight: func(t events.Type, _ *float64) float64 {
			if t == events.Click {
				return 1
			}
			return 0
		}}, map[string]float64{"old": 1, "both": 0, "rated": 0, "new": 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := New(nil, st, c.cfg, nil)
			sp, err := l.splitLog(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if sp.actions != 4 {
				t.Errorf("actions %d, want 4", sp.actions)
			}
			if got := len(sp.label.Judgments()); got != 1 {
				t.Errorf("%d judged queries after the cut, want 1", got)
			}
			if c.want == nil {
				if sp.popularity != nil {
					t.Fatal("training has a popularity feature that serving does not")
				}
				return
			}
			for id, want := range c.want {
				if got := sp.popularity(id); math.Abs(got-want) > 1e-12 {
					t.Errorf("popularity(%s) = %v, want %v", id, got, want)
				}
			}
		})
	}
}
