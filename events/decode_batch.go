package events

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/aisle-dev/aisle/catalog"
)

// DecodeBatch decodes a JSON body of events in the REST format (one event
// or an array of them) exactly as catalog.DecodeBatch("events", data,
// Decode) does, errors included, at a fraction of its cost for the usual
// body.
//
// The usual body (plain strings without escapes, numbers, the known
// fields once each, nothing else) is read by hand in one pass; anything
// else — an escape, a null, an unknown, repeated or differently cased
// field, a "seq", a value of the wrong kind, malformed JSON — makes it
// give up and decode the whole body with encoding/json, so the outcome of
// an unusual body, and every error message, is the standard decoder's.
// FuzzDecodeBatchMatchesStandard holds the two to the same answers.
func DecodeBatch(data []byte) ([]Event, error) {
	if evs, ok := decodeFast(data); ok {
		return evs, nil
	}
	return catalog.DecodeBatch("events", data, Decode)
}

// fastReader reads the usual body; ok turns false at the first thing it
// does not handle.
type fastReader struct {
	b []byte
	i int
}

func (r *fastReader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// peek is the next byte after white space (0 at the end).
func (r *fastReader) peek() byte {
	r.ws()
	if r.i < len(r.b) {
		return r.b[r.i]
	}
	return 0
}

// str reads a string without escapes or control characters whose bytes
// are valid UTF-8 (the standard decoder keeps such a string as it is).
func (r *fastReader) str() ([]byte, bool) {
	if r.peek() != '"' {
		return nil, false
	}
	start := r.i + 1
	ascii := true
	for j := start; j < len(r.b); j++ {
		c := r.b[j]
		switch {
		case c == '"':
			s := r.b[start:j]
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			r.i = j + 1
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// number reads a JSON number (RFC 8259 grammar) and reports whether it
// has a fraction or an exponent.
func (r *fastReader) number() (lit []byte, integer bool, ok bool) {
	r.ws()
	start, j := r.i, r.i
	b := r.b
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && b[j] >= '1' && b[j] <= '9':
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
	default:
		return nil, false, false
	}
	integer = true
	if j < len(b) && b[j] == '.' {
		integer = false
		j++
		d := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == d {
			return nil, false, false
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		integer = false
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		d := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == d {
			return nil, false, false
		}
	}
	r.i = j
	return b[start:j], integer, true
}

// the fields of an event, as bits, to refuse a repeated one
const (
	fUser = 1 << iota
	fItem
	fType
	fValue
	fQuery
	fSession
	fRequest
	fPosition
	fTimestamp
)

// builtinOr returns the built-in type named s without allocating, else a
// copy of s.
func builtinOr(s []byte) Type {
	for _, t := range BuiltinTypes {
		if string(t) == string(s) {
			return t
		}
	}
	return Type(s)
}

// object reads one event object.
func (r *fastReader) object(e *Event) bool {
	if r.peek() != '{' {
		return false
	}
	r.i++
	if r.peek() == '}' {
		r.i++
		return true
	}
	seen := 0
	for {
		key, ok := r.str()
		if !ok || r.peek() != ':' {
			return false
		}
		r.i++
		var bit int
		switch string(key) {
		case "user_id", "item_id", "type", "query", "session_id", "request_id":
			s, ok := r.str()
			if !ok {
				return false
			}
			switch string(key) {
			case "user_id":
				bit, e.UserID = fUser, string(s)
			case "item_id":
				bit, e.ItemID = fItem, string(s)
			case "type":
				bit, e.Type = fType, builtinOr(s)
			case "query":
				bit, e.Query = fQuery, string(s)
			case "session_id":
				bit, e.SessionID = fSession, string(s)
			default:
				bit, e.RequestID = fRequest, string(s)
			}
		case "value":
			lit, _, ok := r.number()
			if !ok {
				return false
			}
			v, err := strconv.ParseFloat(string(lit), 64)
			if err != nil {
				return false
			}
			bit, e.Value = fValue, &v
		case "position":
			lit, integer, ok := r.number()
			if !ok || !integer {
				return false
			}
			n, err := strconv.ParseInt(string(lit), 10, 0)
			if err != nil {
				return false
			}
			bit, e.Position = fPosition, int(n)
		case "timestamp":
			r.ws()
			start := r.i
			if _, ok := r.str(); !ok {
				return false
			}
			var t time.Time
			// the standard decoder hands the quoted literal to the same method
			if err := t.UnmarshalJSON(r.b[start:r.i]); err != nil || t.IsZero() {
				return false
			}
			bit, e.Timestamp = fTimestamp, t
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		switch r.peek() {
		case ',':
			r.i++
		case '}':
			r.i++
			return true
		default:
			return false
		}
	}
}

// decodeFast decodes the usual body; ok is false when it is not one.
func decodeFast(data []byte) (evs []Event, ok bool) {
	r := &fastReader{b: data}
	switch r.peek() {
	case '{':
		evs = make([]Event, 1)
		if !r.object(&evs[0]) {
			return nil, false
		}
	case '[':
		r.i++
		if r.peek() == ']' {
			return nil, false // rare: the standard decoder answers it
		}
		// about 60 bytes an event in a typical body (bounded: a body of
		// a few long queries must not reserve room for thousands)
		evs = make([]Event, 0, min(len(data)/60+1, 4096))
		for {
			evs = append(evs, Event{})
			if !r.object(&evs[len(evs)-1]) {
				return nil, false
			}
			c := r.peek()
			r.i++
			if c == ']' {
				break
			}
			if c != ',' {
				return nil, false
			}
		}
	default:
		return nil, false
	}
	r.ws()
	if r.i != len(data) {
		return nil, false
	}
	return evs, true
}
