package events

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aisle-dev/aisle/catalog"
)

// MaxQueryLen bounds the length of a search query.
const MaxQueryLen = 1024

var typeName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// Types is the set of event types an Aisle instance accepts: the built-in
// ones plus those declared in config.
type Types struct {
	known map[Type]bool
}

// NewTypes returns the built-in types plus custom ones. Custom names are
// lower-case letters, digits and underscores.
func NewTypes(custom ...string) (*Types, error) {
	t := &Types{known: map[Type]bool{}}
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

// Validate checks one event against the known types and fills defaults
// (timestamp = now when zero). It calls add for every problem found. It does
// not check that the item exists: that needs the catalogue.
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
	} else if !utf8.ValidString(e.Query) {
		add("query", "is not valid UTF-8")
	}
	if e.SessionID != "" {
		if p := catalog.CheckID(e.SessionID); p != "" {
			add("session_id", p)
		}
	}
	if e.Value != nil {
		if v := *e.Value; math.IsNaN(v) || math.IsInf(v, 0) {
			add("value", "must be a finite number")
		}
	} else if e.Type == Rating {
		add("value", "is required for rating events (the rating)")
	}
	if e.Seq != 0 {
		add("seq", "is assigned by the server: leave it out")
	}
	if e.Timestamp.IsZero() {
		e.Timestamp = now.UTC()
	}
}

// UnmarshalJSON decodes an event strictly: unknown fields are errors.
func (e *Event) UnmarshalJSON(data []byte) error {
	type plain Event
	var p plain
	if err := catalog.StrictDecode(data, &p); err != nil {
		return err
	}
	*e = Event(p)
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
	t, err := catalog.ParseTime(h.Get(row, "timestamp"))
	if err != nil {
		return Event{}, &catalog.RowError{Field: "timestamp", Problem: err.Error()}
	}
	e.Timestamp = t
	return e, nil
}
