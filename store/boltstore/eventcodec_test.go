package boltstore

import (
	"encoding/binary"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
)

func TestEventCodecRoundTrip(t *testing.T) {
	v := 4.5
	cases := []events.Event{
		{Seq: 1, UserID: "u", ItemID: "i", Type: events.View, Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)},
		{Seq: 1 << 40, UserID: "ü 用户", Type: events.Search, Query: "red shoes", SessionID: "s-1", Timestamp: time.Unix(0, 0).UTC()},
		{Seq: 7, UserID: "u", ItemID: "i", Type: events.Rating, Value: &v, Timestamp: time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)},
		// Outside the range of int64 nanoseconds (issue 12 item 2: 9999-12-31 read back as 1816).
		{Seq: 8, UserID: "u", ItemID: "i", Type: events.View, Timestamp: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{Seq: 9, UserID: "u", ItemID: "i", Type: events.View, Timestamp: time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC)},
		// Format 3: the answer's request id and the item's position in it.
		{Seq: 10, UserID: "u", ItemID: "i", Type: events.Click, RequestID: "0123456789abcdef01234567", Position: 5, Value: &v, Timestamp: time.Unix(7, 0).UTC()},
		{Seq: 11, UserID: "u", ItemID: "i", Type: events.Click, Position: 2, Timestamp: time.Unix(7, 0).UTC()},
	}
	for _, e := range cases {
		var got events.Event
		if err := decodeEvent(encodeEvent(&e), &got); err != nil || !reflect.DeepEqual(got, e) {
			t.Fatalf("round trip %+v: got %+v, %v", e, got, err)
		}
		// Events stored as JSON by earlier versions still read.
		old, _ := json.Marshal(e)
		if err := decodeEvent(old, &got); err != nil || !got.Timestamp.Equal(e.Timestamp) || got.UserID != e.UserID || got.Seq != e.Seq {
			t.Fatalf("legacy JSON %s: got %+v, %v", old, got, err)
		}
	}
}

// Events written in format 1 (unix nanoseconds) still read.
func TestEventFormat1(t *testing.T) {
	old := []byte{eventFormat1, 5, 1, 'u', 1, 'i', 4, 'v', 'i', 'e', 'w', 0, 0}
	old = binary.AppendVarint(old, time.Date(2020, 5, 6, 7, 8, 9, 10, time.UTC).UnixNano())
	old = append(old, 0)
	var e events.Event
	if err := decodeEvent(old, &e); err != nil || e.Seq != 5 || e.UserID != "u" || !e.Timestamp.Equal(time.Date(2020, 5, 6, 7, 8, 9, 10, time.UTC)) || e.Value != nil {
		t.Fatalf("got %+v %v", e, err)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	v := 1.0
	f.Add(encodeEvent(&events.Event{Seq: 3, UserID: "u", ItemID: "i", Type: "view", Value: &v, Timestamp: time.Unix(5, 0)}))
	f.Add(encodeEvent(&events.Event{Seq: 4, UserID: "u", ItemID: "i", Type: "click", RequestID: "0123456789abcdef01234567", Position: 3, Timestamp: time.Unix(5, 0)}))
	f.Add([]byte(`{"user_id":"u"}`))
	f.Add([]byte{eventFormat1, 0xff})
	f.Add([]byte{eventFormat1, 1, 1, 'u', 1, 'i', 4, 'v', 'i', 'e', 'w', 0, 0, 2, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var e events.Event
		if decodeEvent(data, &e) == nil && (data[0] == eventFormat1 || data[0] == eventFormat2 || data[0] == eventFormat3) {
			// A decodable binary event re-encodes to a decodable event.
			var again events.Event
			if err := decodeEvent(encodeEvent(&e), &again); err != nil {
				t.Fatalf("re-encode: %v", err)
			}
		}
	})
}

// BenchmarkDecodeEvent: decoding one stored event, the inner loop of every
// replay at start-up and of every scan.
func BenchmarkDecodeEvent(b *testing.B) {
	v := 2.0
	enc := encodeEvent(&events.Event{Seq: 123456, UserID: "user-12345", ItemID: "item-98765", Type: "purchase",
		SessionID: "s-1", Value: &v, RequestID: "0123456789abcdef01234567", Position: 3, Timestamp: time.Unix(1700000000, 5)})
	var e events.Event
	b.ReportAllocs()
	for b.Loop() {
		if err := decodeEvent(enc, &e); err != nil {
			b.Fatal(err)
		}
	}
}
