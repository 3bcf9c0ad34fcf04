package recommend

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
)

// Issue 12: after retention deletes purchases, buy it again no longer
// offers what only the expired purchases showed (the rows' repurchase
// state is relearnt from the log with the counts and profiles).
func TestRetentionRelearnsRows(t *testing.T) {
	ctx := context.Background()
	st, _ := fixture(t)
	if err := st.PutItems(ctx, []catalog.Item{{ID: "tea", Title: "green tea", Categories: []string{"Food/Tea"}, Available: true}}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	old, recent := now.Add(-400*24*time.Hour), now.Add(-2*24*time.Hour)
	if err := st.AppendEvents(ctx, []events.Event{
		{UserID: "me", ItemID: "tea", Type: events.Purchase, Timestamp: old},
		{UserID: "me", ItemID: "tea", Type: events.Purchase, Timestamp: old.Add(30 * 24 * time.Hour)},
		{UserID: "me", ItemID: "i01", Type: events.Purchase, Timestamp: recent},
	}); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Store: st, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	svc := New(st, Config{}, nil)
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	eng.Subscribe(svc)
	again := func() []string {
		ans, err := svc.BuyAgainAt(ctx, "me", now, Request{N: 10})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, it := range ans.Items {
			ids = append(ids, it.ID)
		}
		return ids
	}
	if got := again(); !slices.Contains(got, "tea") || !slices.Contains(got, "i01") {
		t.Fatalf("before retention, buy again: %v; want tea and i01", got)
	}
	// purchases are kept a year: the two tea purchases expire
	if err := eng.RetentionPass(ctx, st, engine.PrivacyOptions{Retention: map[events.Type]time.Duration{events.Purchase: 365 * 24 * time.Hour}}); err != nil {
		t.Fatal(err)
	}
	if got := again(); slices.Contains(got, "tea") || !slices.Contains(got, "i01") {
		t.Fatalf("after retention, buy again: %v; want i01 and not the expired tea", got)
	}
}
