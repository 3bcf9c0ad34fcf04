package snapshot

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "snapshots")
	if _, _, err := Read(dir, "recommend"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing snapshot: %v, want not exist", err)
	}
	for _, c := range []struct {
		seq     uint64
		payload []byte
	}{{1, []byte("first")}, {99, nil}, {1 << 40, bytes.Repeat([]byte{7}, 100_000)}} {
		if err := Write(dir, "recommend", c.seq, c.payload); err != nil {
			t.Fatal(err)
		}
		seq, p, err := Read(dir, "recommend")
		if err != nil || seq != c.seq || !bytes.Equal(p, c.payload) {
			t.Fatalf("read back %d %d bytes %v, want %d %d bytes", seq, len(p), err, c.seq, len(c.payload))
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("%d files in the directory, want the snapshot only (no temporary left)", len(ents))
	}
	if err := Remove(dir, "recommend"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Read(dir, "recommend"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after Remove: %v", err)
	}
	if err := Remove(dir, "recommend"); err != nil {
		t.Fatalf("removing a missing snapshot: %v", err)
	}
	if err := Write(dir, "../evil", 1, nil); err == nil {
		t.Fatal("a part name with a path was accepted")
	}
}

// Every damage is refused with ErrDamaged: truncation anywhere, a flipped
// bit anywhere, another part, another version.
func TestDecodeRefusesDamage(t *testing.T) {
	good := Encode("recommend", 42, []byte("payload of the part"))
	if _, _, err := Decode("recommend", good); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(good); n++ {
		if _, _, err := Decode("recommend", good[:n]); !errors.Is(err, ErrDamaged) {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
	}
	for i := 0; i < len(good); i++ {
		for bit := 0; bit < 8; bit++ {
			b := bytes.Clone(good)
			b[i] ^= 1 << bit
			if _, _, err := Decode("recommend", b); !errors.Is(err, ErrDamaged) {
				t.Fatalf("bit %d of byte %d flipped: %v", bit, i, err)
			}
		}
	}
	for _, c := range []struct {
		name string
		part string
		file []byte
	}{
		{"another part", "clicks", good},
		{"appended byte", "recommend", append(bytes.Clone(good), 0)},
		{"empty", "recommend", nil},
	} {
		if _, _, err := Decode(c.part, c.file); !errors.Is(err, ErrDamaged) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode("recommend", 7, []byte("x")))
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		seq, p, err := Decode("recommend", b)
		if err != nil {
			return
		}
		// what decodes must encode to the same bytes
		if !bytes.Equal(Encode("recommend", seq, p), b) {
			t.Fatalf("decoded %d %q does not re-encode to the input", seq, p)
		}
	})
}
