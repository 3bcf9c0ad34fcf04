package boltstore

import (
	"bytes"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/store"
)

// FuzzDecodeSession: a session record read from a (possibly damaged) data
// file never panics, is refused when its length is wrong, and a record
// encodeSession wrote decodes to what was written.
func FuzzDecodeSession(f *testing.F) {
	s := store.DashboardSession{Level: "admin", Expires: time.Unix(0, 1765000000000000000).UTC()}
	s.TokenHash[0], s.KeyCheck[31] = 7, 9
	f.Add(s.TokenHash[:], encodeSession(s))
	f.Add([]byte("short"), []byte{1, 2, 3})
	f.Add(s.TokenHash[:], append(encodeSession(s), bytes.Repeat([]byte("x"), 40)...))
	f.Fuzz(func(t *testing.T, k, v []byte) {
		got, err := decodeSession(k, v)
		if err != nil {
			return
		}
		if len(k) != 32 || len(v) < 40 || len(v) > 40+store.MaxSessionLevelLen {
			t.Fatalf("decoded a record of %d+%d bytes", len(k), len(v))
		}
		if again := encodeSession(got); !bytes.Equal(again, v) {
			t.Fatalf("re-encoding %+v gives %x, stored %x", got, again, v)
		}
	})
}
