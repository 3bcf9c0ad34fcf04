package search

import (
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
)

// Clicks on ads (SkipEvent) do not teach the click model which items a
// query leads to; the same click on an organic result does.
func TestClicksSkipEvent(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	c := NewClicks()
	c.SkipEvent = func(e events.Event) bool { return e.RequestID == "0123456789abcdef01234567" && e.ItemID == "ad" }
	c.EventsAppended([]events.Event{
		{UserID: "u", SessionID: "s", Type: events.Search, Query: "lamp", Timestamp: t0},
		{UserID: "u", SessionID: "s", Type: events.Click, ItemID: "ad", RequestID: "0123456789abcdef01234567", Position: 1, Timestamp: t0.Add(time.Minute)},
		{UserID: "u", SessionID: "s", Type: events.Click, ItemID: "org", RequestID: "0123456789abcdef01234567", Position: 2, Timestamp: t0.Add(2 * time.Minute)},
	})
	b := c.Boost("lamp")
	if b == nil || b("ad") != 0 || b("org") <= 0 {
		t.Fatalf("boost of the ad %v, of the organic item %v", b("ad"), b("org"))
	}
}
