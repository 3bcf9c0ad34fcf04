package events

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
)

// Issue 12 items 1 and 2: values and timestamps outside documented bounds
// are rejected at validation with the field named.
func TestValidateBounds(t *testing.T) {
	types, err := NewTypes()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	v := func(f float64) *float64 { return &f }
	cases := []struct {
		name  string
		ev    Event
		field string
	}{
		{"rating in scale", Event{UserID: "u", ItemID: "i", Type: Rating, Value: v(4.5)}, ""},
		{"rating at bound", Event{UserID: "u", ItemID: "i", Type: Rating, Value: v(-10)}, ""},
		{"rating 1e39", Event{UserID: "u", ItemID: "i", Type: Rating, Value: v(1e39)}, "value"},
		{"rating above scale", Event{UserID: "u", ItemID: "i", Type: Rating, Value: v(10.5)}, "value"},
		{"purchase quantity", Event{UserID: "u", ItemID: "i", Type: Purchase, Value: v(3)}, ""},
		{"purchase quantity 0", Event{UserID: "u", ItemID: "i", Type: Purchase, Value: v(0)}, "value"},
		{"cart quantity negative", Event{UserID: "u", ItemID: "i", Type: AddToCart, Value: v(-1)}, "value"},
		{"purchase quantity huge", Event{UserID: "u", ItemID: "i", Type: Purchase, Value: v(2e6)}, "value"},
		{"search result count 0", Event{UserID: "u", Type: Search, Query: "q", Value: v(0)}, ""},
		{"view value huge", Event{UserID: "u", ItemID: "i", Type: View, Value: v(-3e38)}, "value"},
		{"time 1990", Event{UserID: "u", ItemID: "i", Type: View, Timestamp: MinTimestamp}, ""},
		{"time 1989", Event{UserID: "u", ItemID: "i", Type: View, Timestamp: MinTimestamp.Add(-time.Second)}, "timestamp"},
		{"time 1970", Event{UserID: "u", ItemID: "i", Type: View, Timestamp: time.Unix(0, 0)}, "timestamp"},
		{"time 9999", Event{UserID: "u", ItemID: "i", Type: View, Timestamp: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}, "timestamp"},
		{"time 2100", Event{UserID: "u", ItemID: "i", Type: View, Timestamp: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}, "timestamp"},
		{"time 23h ahead", Event{UserID: "u", ItemID: "i", Type: View, Timestamp: now.Add(23 * time.Hour)}, ""},
		{"time 25h ahead", Event{UserID: "u", ItemID: "i", Type: View, Timestamp: now.Add(25 * time.Hour)}, "timestamp"},
		{"query with ESC", Event{UserID: "u", Type: Search, Query: "a\x1bb"}, "query"},
		{"user id with U+FFFD", Event{UserID: "u\uFFFD", ItemID: "i", Type: View}, "user_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var fields []string
			c.ev.Validate(types, now, func(f, p string) { fields = append(fields, f+": "+p) })
			if c.field == "" {
				if len(fields) != 0 {
					t.Fatalf("problems: %v", fields)
				}
				return
			}
			if len(fields) != 1 || !strings.HasPrefix(fields[0], c.field+": ") {
				t.Fatalf("problems %v, want one on %s", fields, c.field)
			}
		})
	}
}

func TestRatingScale(t *testing.T) {
	types, _ := NewTypes()
	if err := types.SetRatingScale(1, 5); err != nil {
		t.Fatal(err)
	}
	six := 6.0
	var got []string
	e := Event{UserID: "u", ItemID: "i", Type: Rating, Value: &six}
	e.Validate(types, time.Now(), func(f, p string) { got = append(got, p) })
	if len(got) != 1 || !strings.Contains(got[0], "[1, 5]") {
		t.Fatalf("got %v", got)
	}
	for _, bad := range [][2]float64{{5, 1}, {0, 0}, {0, 1e9}} {
		if err := types.SetRatingScale(bad[0], bad[1]); err == nil {
			t.Errorf("scale %v accepted", bad)
		}
	}
}

// An explicit zero time used to become "now" silently.
func TestDecodeZeroTimestamp(t *testing.T) {
	_, err := catalog.DecodeBatch("events", []byte(`{"user_id":"u","item_id":"i","type":"view","timestamp":"0001-01-01T00:00:00Z"}`), Decode)
	var be *catalog.BatchError
	if !errors.As(err, &be) || be.Problems[0].Field != "timestamp" {
		t.Fatalf("got %v", err)
	}
	e, err := Decode([]byte(`{"user_id":"u","item_id":"i","type":"view","timestamp":"2020-01-02T03:04:05Z"}`))
	if err != nil || e.Timestamp.Year() != 2020 {
		t.Fatalf("got %+v %v", e, err)
	}
	e, err = Decode([]byte(`{"user_id":"u","item_id":"i","type":"view"}`))
	if err != nil || !e.Timestamp.IsZero() {
		t.Fatalf("got %+v %v", e, err)
	}
	rd := catalog.NewReader(strings.NewReader("user_id,item_id,type,timestamp\nu,i,view,0001-01-01T00:00:00Z\nu,i,view,\n"), catalog.CSV, ',', Decode, FromCSV)
	if _, err := rd.Next(); !errors.As(err, new(*catalog.RowError)) {
		t.Fatalf("row 1: want row error, got %v", err)
	}
	if e, err := rd.Next(); err != nil || !e.Timestamp.IsZero() {
		t.Fatalf("row 2: %+v %v", e, err)
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Fatal(err)
	}
}
