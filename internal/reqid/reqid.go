// Package reqid makes the identifiers that tie an answer (its impressions)
// to the events that follow it (clicks, purchases): one generator, so that
// attribution, experiments and ad billing agree on what a request id is.
package reqid

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// Size is the length in bytes of a request id made by New; OldSize that
// of ids made before session 10, which stay valid (logged impressions and
// events carry them).
const (
	Size    = 16
	OldSize = 12
)

// New returns a new request id: 32 lowercase hex characters, the first 8 of
// which are the Unix time in seconds (so ids sort roughly by time and an
// impression log can be trimmed by id), the rest (96 bits) random.
func New() string { return Encode(Raw()) }

// Raw returns the Size bytes of a new request id: the Unix time in seconds
// (big-endian) and 12 random bytes. A maker that puts something of its own
// in the random bytes (experiment.Manager.NewRequestID) starts from it.
func Raw() [Size]byte {
	var b [Size]byte
	binary.BigEndian.PutUint32(b[:4], uint32(time.Now().Unix()))
	if _, err := rand.Read(b[4:]); err != nil {
		panic("reqid: crypto/rand failed: " + err.Error())
	}
	return b
}

// Encode returns the request id of the raw bytes of a new one (32
// lowercase hex characters).
func Encode(b [Size]byte) string { return hex.EncodeToString(b[:]) }

// Decode returns the raw bytes of a valid request id: Size of them, or
// OldSize for an id made before session 10.
func Decode(s string) ([]byte, bool) {
	if !Valid(s) {
		return nil, false
	}
	b, _ := hex.DecodeString(s)
	return b, true
}

// Valid reports whether s has the shape of an id made by New (32 lowercase
// hex characters, or 24 for an id made before session 10), so that a
// request id sent back by a client can be checked before it is stored.
func Valid(s string) bool {
	if len(s) != 2*Size && len(s) != 2*OldSize {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && s == toLower(s)
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'F' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Time returns when an id made by New was made (to the second).
func Time(s string) (time.Time, bool) {
	if !Valid(s) {
		return time.Time{}, false
	}
	raw, _ := hex.DecodeString(s[:8])
	return time.Unix(int64(binary.BigEndian.Uint32(raw)), 0).UTC(), true
}
