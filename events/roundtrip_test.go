package events

import (
	"encoding/json"
	"testing"
)

// An event encoded with a zero Timestamp ("now", as the Go client sends
// it) decodes again: the zero time is left out rather than sent as the
// explicit zero time the decoder refuses.
func TestZeroTimestampRoundTrip(t *testing.T) {
	b, err := json.Marshal(Event{UserID: "u", ItemID: "i", Type: View})
	if err != nil {
		t.Fatal(err)
	}
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("%s does not decode: %v", b, err)
	}
	if !e.Timestamp.IsZero() || e.UserID != "u" {
		t.Errorf("decoded %+v from %s", e, b)
	}
}
