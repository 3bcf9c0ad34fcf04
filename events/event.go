// Package events holds behaviour events (views, clicks, purchases, ratings,
// searches): their type, validation and the decoders that read them from
// outside input. Events are append-only facts.
package events

import "time"

// Type is the kind of behaviour an event records.
type Type string

// The built-in event types. Shops may declare more in config.
const (
	View      Type = "view"
	Click     Type = "click"
	AddToCart Type = "add_to_cart"
	Purchase  Type = "purchase"
	Rating    Type = "rating"
	Search    Type = "search"
)

// BuiltinTypes lists the event types every Aisle instance understands.
var BuiltinTypes = []Type{View, Click, AddToCart, Purchase, Rating, Search}

// Event is one thing a user did.
type Event struct {
	// Seq is the position in the event log, assigned by the store; zero before storing.
	Seq       uint64   `json:"seq,omitempty"`
	UserID    string   `json:"user_id"`
	ItemID    string   `json:"item_id,omitempty"` // empty for search events
	Type      Type     `json:"type"`
	Value     *float64 `json:"value,omitempty"` // rating or quantity
	Query     string   `json:"query,omitempty"` // for search events
	SessionID string   `json:"session_id,omitempty"`
	// RequestID, when set, is the request_id of the answer the event
	// followed (a click on a recommendation): it attributes the event to
	// that answer, its surface and its experiment variant (issue 15).
	RequestID string `json:"request_id,omitempty"`
	// Position is where the item stood in that answer, 1 for the first
	// (0: not given).
	Position  int       `json:"position,omitempty"`
	Timestamp time.Time `json:"timestamp,omitzero"` // zero: now when stored (an explicit zero time is refused, so it is left out)
}
