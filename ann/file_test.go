package ann

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	const dim = 24
	vecs := clustered(3000, dim, 30, 0.4, 5)
	qs := clustered(20, dim, 30, 0.4, 5)
	dir := t.TempDir()
	for _, quant := range []Quant{Float32, Int8, Int8Dim, PQ} {
		t.Run(quant.String(), func(t *testing.T) {
			x, err := BuildIVF(context.Background(), dim, vecs, IVFOptions{Seed: 2, Quant: quant, NProbe: 5, Rerank: 40}, nil)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, quant.String()+".ivf")
			if err := SaveIVF(path, x, "ials@3"); err != nil {
				t.Fatal(err)
			}
			y, err := LoadIVF(path, "ials@3")
			if err != nil {
				t.Fatal(err)
			}
			if y.Len() != x.Len() || y.Lists() != x.Lists() || y.NProbe() != 5 || y.Quant() != quant || y.HeadLen() != x.HeadLen() {
				t.Fatalf("loaded %d items, %d lists, nprobe %d, %s; saved %d, %d, 5, %s", y.Len(), y.Lists(), y.NProbe(), y.Quant(), x.Len(), x.Lists(), quant)
			}
			for i := 0; i < 20; i++ {
				q := qs[i*dim : (i+1)*dim]
				sameHits(t, "loaded", y.Search(q, 10, nil), x.Search(q, 10, nil))
			}
			// a loaded index still grows
			if id, err := y.Add(vecs[:dim]); err != nil || id != 3000 {
				t.Fatalf("Add after load = %d, %v", id, err)
			}
			if _, err := LoadIVF(path, "ials@4"); !errors.Is(err, ErrStale) {
				t.Fatalf("load with another tag: %v, want ErrStale", err)
			}
		})
	}
	if _, err := LoadIVF(filepath.Join(dir, "none.ivf"), "x"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestReadIVFRejectsDamage(t *testing.T) {
	const dim = 16
	vecs := clustered(500, dim, 5, 0.4, 6)
	x, err := BuildIVF(context.Background(), dim, vecs, IVFOptions{Seed: 2, Quant: Int8}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := x.WriteTo(&buf, "m@1"); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	if _, tag, err := ReadIVF(bytes.NewReader(good)); err != nil || tag != "m@1" {
		t.Fatalf("good file: tag %q, %v", tag, err)
	}
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"magic", append([]byte("AISLEVEC"), good[8:]...)},
		{"truncated", good[:len(good)-9]},
		{"no checksum", good[:len(good)-4]},
		{"flipped byte", flip(good, len(good)/2)},
		{"flipped checksum", flip(good, len(good)-1)},
		{"flipped quant", flip(good, 14+3)},
	} {
		if _, _, err := ReadIVF(bytes.NewReader(c.data)); err == nil {
			t.Errorf("%s: read without error", c.name)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x40
	return c
}

// FuzzReadIVF feeds damaged and random files to the reader: it must return
// an error or an index that answers searches, never panic.
func FuzzReadIVF(f *testing.F) {
	const dim = 16
	for _, quant := range []Quant{Float32, Int8, Int8Dim, PQ} {
		x, err := BuildIVF(context.Background(), dim, clustered(60, dim, 3, 0.4, 7), IVFOptions{Seed: 1, Quant: quant}, nil)
		if err != nil {
			f.Fatal(err)
		}
		var buf bytes.Buffer
		x.WriteTo(&buf, "t")
		f.Add(buf.Bytes())
	}
	l, err := BuildLists(context.Background(), dim, clustered(60, dim, 3, 0.4, 7), 3, 60, 1)
	if err != nil {
		f.Fatal(err)
	}
	l.AssignBatch([]int32{0, 1, 2}, clustered(3, dim, 3, 0.4, 8))
	var buf bytes.Buffer
	l.WriteTo(&buf, "t", func(id int32) (ListKey, bool) { return ListKey{Name: "k", Check: uint32(id)}, true })
	f.Add(buf.Bytes())
	f.Add([]byte("AISLEIVF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// a lists file is read by the same reader (LoadLists)
		if x, keys, _, err := readFile(bytes.NewReader(data)); err == nil && x.quant == quantLists && len(keys) != x.n {
			t.Fatalf("%d keys for %d ids", len(keys), x.n)
		}
		x, _, err := ReadIVF(bytes.NewReader(data))
		if err != nil {
			return
		}
		q := make([]float32, x.Dim())
		for i := range q {
			q[i] = float32(i%3) - 1
		}
		if got := x.Search(q, 5, nil); len(got) > 5 {
			t.Fatalf("%d hits for k=5", len(got))
		}
	})
}
