package ingest_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aisle-dev/aisle/bus/ingest"
)

// FuzzMessage: a message on the ingest subject is outside input. It
// parses into events or into a reason, and a refused one always makes a
// dead letter whose reason header is one line and whose body is JSON
// holding the original message.
func FuzzMessage(f *testing.F) {
	for _, s := range []string{
		`{"user_id":"u1","item_id":"pen","type":"view"}`,
		`[{"user_id":"u1","item_id":"cup","type":"view"},{"user_id":"u2","type":"search","query":"tea"}]`,
		`{"user_id":"u1",`, `[]`, `null`, "{\"user_id\":\"u\\n1\",\"type\":\"wink\"}", "\xff\xfe", `[{"user_id":"u","type":"rating","value":99}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, bad := ingest.Parse(data)
		if bad == nil {
			for _, e := range evs {
				if _, err := json.Marshal(e); err != nil {
					t.Fatalf("%q parsed to an event that does not encode: %v", data, err)
				}
			}
			return // [] is an empty batch, as over REST
		}
		nm, err := ingest.DeadLetterMsg("dead", "in", 7, data, bad, time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		h := nm.Header.Get(ingest.HeaderReason)
		if h == "" || strings.ContainsAny(h, "\r\n") || len(h) > 1024 || !utf8.ValidString(h) {
			t.Fatalf("reason header %q", h)
		}
		var d ingest.DeadLetter
		if err := json.Unmarshal(nm.Data, &d); err != nil {
			t.Fatalf("dead letter body is not JSON: %v", err)
		}
		if utf8.Valid(data) && d.Message != string(data) {
			t.Fatalf("dead letter holds %q, want %q", d.Message, data)
		}
		if d.Reason == "" || d.Seq != 7 {
			t.Fatalf("dead letter %+v", d)
		}
	})
}
