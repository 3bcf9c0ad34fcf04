package boltstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/aisle-dev/aisle/events"
)

// Recover salvages what a damaged file still holds into a new data dir
// that opens, with counts and indexes consistent with what was copied.
func TestRecover(t *testing.T) {
	good := sampleStore(t)
	const page = 4096
	cases := []struct {
		name   string
		damage func([]byte) []byte
		full   bool // nothing lost
	}{
		{"sound file", func(b []byte) []byte { return b }, true},
		{"truncated to half", func(b []byte) []byte { return b[:len(b)/2/page*page] }, false},
		{"both meta pages zeroed", func(b []byte) []byte { clear(b[:2*page]); return b }, false},
		{"garbage pages", func(b []byte) []byte {
			r := rand.New(rand.NewPCG(3, 4))
			for i := 20 * page; i < 24*page; i++ {
				b[i] = byte(r.Uint32())
			}
			return b
		}, false},
	}
	ctx := context.Background()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), FileName)
			bad := c.damage(bytes.Clone(good))
			os.WriteFile(src, bad, 0o644)
			before := sha256.Sum256(bad)
			dst := filepath.Join(t.TempDir(), "new")
			rep, err := Recover(ctx, src, dst, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", rep)
			if after, _ := os.ReadFile(src); sha256.Sum256(after) != before {
				t.Fatal("recover modified the damaged file")
			}
			if c.full && (rep.Items != 1500 || rep.Events != 3000 || rep.Users != 200 || len(rep.Problems) != 0) {
				t.Fatalf("sound file: %+v", rep)
			}
			if !c.full && rep.Items+rep.Events == 0 {
				t.Fatalf("nothing salvaged: %+v", rep)
			}
			st, err := Open(dst)
			if err != nil {
				t.Fatalf("the recovered dir does not open: %v", err)
			}
			defer st.Close()
			n := 0
			if err := st.ScanEvents(ctx, 0, func(e events.Event) error {
				n++
				got, err := st.UserEvents(ctx, e.UserID, 0)
				if err != nil || len(got) == 0 {
					t.Fatalf("user %s has no indexed events: %v", e.UserID, err)
				}
				if _, err := st.GetUser(ctx, e.UserID); err != nil {
					t.Fatalf("user %s of a salvaged event: %v", e.UserID, err)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if cnt, _ := st.CountEvents(ctx); cnt != n || n != rep.Events {
				t.Fatalf("count %d, scanned %d, report %d", cnt, n, rep.Events)
			}
			if err := st.AppendEvents(ctx, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := Recover(ctx, src, dst, nil); err == nil {
				t.Fatal("recover overwrote an existing data file")
			}
		})
	}
}
