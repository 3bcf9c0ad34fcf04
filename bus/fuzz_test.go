package bus_test

import (
	"testing"

	"github.com/aisle-dev/aisle/bus"
	"github.com/aisle-dev/aisle/engine"
)

// FuzzDecode: a message from the feed is outside input (another version,
// another writer); decoding never panics, and what decodes encodes again.
func FuzzDecode(f *testing.F) {
	for _, s := range []struct{ kind, payload string }{
		{engine.KindItemsUpsert, `[{"id":"a","title":"pen"}]`},
		{engine.KindItemsDelete, `{"ids":["a"]}`},
		{engine.KindUsersDelete, `{"id":"u","removed":[{"user_id":"u","type":"view","item_id":"a"}]}`},
		{engine.KindEventsAppend, `{"seq":3,"user_id":"u","type":"view"}`},
		{engine.KindModelMeta, `{"name":"ials","version":2}`},
		{"nope", `[]`},
	} {
		f.Add(s.kind, []byte(s.payload))
	}
	f.Fuzz(func(t *testing.T, kind string, payload []byte) {
		c, err := bus.Decode(t.Context(), bus.Message{Kind: kind, Payload: payload}, nil)
		if err != nil {
			return
		}
		if _, err := bus.Encode(c); err != nil {
			t.Fatalf("decoded %s %q but cannot encode it: %v", kind, payload, err)
		}
	})
}
