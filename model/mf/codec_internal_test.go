package mf

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// TestReadFloats reads arrays of several sizes (one beyond a read chunk,
// special values included) as written little-endian, and refuses a
// truncated input.
func TestReadFloats(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 7, 1<<20 + 3, 2<<20 + 1} {
		want := make([]float32, n)
		for i := range want {
			want[i] = rng.Float32()*2 - 1
		}
		if n > 4 {
			want[0], want[1], want[2], want[3] = float32(math.Inf(1)), -0, math.MaxFloat32, math.SmallestNonzeroFloat32
		}
		var buf bytes.Buffer
		b := make([]byte, 4)
		for _, x := range want {
			binary.LittleEndian.PutUint32(b, math.Float32bits(x))
			buf.Write(b)
		}
		buf.WriteString("tail")
		got, err := readFloats(&buf, int64(n))
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if len(got) != n {
			t.Fatalf("n=%d: read %d values", n, len(got))
		}
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("n=%d: value %d is %v, want %v", n, i, got[i], want[i])
			}
		}
		if buf.String() != "tail" {
			t.Fatalf("n=%d: read past the array (left %q)", n, buf.String())
		}
		if n > 0 {
			short := bytes.NewReader(make([]byte, 4*n-1))
			if _, err := readFloats(short, int64(n)); err == nil {
				t.Fatalf("n=%d: a truncated array was read", n)
			}
		}
	}
	if _, err := readFloats(bytes.NewReader(nil), -1); err == nil {
		t.Fatal("a negative size was accepted")
	}
}
