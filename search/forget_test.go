package search

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
)

// Forgetting a shopper takes their searches out of the suggestions: a
// query left with fewer known shoppers than needed stops being suggested,
// one vouched for by enough others stays, an operator's query stays until
// its count runs out, and pending queries lose the shopper's voice.
func TestForgetSearches(t *testing.T) {
	ix := newTestIndex(t, DefaultConfig(), nil, fixture())
	for _, u := range []string{"alice", "bob", "carol"} {
		ix.RecordSearch("pencil case", u)
	}
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		ix.RecordSearch("pen holder", u)
	}
	ix.RecordSearch("pen refill", "alice")
	ix.RecordSearch("pen refill", "bob")
	ix.RecordQuery("pen tray") // trusted
	ix.RecordSearch("pen tray", "alice")
	if got := querySuggestions(ix, "pen"); !slices.Contains(got, "pencil case") || !slices.Contains(got, "pen holder") || slices.Contains(got, "pen refill") {
		t.Fatalf("before: %v", got)
	}
	n, removed := ix.ForgetSearches("alice", []string{"pencil case", "Pen  holder", "pen refill", "pen tray", "never searched"})
	if n != 4 || removed != 1 {
		t.Fatalf("subtracted %d searches, removed %d suggestions", n, removed)
	}
	got := querySuggestions(ix, "pen")
	if slices.Contains(got, "pencil case") {
		t.Fatalf("a query two shoppers are left to vouch for is suggested: %v", got)
	}
	if !slices.Contains(got, "pen holder") || !slices.Contains(got, "pen tray") {
		t.Fatalf("queries others vouch for are gone: %v", got)
	}
	// pencil case waits again: one more shopper brings it back
	ix.RecordSearch("pencil case", "erin")
	if got := querySuggestions(ix, "pen"); !slices.Contains(got, "pencil case") {
		t.Fatalf("a third shopper does not bring the query back: %v", got)
	}
	// pen refill lost alice's voice: bob and one more are not enough
	ix.RecordSearch("pen refill", "frank")
	if got := querySuggestions(ix, "pen"); slices.Contains(got, "pen refill") {
		t.Fatalf("alice's forgotten search still vouches: %v", got)
	}
	// the operator's query goes once its searches are all forgotten
	ix.ForgetSearches("", []string{"pen tray"})
	if got := querySuggestions(ix, "pen"); slices.Contains(got, "pen tray") {
		t.Fatalf("a query with no search left is suggested: %v", got)
	}
}

// Rebuild relearns the click weights from the log (without a forgotten
// user's events) and keeps events recorded while it ran.
func TestClicksRebuild(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	log := []events.Event{
		{Seq: 1, UserID: "alice", SessionID: "a", Type: events.Search, Query: "secret lamp", Timestamp: t0},
		{Seq: 2, UserID: "alice", SessionID: "a", Type: events.Click, ItemID: "p1", Timestamp: t0.Add(time.Minute)},
		{Seq: 3, UserID: "bob", SessionID: "b", Type: events.Search, Query: "lamp", Timestamp: t0},
		{Seq: 4, UserID: "bob", SessionID: "b", Type: events.Purchase, ItemID: "p2", Timestamp: t0.Add(time.Minute)},
	}
	c := NewClicks()
	c.EventsAppended(log)
	if c.Boost("secret lamp") == nil {
		t.Fatal("alice's click is not learnt: the test proves nothing")
	}
	// alice is forgotten: her session goes at once
	c.UserForgotten("alice", log[:2])
	if c.Boost("secret lamp") != nil {
		t.Fatal("alice's remembered session still boosts")
	}
	// an older click of hers, no longer in a remembered session, is only
	// removed by relearning
	c.mu.Lock()
	c.add("secret lamp", "p9", 3)
	c.mu.Unlock()
	kept := log[2:]
	late := []events.Event{{Seq: 5, UserID: "carol", SessionID: "c", Type: events.Search, Query: "desk", Timestamp: t0},
		{Seq: 6, UserID: "carol", SessionID: "c", Type: events.Click, ItemID: "p3", Timestamp: t0.Add(time.Minute)}}
	err := c.Rebuild(context.Background(), func(ctx context.Context, after uint64, fn func(events.Event) error) error {
		for _, e := range kept {
			if err := fn(e); err != nil {
				return err
			}
		}
		c.EventsAppended(late) // arrives while the log is read
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Boost("secret lamp") != nil {
		t.Fatal("relearning kept the forgotten user's weight")
	}
	if b := c.Boost("lamp"); b == nil || b("p2") <= 0 {
		t.Fatal("relearning lost bob's purchase")
	}
	if b := c.Boost("desk"); b == nil || b("p3") <= 0 {
		t.Fatal(fmt.Sprint("an event recorded during relearning was lost"))
	}
}

// The clicks of a user who withheld consent steer nobody's searches.
func TestClicksSkipUser(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	c := NewClicks()
	c.SkipUser = func(u string) bool { return u == "carol" }
	c.EventsAppended([]events.Event{
		{UserID: "carol", SessionID: "c", Type: events.Search, Query: "lamp", Timestamp: t0},
		{UserID: "carol", SessionID: "c", Type: events.Purchase, ItemID: "p1", Timestamp: t0.Add(time.Minute)},
		{UserID: "dan", SessionID: "d", Type: events.Search, Query: "desk", Timestamp: t0},
		{UserID: "dan", SessionID: "d", Type: events.Click, ItemID: "p2", Timestamp: t0.Add(time.Minute)},
	})
	if c.Boost("lamp") != nil {
		t.Fatal("an opted-out user's purchase boosts a query")
	}
	if c.Boost("desk") == nil {
		t.Fatal("others' clicks are not learnt")
	}
}
