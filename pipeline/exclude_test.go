package pipeline

import (
	"context"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/events"
)

// TestLoadLeavesOutExcludedEvents checks the training read's two filters:
// ExcludeEvent (the server passes the ads' "answers a sponsored impression"
// test, so ad clicks never train the recommenders, issue 16 item 4) and
// ExcludeUser (users forgotten or opted out). Loading the whole log with a
// filter must give exactly what loading a log that never held the filtered
// events gives.
func TestLoadLeavesOutExcludedEvents(t *testing.T) {
	ctx := context.Background()
	its, evs := plantedEvents(60, 40, 9)
	// Every fourth event answers an ad impression; user u001 is excluded.
	for i := range evs {
		if i%4 == 0 {
			evs[i].RequestID = "ad-" + evs[i].UserID
		} else if i%4 == 1 {
			evs[i].RequestID = "organic-" + evs[i].UserID
		}
	}
	isAd := func(e events.Event) bool { return strings.HasPrefix(e.RequestID, "ad-") }
	isU1 := func(u string) bool { return u == "u001" }
	load := func(t *testing.T, evs []events.Event, opts Options) Report {
		t.Helper()
		st := filledStore(t, its, evs)
		opts.Preprocess = DefaultPreprocess()
		d, err := opts.Load(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		return d.Report
	}
	keep := func(f func(events.Event) bool) []events.Event {
		var out []events.Event
		for _, e := range evs {
			if f(e) {
				out = append(out, e)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		opts Options
		want []events.Event
	}{
		{"no filter", Options{}, evs},
		{"ad clicks left out", Options{ExcludeEvent: isAd}, keep(func(e events.Event) bool { return !isAd(e) })},
		{"a user left out", Options{ExcludeUser: isU1}, keep(func(e events.Event) bool { return !isU1(e.UserID) })},
		{"both", Options{ExcludeEvent: isAd, ExcludeUser: isU1}, keep(func(e events.Event) bool { return !isAd(e) && !isU1(e.UserID) })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := load(t, evs, tc.opts)
			want := load(t, tc.want, Options{})
			if got != want {
				t.Fatalf("loading with the filter read\n%+v\nloading without the filtered events\n%+v", got, want)
			}
			if tc.opts.ExcludeEvent != nil && got.Events != len(tc.want) {
				t.Fatalf("read %d events, want %d (the ad events must not be read)", got.Events, len(tc.want))
			}
		})
	}
}
