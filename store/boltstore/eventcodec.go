package boltstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/varint"
)

// Events are stored in a compact binary form (reading the event log is the
// hot path of training and of every recommendation request):
//
//	0xA2 (format 2) | uvarint seq | str user | str item | str type | str query |
//	str session | varint unix seconds | uvarint nanoseconds |
//	0 or (1 and 8-byte float64 value)
//
// where str is a uvarint length and the bytes. Format 3 (0xA3) is format 2
// followed by str request_id and uvarint position; it is written only for
// events that carry either, so the log of other events keeps format 2.
// Format 1 (0xA1) held the
// time as one varint of unix nanoseconds, which overflows outside about
// 1678–2262 (9999-12-31 read back as 1816); it is still read. Values that
// start with '{' are events written as JSON by earlier versions and are
// still read.
const (
	eventFormat1 = 0xA1
	eventFormat2 = 0xA2
	eventFormat3 = 0xA3
)

func appendStr(b []byte, s string) []byte { return varint.AppendString(b, s) }

func encodeEvent(e *events.Event) []byte {
	b := make([]byte, 0, 32+len(e.UserID)+len(e.ItemID)+len(e.Type)+len(e.Query)+len(e.SessionID))
	format := byte(eventFormat2)
	if e.RequestID != "" || e.Position != 0 {
		format = eventFormat3
	}
	b = append(b, format)
	b = binary.AppendUvarint(b, e.Seq)
	b = appendStr(b, e.UserID)
	b = appendStr(b, e.ItemID)
	b = appendStr(b, string(e.Type))
	b = appendStr(b, e.Query)
	b = appendStr(b, e.SessionID)
	b = binary.AppendVarint(b, e.Timestamp.Unix())
	b = binary.AppendUvarint(b, uint64(e.Timestamp.Nanosecond()))
	if e.Value == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(*e.Value))
	}
	if format == eventFormat3 {
		b = appendStr(b, e.RequestID)
		b = binary.AppendUvarint(b, uint64(e.Position))
	}
	return b
}

var errBadEvent = errors.New("corrupt stored event")

func decodeEvent(v []byte, e *events.Event) error {
	if len(v) > 0 && v[0] == '{' {
		*e = events.Event{}
		type plain events.Event // stored JSON was validated: no strict decoding needed
		return json.Unmarshal(v, (*plain)(e))
	}
	if len(v) == 0 || (v[0] != eventFormat1 && v[0] != eventFormat2 && v[0] != eventFormat3) {
		return errBadEvent
	}
	format := v[0]
	r := varint.NewReader(v[1:])
	e.Seq = r.Uvarint()
	e.UserID = r.String()
	e.ItemID = r.String()
	e.Type = events.Type(r.String())
	e.Query = r.String()
	e.SessionID = r.String()
	ns := r.Varint()
	if format == eventFormat1 {
		e.Timestamp = time.Unix(0, ns).UTC()
	} else {
		nanos := r.Uvarint()
		if nanos >= 1e9 {
			r.Fail()
		}
		e.Timestamp = time.Unix(ns, int64(nanos)).UTC()
	}
	e.Value = nil
	e.RequestID, e.Position = "", 0
	if r.Byte() == 1 {
		f := math.Float64frombits(r.Uint64LE())
		e.Value = &f
	}
	if format == eventFormat3 {
		e.RequestID = r.String()
		pos := r.Uvarint()
		if pos > 1<<31 {
			r.Fail()
		}
		e.Position = int(pos)
	}
	if !r.OK() {
		return errBadEvent
	}
	return nil
}
