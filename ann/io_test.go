package ann

import (
	"bytes"
	"context"
	"slices"
	"testing"
)

func TestIVFSaveLoad(t *testing.T) {
	const dim = 12
	vecs := clustered(3000, dim, 30, 0.3, 21)
	x, err := BuildIVF(context.Background(), dim, vecs, IVFOptions{NProbe: 3, Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Add(vecs[:dim]); err != nil { // saved state includes additions
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := x.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo reported %d bytes, wrote %d", n, buf.Len())
	}
	y, err := ReadIVF(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if y.Len() != x.Len() || y.Dim() != x.Dim() || y.NProbe() != 3 || !slices.Equal(y.Sizes(), x.Sizes()) || y.HeadLen() != x.HeadLen() || y.scale != x.scale {
		t.Fatalf("loaded index differs: len %d/%d dim %d nprobe %d", y.Len(), x.Len(), y.Dim(), y.NProbe())
	}
	qs := uniform(10, dim, 3)
	for i := 0; i < 10; i++ {
		q := qs[i*dim : (i+1)*dim]
		sameHits(t, "loaded", y.Search(q, 10, nil), x.Search(q, 10, nil))
	}
	// Additions after loading go on from the saved count.
	if id, err := y.Add(vecs[dim : 2*dim]); err != nil || id != int32(x.Len()) {
		t.Fatalf("Add after load = %d, %v", id, err)
	}

	data := buf.Bytes()
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"bad magic", append([]byte("NOTANIVF"), data[8:]...)},
		{"truncated header", data[:20]},
		{"truncated body", data[:len(data)/2]},
		{"no checksum", data[:len(data)-4]},
		{"flipped byte", flip(data, len(data)/2)},
		{"bad version", flip(data, 8)},
	} {
		if _, err := ReadIVF(bytes.NewReader(c.data)); err == nil {
			t.Errorf("%s: ReadIVF succeeded", c.name)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := slices.Clone(b)
	c[i] ^= 0x40
	return c
}

// FuzzReadIVF feeds damaged files to the reader: it must return an error or
// a consistent index, never panic or allocate without bound.
func FuzzReadIVF(f *testing.F) {
	for _, n := range []int{0, 1, 50} {
		x, err := BuildIVF(context.Background(), 3, uniform(n, 3, 1), IVFOptions{Lists: 4}, nil)
		if err != nil {
			f.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := x.WriteTo(&buf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := ReadIVF(bytes.NewReader(data))
		if err != nil {
			return
		}
		total := x.HeadLen()
		for _, s := range x.Sizes() {
			total += s
		}
		if total != x.Len() {
			t.Fatalf("lists hold %d items, Len %d", total, x.Len())
		}
		q := make([]float32, x.Dim())
		if got := x.Search(q, 3, nil); len(got) > min(3, x.Len()) {
			t.Fatalf("%d hits from %d items", len(got), x.Len())
		}
	})
}
