package recommend

import (
	"context"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
)

// Trending fills its answer when recent activity is thin: after a long
// quiet spell one new event leaves a single item growing and a single
// item popular in the long window (the demo shop, whose history ends
// years ago, showed one trending item after the visitor's first click);
// the rest comes from popularity over all time, after the items that
// trend.
func TestTrendingFillsAfterAQuietSpell(t *testing.T) {
	st, its := fixture(t)
	ctx := context.Background()
	late := events.Event{UserID: "u900", ItemID: its[79].ID, Type: events.View, Timestamp: t0.Add(200 * 24 * time.Hour)}
	if err := st.AppendEvents(ctx, []events.Event{late}); err != nil {
		t.Fatal(err)
	}
	svc := New(st, Config{}, nil)
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 5, 20} {
		ans := svc.Trending(Request{N: n})
		ids := answerIDs(ans)
		if len(ids) != n {
			t.Fatalf("n=%d: %d items %v", n, len(ids), ids)
		}
		if ids[0] != its[79].ID {
			t.Errorf("n=%d: %v does not start with the item that grows", n, ids)
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("n=%d: %s twice in %v", n, id, ids)
			}
			seen[id] = true
		}
	}
}
