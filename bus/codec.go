package bus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
)

// The payload of each kind (JSON), as the outbox writes it:
//
//	items.upsert   [item, …]                 (the REST item format)
//	items.delete   ["id", …]  or {"ids": ["id", …]}
//	users.upsert   [user, …]
//	users.delete   {"id": "u1", "removed": [event, …]}  ("removed" optional) or "u1"
//	events.append  [event, …]                (each with its store "seq")
//	model.meta     {model metadata}          (as GET /api/models lists it)
//
// Decode accepts a single object where an array is written above.

// Encode turns a change into a message (ID and At are the caller's).
func Encode(c engine.Change) (Message, error) {
	var v any
	switch c.Kind {
	case engine.KindItemsUpsert:
		v = c.Items
	case engine.KindItemsDelete:
		v = c.IDs
	case engine.KindUsersUpsert:
		v = c.Users
	case engine.KindUsersDelete:
		v = userDelete{ID: c.UserID, Removed: c.Events}
	case engine.KindEventsAppend:
		v = c.Events
	case engine.KindModelMeta:
		v = c.Model
	default:
		return Message{}, fmt.Errorf("bus: encode: unknown change kind %q", c.Kind)
	}
	p, err := json.Marshal(v)
	if err != nil {
		return Message{}, fmt.Errorf("bus: encode %s: %w", c.Kind, err)
	}
	return Message{Shop: "default", Kind: c.Kind, Payload: p, At: time.Now().UTC()}, nil
}

type userDelete struct {
	ID      string         `json:"id"`
	Removed []events.Event `json:"removed,omitempty"`
}

// Decode turns a message back into a change.
func Decode(m Message) (engine.Change, error) {
	c := engine.Change{Kind: m.Kind}
	var err error
	switch m.Kind {
	case engine.KindItemsUpsert:
		c.Items, err = list[catalog.Item](m.Payload)
	case engine.KindItemsDelete:
		var w struct {
			IDs []string `json:"ids"`
		}
		if p := bytes.TrimSpace(m.Payload); len(p) > 0 && p[0] == '{' {
			err = json.Unmarshal(p, &w)
			c.IDs = w.IDs
		} else {
			c.IDs, err = list[string](m.Payload)
		}
	case engine.KindUsersUpsert:
		c.Users, err = list[catalog.User](m.Payload)
	case engine.KindUsersDelete:
		var u userDelete
		if p := bytes.TrimSpace(m.Payload); len(p) > 0 && p[0] == '"' {
			err = json.Unmarshal(p, &u.ID)
		} else {
			err = json.Unmarshal(p, &u)
		}
		c.UserID, c.Events = u.ID, u.Removed
		if err == nil && u.ID == "" {
			err = fmt.Errorf("no user id")
		}
	case engine.KindEventsAppend:
		c.Events, err = list[events.Event](m.Payload)
	case engine.KindModelMeta:
		var meta store.ModelMeta
		err = json.Unmarshal(m.Payload, &meta)
		c.Model = &meta
	default:
		return c, fmt.Errorf("bus: message %d: unknown change kind %q (is this replica older than the writer? upgrade it)", m.ID, m.Kind)
	}
	if err != nil {
		return c, fmt.Errorf("bus: message %d (%s): bad payload: %w", m.ID, m.Kind, err)
	}
	return c, nil
}

// list decodes a JSON array of T, or one T.
func list[T any](p []byte) ([]T, error) {
	p = bytes.TrimSpace(p)
	if len(p) > 0 && p[0] == '[' {
		var out []T
		err := json.Unmarshal(p, &out)
		return out, err
	}
	var one T
	if err := json.Unmarshal(p, &one); err != nil {
		return nil, err
	}
	return []T{one}, nil
}
