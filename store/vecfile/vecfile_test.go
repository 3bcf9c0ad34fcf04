package vecfile

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/store"
)

func sample() []store.ItemVector {
	return []store.ItemVector{
		{ItemID: "a", TextHash: [32]byte{1}, Vec: []float32{0.5, -1, 2}},
		{ItemID: "b-é", TextHash: [32]byte{2, 3}, Vec: []float32{0, 0, 0}},
	}
}

func encode(t testing.TB, space string, vecs []store.ItemVector) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Encode(&b, space, vecs); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func equal(a, b []store.ItemVector) bool {
	return slices.EqualFunc(a, b, func(x, y store.ItemVector) bool {
		return x.ItemID == y.ItemID && x.TextHash == y.TextHash && slices.Equal(x.Vec, y.Vec)
	})
}

func TestRoundTrip(t *testing.T) {
	for _, vecs := range [][]store.ItemVector{nil, sample()} {
		space, dim, got, err := Decode(bytes.NewReader(encode(t, "use-lite-en/512", vecs)))
		if err != nil {
			t.Fatal(err)
		}
		wantDim := 0
		if len(vecs) > 0 {
			wantDim = 3
		}
		if space != "use-lite-en/512" || dim != wantDim || !equal(got, vecs) {
			t.Errorf("got %q %d %+v", space, dim, got)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	good := encode(t, "s/3", sample())
	fixCRC := func(b []byte) []byte {
		b = slices.Clone(b)
		var c bytes.Buffer
		c.Write(b[:len(b)-4])
		sum := crcOf(c.Bytes())
		binary.LittleEndian.PutUint32(b[len(b)-4:], sum)
		return b
	}
	nan := slices.Clone(good)
	// first float of the first record: header 8+4+2+3+4+4, then 2+1 id, 32 hash
	off := 8 + 4 + 2 + 3 + 4 + 4 + 2 + 1 + 32
	binary.LittleEndian.PutUint32(nan[off:], math.Float32bits(float32(math.NaN())))
	dup := encode(t, "s/3", []store.ItemVector{sample()[0], sample()[0]})
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "truncated header"},
		{"foreign", []byte("PK\x03\x04 this is a zip file, not vectors"), "not an Aisle vector file"},
		{"version", fixCRC(append(append([]byte(magic), 2, 0, 0, 0), good[12:]...)), "format version 2"},
		{"truncated", good[:len(good)-10], "truncated"},
		{"checksum", append(slices.Clone(good[:len(good)-1]), good[len(good)-1]^1), "checksum mismatch"},
		{"trailing", append(slices.Clone(good), 0), "trailing"},
		{"flipped bit", func() []byte { b := slices.Clone(good); b[off+5] ^= 1; return b }(), "checksum mismatch"},
		{"nan", fixCRC(nan), "non-finite"},
		{"duplicate", dup, "twice"},
	}
	for _, tc := range tests {
		_, _, _, err := Decode(bytes.NewReader(tc.data))
		if err == nil || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}

func crcOf(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

func TestLoadSave(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "v.vec")
	f, err := Load(path, "m/3") // missing: empty
	if err != nil || f.Len() != 0 {
		t.Fatalf("missing file: %v %v", f, err)
	}
	if err := f.PutVectors(ctx, "m/3", sample()); err != nil {
		t.Fatal(err)
	}
	if err := f.PutVectors(ctx, "other/3", sample()); err == nil {
		t.Error("vectors of another space accepted")
	}
	if err := f.PutVectors(ctx, "m/3", []store.ItemVector{{ItemID: "c", Vec: []float32{1}}}); err == nil {
		t.Error("vector of another length accepted")
	}
	if !f.Dirty() {
		t.Error("not dirty after a put")
	}
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	g, err := Load(path, "m/3")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := g.GetVectors(ctx, "m/3", []string{"b-é", "a", "zz"})
	if !equal(got, []store.ItemVector{sample()[1], sample()[0], {ItemID: "zz"}}) {
		t.Errorf("reloaded %+v", got)
	}
	if got, _ := g.GetVectors(ctx, "other/3", []string{"a"}); got[0].Vec != nil {
		t.Error("vectors returned for another space")
	}
	if _, err := Load(path, "other/3"); err == nil || !strings.Contains(err.Error(), `holds vectors of embedder "m/3"`) {
		t.Errorf("space mismatch: %v", err)
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, "m/3"); err == nil || !errors.Is(err, ErrCorrupt) {
		t.Errorf("corrupt file: %v", err)
	}
	if err := g.DeleteVectors(ctx, []string{"a"}); err != nil || g.Len() != 1 {
		t.Errorf("delete: %v, %d left", err, g.Len())
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(f, "s/3", sample()))
	f.Add(encode(f, "", nil))
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		space, dim, vecs, err := Decode(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		for _, v := range vecs {
			if len(v.Vec) != dim {
				t.Fatalf("vector of length %d in a file of dim %d", len(v.Vec), dim)
			}
		}
		if len(vecs) == 0 {
			return // dim of an empty file is free: nothing to re-encode against
		}
		again := encode(t, space, vecs)
		if !bytes.Equal(again, data) {
			t.Fatalf("decoded file does not re-encode to the same bytes")
		}
	})
}

// BenchmarkDecode reads 10,000 vectors of 512 dimensions (20 MB).
func BenchmarkDecode(b *testing.B) {
	vecs := make([]store.ItemVector, 10000)
	for i := range vecs {
		vecs[i] = store.ItemVector{ItemID: fmt.Sprint("item-", i), Vec: make([]float32, 512)}
	}
	data := encode(b, "m/512", vecs)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, _, err := Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
