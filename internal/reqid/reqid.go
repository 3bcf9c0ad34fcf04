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

// New returns a new request id: 24 lowercase hex characters, the first 8 of
// which are the Unix time in seconds (so ids sort roughly by time and an
// impression log can be trimmed by id), the rest random.
func New() string { return Encode(Raw()) }

// Raw returns the 12 bytes of a new request id: the Unix time in seconds
// (big-endian) and 8 random bytes. A maker that puts something of its own
// in the random bytes (experiment.Manager.NewRequestID) starts from it.
func Raw() [12]byte {
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(time.Now().Unix()))
	if _, err := rand.Read(b[4:]); err != nil {
		panic("reqid: crypto/rand failed: " + err.Error())
	}
	return b
}

// Encode returns the request id of 12 raw bytes (24 lowercase hex
// characters).
func Encode(b [12]byte) string { return hex.EncodeToString(b[:]) }

// Decode returns the 12 raw bytes of a valid request id.
func Decode(s string) ([12]byte, bool) {
	var b [12]byte
	if !Valid(s) {
		return b, false
	}
	hex.Decode(b[:], []byte(s))
	return b, true
}

// Valid reports whether s has the shape of an id made by New, so that a
// request id sent back by a client can be checked before it is stored.
func Valid(s string) bool {
	if len(s) != 24 {
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
