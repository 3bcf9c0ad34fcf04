package snapshot

import (
	"os"
	"path/filepath"
	"testing"
)

// A keeper writes at Close (and not again while the file holds every
// event counted), removes the file on Hold and Drop, refuses writes until
// the Release of the last Hold, and writes again after Drop.
func TestKeeperHoldsAndReleases(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "snapshots")
	state := uint64(1)
	k := &Keeper{Dir: dir, Part: "part", Every: -1, Encode: func() (uint64, []byte, bool) { return state, []byte{byte(state)}, true }}
	exists := func() bool { _, err := os.Stat(Path(dir, "part")); return err == nil }
	if err := k.Close(); err != nil || !exists() || k.Written() != 1 {
		t.Fatalf("Close: %v, file %v, %d written", err, exists(), k.Written())
	}
	if err := k.Close(); err != nil || k.Written() != 1 {
		t.Fatalf("a second Close with nothing counted wrote again (%d)", k.Written())
	}
	g1 := k.Hold("first")
	if exists() {
		t.Fatal("Hold left the file")
	}
	g2 := k.Hold("second")
	if err := k.Save(); err != nil || exists() {
		t.Fatalf("a write while held: %v, file %v", err, exists())
	}
	k.Release(g1) // a Hold came since: still held
	if err := k.Close(); err != nil || exists() {
		t.Fatalf("written after the Release of an older Hold (%v)", err)
	}
	k.Release(g2)
	state = 2
	if err := k.Save(); err != nil || !exists() {
		t.Fatalf("not written after the last Release: %v", err)
	}
	if seq, p, ok := k.Read(); !ok || seq != 2 || p[0] != 2 {
		t.Fatalf("read back %d %v %v", seq, p, ok)
	}
	k.Drop("forget")
	if exists() {
		t.Fatal("Drop left the file")
	}
	if err := k.Close(); err != nil || !exists() {
		t.Fatalf("no write at Close after a Drop: %v", err)
	}
	off := &Keeper{Part: "part", Encode: k.Encode}
	if err := off.Save(); err != nil || off.Written() != 0 {
		t.Fatal("a keeper without a directory wrote")
	}
}
