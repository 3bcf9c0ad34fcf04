// Package varint reads and writes the varint-framed records that Aisle's own
// binary formats are made of (the stored event codec, the impression log):
// unsigned and signed varints, length-prefixed strings, single bytes and
// little-endian 64-bit words.
//
// A Reader is sticky: the first malformed or truncated field marks it bad,
// and every later read returns a zero value, so a decoder reads all its
// fields and checks OK once instead of after every field.
package varint

import "encoding/binary"

// AppendString appends s, prefixed by its length as a uvarint.
func AppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Reader consumes fields from the front of a byte slice.
type Reader struct {
	p   []byte
	bad bool
}

// NewReader reads from p (not copied; strings read are copies).
func NewReader(p []byte) Reader { return Reader{p: p} }

// OK reports whether every field read so far was well formed.
func (r *Reader) OK() bool { return !r.bad }

// Len is the number of bytes not yet read (0 once the reader is bad).
func (r *Reader) Len() int { return len(r.p) }

// Fail marks the reader bad: a decoder uses it when a field is well formed
// but its value is out of range.
func (r *Reader) Fail() { r.bad, r.p = true, nil }

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	x, n := binary.Uvarint(r.p)
	if n <= 0 {
		r.Fail()
		return 0
	}
	r.p = r.p[n:]
	return x
}

// Count reads a uvarint count of the records that follow, each at least
// a byte: a count above the bytes left marks the reader bad (and is 0),
// so a damaged count cannot make a decoder allocate without bound.
func (r *Reader) Count() int {
	n := r.Uvarint()
	if n > uint64(len(r.p)) {
		r.Fail()
		return 0
	}
	return int(n)
}

// Varint reads a signed (zig-zag) varint.
func (r *Reader) Varint() int64 {
	x, n := binary.Varint(r.p)
	if n <= 0 {
		r.Fail()
		return 0
	}
	r.p = r.p[n:]
	return x
}

// String reads a uvarint length and that many bytes.
func (r *Reader) String() string {
	n := r.Uvarint()
	if n > uint64(len(r.p)) {
		r.Fail()
		return ""
	}
	s := string(r.p[:n])
	r.p = r.p[n:]
	return s
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if len(r.p) == 0 {
		r.Fail()
		return 0
	}
	c := r.p[0]
	r.p = r.p[1:]
	return c
}

// Uint64LE reads a little-endian 64-bit word.
func (r *Reader) Uint64LE() uint64 {
	if len(r.p) < 8 {
		r.Fail()
		return 0
	}
	x := binary.LittleEndian.Uint64(r.p)
	r.p = r.p[8:]
	return x
}

// Rest returns the unread bytes (not copied) and leaves the reader empty.
func (r *Reader) Rest() []byte {
	p := r.p
	r.p = r.p[len(r.p):]
	return p
}
