package events

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/internal/reqid"
)

// MaxQueryLen bounds the length of a search query.
const MaxQueryLen = 1024

var typeName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// Bounds on event values and timestamps. An event outside them is rejected
// with a 400 naming the field: one absurd value (a rating of 1e39, a view
// dated 2100) must not take over popularity, trending or training.
const (
	// DefaultRatingMin and DefaultRatingMax are the rating scale accepted
	// unless the shop configures its own (Types.SetRatingScale).
	DefaultRatingMin = -10
	DefaultRatingMax = 10
	// MaxQuantity bounds the value of purchase and add_to_cart events (a
	// quantity, > 0) and the magnitude of the value of any other type.
	MaxQuantity = 1e6
	// MaxPosition bounds the position of an event (an item's place in an
	// answer).
	MaxPosition = 10_000
	// MaxClockSkew is how far ahead of the server clock a timestamp may be.
	MaxClockSkew = 24 * time.Hour
)

// MinTimestamp is the earliest accepted event time.
var MinTimestamp = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)

// Types is the set of event types an Aisle instance accepts: the built-in
// ones plus those declared in config, and the accepted rating scale.
type Types struct {
	known                map[Type]bool
	ratingMin, ratingMax float64
}

// SetRatingScale sets the accepted range of rating values (inclusive).
func (ts *Types) SetRatingScale(lo, hi float64) error {
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || lo >= hi || math.Abs(lo) > MaxQuantity || math.Abs(hi) > MaxQuantity {
		return fmt.Errorf("rating scale [%v, %v]: give two finite numbers, low < high, within ±%g", lo, hi, float64(MaxQuantity))
	}
	ts.ratingMin, ts.ratingMax = lo, hi
	return nil
}

// RatingScale returns the accepted range of rating values.
func (ts *Types) RatingScale() (lo, hi float64) { return ts.ratingMin, ts.ratingMax }

// NewTypes returns the built-in types plus custom ones. Custom names are
// lower-case letters, digits and underscores.
func NewTypes(custom ...string) (*Types, error) {
	t := &Types{known: map[Type]bool{}, ratingMin: DefaultRatingMin, ratingMax: DefaultRatingMax}
	for _, b := range BuiltinTypes {
		t.known[b] = true
	}
	for _, c := range custom {
		if !typeName.MatchString(c) {
			return nil, fmt.Errorf("custom event type %q: use lower-case letters, digits and underscores, starting with a letter", c)
		}
		t.known[Type(c)] = true
	}
	return t, nil
}

// Has reports whether t is a known type.
func (ts *Types) Has(t Type) bool { return ts.known[t] }

// Names lists the known types.
func (ts *Types) Names() []string {
	out := make([]string, 0, len(ts.known))
	for _, b := range BuiltinTypes {
		out = append(out, string(b))
	}
	for t := range ts.known {
		builtin := false
		for _, b := range BuiltinTypes {
			builtin = builtin || b == t
		}
		if !builtin {
			out = append(out, string(t))
		}
	}
	return out
}

// Validate checks one event against the known types and bounds and fills
// defaults (timestamp = now when zero). It calls add for every problem
// found. It does not check that the item exists: that needs the catalogue.
//
// Bounds: a rating lies within the types' rating scale (default [-10, 10]);
// a purchase or add_to_cart value is a quantity, 0 < q ≤ 1e6; any other
// value lies within ±1e6. A timestamp lies between 1990-01-01 and 24 hours
// after now.
func (e *Event) Validate(types *Types, now time.Time, add func(field, problem string)) {
	if p := catalog.CheckID(e.UserID); p != "" {
		add("user_id", p)
	}
	switch {
	case e.Type == "":
		add("type", "is required (one of "+strings.Join(types.Names(), ", ")+")")
	case !types.Has(e.Type):
		add("type", fmt.Sprintf("unknown event type %q (known: %s; declare custom types in config)", e.Type, strings.Join(types.Names(), ", ")))
	}
	if e.Type == Search {
		if e.ItemID != "" {
			if p := catalog.CheckID(e.ItemID); p != "" {
				add("item_id", p)
			}
		}
		if strings.TrimSpace(e.Query) == "" {
			add("query", "is required for search events")
		}
	} else if e.Type != "" {
		if p := catalog.CheckID(e.ItemID); p != "" {
			add("item_id", p)
		}
	}
	if len(e.Query) > MaxQueryLen {
		add("query", fmt.Sprintf("is longer than %d bytes", MaxQueryLen))
	} else if p := catalog.CheckText(e.Query); p != "" {
		add("query", p)
	}
	if e.SessionID != "" {
		if p := catalog.CheckID(e.SessionID); p != "" {
			add("session_id", p)
		}
	}
	if e.RequestID != "" && !reqid.Valid(e.RequestID) {
		add("request_id", "must be the request_id of an answer (32 lowercase hex characters, or 24 for an older one), as the answer gave it")
	}
	if e.Position < 0 || e.Position > MaxPosition {
		add("position", fmt.Sprintf("must be from 1 to %d (the item's place in the answer), or left out", MaxPosition))
	}
	if e.Value != nil {
		if p := types.checkValue(e.Type, *e.Value); p != "" {
			add("value", p)
		}
	} else if e.Type == Rating {
		add("value", "is required for rating events (the rating)")
	}
	if e.Seq != 0 {
		add("seq", "is assigned by the server: leave it out")
	}
	if e.Timestamp.IsZero() {
		e.Timestamp = now.UTC()
	} else if p := CheckTimestamp(e.Timestamp, now); p != "" {
		add("timestamp", p)
	}
}

// CheckTimestamp reports what is wrong with an event time given the server
// clock now, or "" when it is fine.
func CheckTimestamp(t, now time.Time) string {
	switch {
	case t.Before(MinTimestamp):
		return fmt.Sprintf("%s is before %s: send the time the event happened, in RFC 3339 (e.g. \"2026-11-27T10:00:00Z\") or unix seconds, or leave it out for now", t.UTC().Format(time.RFC3339), MinTimestamp.Format("2006-01-02"))
	case t.After(now.Add(MaxClockSkew)):
		return fmt.Sprintf("%s is more than %s ahead of the server clock (%s): check the sender's clock and time zone", t.UTC().Format(time.RFC3339), MaxClockSkew, now.UTC().Format(time.RFC3339))
	}
	return ""
}

func (ts *Types) checkValue(t Type, v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "must be a finite number"
	case t == Rating:
		if v < ts.ratingMin || v > ts.ratingMax {
			return fmt.Sprintf("rating %g is outside the rating scale [%g, %g] (set another scale in config)", v, ts.ratingMin, ts.ratingMax)
		}
	case t == Purchase || t == AddToCart:
		if v <= 0 || v > MaxQuantity {
			return fmt.Sprintf("quantity %g must be > 0 and ≤ %g", v, float64(MaxQuantity))
		}
	case math.Abs(v) > MaxQuantity:
		return fmt.Sprintf("%g is outside ±%g", v, float64(MaxQuantity))
	}
	return ""
}

// UnmarshalJSON decodes an event strictly: unknown fields are errors, and
// so is an explicit zero time ("0001-01-01T00:00:00Z", which would
// otherwise be indistinguishable from a missing one and become now).
func (e *Event) UnmarshalJSON(data []byte) error {
	type plain Event
	var p struct {
		plain
		Timestamp *time.Time `json:"timestamp"`
	}
	if err := catalog.StrictDecode(data, &p); err != nil {
		return err
	}
	*e = Event(p.plain)
	if p.Timestamp != nil {
		if p.Timestamp.IsZero() {
			return catalog.FieldError("timestamp", "0001-01-01T00:00:00Z is not a time an event happened: leave timestamp out for now")
		}
		e.Timestamp = *p.Timestamp
	}
	return nil
}

// Decode decodes one event from JSON.
func Decode(data []byte) (Event, error) {
	var e Event
	err := e.UnmarshalJSON(data)
	return e, err
}

// Columns are the CSV columns of events.
var Columns = []string{"user_id", "item_id", "type", "value", "query", "session_id", "timestamp"}

// FromCSV builds an event from a CSV row. Timestamps are RFC 3339 or unix seconds.
func FromCSV(h *catalog.Header, row []string) (Event, error) {
	for _, n := range h.Names {
		known := false
		for _, c := range Columns {
			known = known || c == n
		}
		if !known {
			return Event{}, catalog.HeaderError(fmt.Errorf("unknown column %q (known columns: %s)", n, strings.Join(Columns, ", ")))
		}
	}
	e := Event{
		UserID:    h.Get(row, "user_id"),
		ItemID:    h.Get(row, "item_id"),
		Type:      Type(h.Get(row, "type")),
		Query:     h.Get(row, "query"),
		SessionID: h.Get(row, "session_id"),
	}
	if v := h.Get(row, "value"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return Event{}, &catalog.RowError{Field: "value", Problem: "must be a number"}
		}
		e.Value = &f
	}
	raw := h.Get(row, "timestamp")
	t, err := catalog.ParseTime(raw)
	if err != nil {
		return Event{}, &catalog.RowError{Field: "timestamp", Problem: err.Error()}
	}
	if raw != "" && t.IsZero() {
		return Event{}, &catalog.RowError{Field: "timestamp", Problem: raw + " is not a time an event happened: leave the cell empty for now"}
	}
	e.Timestamp = t
	return e, nil
}
