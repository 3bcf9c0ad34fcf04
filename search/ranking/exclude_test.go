package ranking

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// TestLogLeavesOutAdClicksAndExcludedUsers checks what the ranker's training
// read keeps: clicks that answer a sponsored impression (Config.ExcludeEvent,
// set by the server from the ads, issue 16 item 4) and every event of an
// excluded user are left out; an ad test never sees events without a request
// id (organic answers logged before attribution existed).
func TestLogLeavesOutAdClicksAndExcludedUsers(t *testing.T) {
	ctx := context.Background()
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	var evs []events.Event
	for i, sec := range []int{0, 100, 300, 400} {
		s := string(rune('a' + i))
		evs = append(evs, events.Event{UserID: "u" + s, SessionID: s, Type: events.Search, Query: "lamp", Timestamp: at(sec)})
	}
	evs = append(evs,
		events.Event{UserID: "ua", SessionID: "a", ItemID: "i1", Type: events.Click, RequestID: "ad-1", Timestamp: at(10)},
		events.Event{UserID: "ua", SessionID: "a", ItemID: "i2", Type: events.Click, RequestID: "org-1", Timestamp: at(11)},
		events.Event{UserID: "ub", SessionID: "b", ItemID: "i3", Type: events.Click, Timestamp: at(110)},
		events.Event{UserID: "uc", SessionID: "c", ItemID: "i1", Type: events.Purchase, RequestID: "ad-2", Timestamp: at(310)},
		events.Event{UserID: "ud", SessionID: "d", ItemID: "i4", Type: events.Purchase, RequestID: "org-2", Timestamp: at(410)},
	)
	if err := st.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	var askedWithoutID bool
	isAd := func(e events.Event) bool {
		if e.RequestID == "" {
			askedWithoutID = true
		}
		return strings.HasPrefix(e.RequestID, "ad-")
	}
	for _, tc := range []struct {
		name    string
		cfg     Config
		actions int
	}{
		{"everything", Config{MinQueries: 1}, 5},
		{"ad clicks left out", Config{MinQueries: 1, ExcludeEvent: isAd}, 3},
		{"user ud left out", Config{MinQueries: 1, ExcludeUser: func(u string) bool { return u == "ud" }}, 4},
		{"both", Config{MinQueries: 1, ExcludeEvent: isAd, ExcludeUser: func(u string) bool { return u == "ud" }}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			askedWithoutID = false
			sp, err := New(nil, st, tc.cfg, nil).splitLog(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if sp.actions != tc.actions {
				t.Fatalf("%d actions read, want %d", sp.actions, tc.actions)
			}
			if askedWithoutID {
				t.Fatal("the ad test was asked about an event without a request id")
			}
		})
	}
}
