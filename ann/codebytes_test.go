package ann

import (
	"encoding/binary"
	"math"
	"testing"
)

// TestCodeBinaryRoundTrip: a code written by AppendBinary and made again
// by CodeFrom is the same code bit for bit (checksum, scores), and
// CodeFrom refuses values of another length, a padding that is not zero
// and a scale that is not a finite number ≥ 0.
func TestCodeBinaryRoundTrip(t *testing.T) {
	v := []float32{0.5, -0.25, 0.125, 0.8, -0.1}
	c := Encode(v)
	b := c.AppendBinary(nil)
	if len(b) != 4+CodeBytes(len(v)) {
		t.Fatalf("%d bytes, want %d", len(b), 4+CodeBytes(len(v)))
	}
	vals := make([]int8, CodeBytes(len(v)))
	for i := range vals {
		vals[i] = int8(b[4+i])
	}
	scale := math.Float32frombits(binary.LittleEndian.Uint32(b))
	got, err := CodeFrom(len(v), scale, vals)
	if err != nil {
		t.Fatal(err)
	}
	q := NewQuery(v)
	if got.Checksum() != c.Checksum() || got.Len() != c.Len() || q.Score(got) != q.Score(c) {
		t.Fatalf("round trip changed the code: checksum %x→%x", c.Checksum(), got.Checksum())
	}
	if len(Code{}.AppendBinary(nil)) != 0 {
		t.Fatal("the zero code wrote bytes")
	}
	bad := append([]int8(nil), vals...)
	bad[len(bad)-1] = 3
	for name, f := range map[string]func() error{
		"short":   func() error { _, err := CodeFrom(len(v), scale, vals[:len(v)]); return err },
		"padding": func() error { _, err := CodeFrom(len(v), scale, bad); return err },
		"nan":     func() error { _, err := CodeFrom(len(v), float32(math.NaN()), vals); return err },
		"inf":     func() error { _, err := CodeFrom(len(v), float32(math.Inf(1)), vals); return err },
		"dim 0":   func() error { _, err := CodeFrom(0, scale, nil); return err },
	} {
		if f() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
