package varint

import (
	"encoding/binary"
	"testing"
)

func TestReaderReadsWhatWasWritten(t *testing.T) {
	var b []byte
	b = binary.AppendUvarint(b, 300)
	b = binary.AppendVarint(b, -7)
	b = AppendString(b, "héllo")
	b = append(b, 9)
	b = binary.LittleEndian.AppendUint64(b, 1<<40+3)
	b = append(b, 2) // a count of the 2 bytes that follow
	b = append(b, 1, 2)
	r := NewReader(b)
	if got := r.Uvarint(); got != 300 {
		t.Errorf("Uvarint = %d", got)
	}
	if got := r.Varint(); got != -7 {
		t.Errorf("Varint = %d", got)
	}
	if got := r.String(); got != "héllo" {
		t.Errorf("String = %q", got)
	}
	if got := r.Byte(); got != 9 {
		t.Errorf("Byte = %d", got)
	}
	if got := r.Uint64LE(); got != 1<<40+3 {
		t.Errorf("Uint64LE = %d", got)
	}
	if got := r.Count(); got != 2 {
		t.Errorf("Count = %d", got)
	}
	if r.Len() != 2 || string(r.Rest()) != "\x01\x02" || r.Len() != 0 || !r.OK() {
		t.Errorf("Rest/Len/OK wrong at the end")
	}
}

// TestReaderIsSticky: every kind of malformed input marks the reader bad, and
// reads after that return zero values.
func TestReaderIsSticky(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		read func(*Reader)
	}{
		{"empty uvarint", nil, func(r *Reader) { r.Uvarint() }},
		{"overlong uvarint", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, func(r *Reader) { r.Uvarint() }},
		{"truncated varint", []byte{0x80}, func(r *Reader) { r.Varint() }},
		{"string longer than input", []byte{5, 'a', 'b'}, func(r *Reader) { _ = r.String() }},
		{"byte past end", nil, func(r *Reader) { r.Byte() }},
		{"short word", []byte{1, 2, 3}, func(r *Reader) { r.Uint64LE() }},
		{"fail", []byte{1}, func(r *Reader) { r.Fail() }},
		{"count above the bytes left", []byte{3, 1, 2}, func(r *Reader) { r.Count() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(c.in)
			c.read(&r)
			if r.OK() {
				t.Fatal("reader still OK after a malformed field")
			}
			if r.Uvarint() != 0 || r.String() != "" || r.Byte() != 0 || r.Len() != 0 {
				t.Error("a bad reader returned data")
			}
		})
	}
}
