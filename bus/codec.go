package bus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
)

// The payload of each kind (JSON). A change is carried either whole
// (what Encode writes) or by reference, as the PostgreSQL outbox writes
// it (small rows; the replica reads the current records from the shared
// store, so a late or repeated change converges on what the store holds):
//
//	kind           whole                         by reference
//	items.upsert   [item, …]                     {"ids": ["id", …]}
//	items.delete   ["id", …]                     {"ids": ["id", …]}
//	users.upsert   [user, …]                     {"ids": ["id", …]}
//	users.delete   {"id": "u1", "removed": […]}  {"ids": ["u1"]}
//	events.append  [event, …] (with "seq")       {"first_seq": 5, "last_seq": 9, "count": 5}
//	events.expire  —                             {"seqs": [1, 2, …]}
//	model.meta     {model metadata}              —
//
// Decode accepts a single object where an array is written above.

// itemsGetter is a store that reads many items in one query.
type itemsGetter interface {
	GetItems(ctx context.Context, ids []string) ([]catalog.Item, error)
}

// Reader reads the records a change refers to (store.Store is one).
type Reader interface {
	GetItem(ctx context.Context, id string) (catalog.Item, error)
	GetUser(ctx context.Context, id string) (catalog.User, error)
	ScanEvents(ctx context.Context, after uint64, fn func(events.Event) error) error
}

// rangeReader is a store that reads the events of a sequence range alone
// (ScanEvents reads a page past the range's end, to be cut there).
type rangeReader interface {
	ScanEventRange(ctx context.Context, first, last uint64, fn func(events.Event) error) error
}

// AppliedRanger is an Applier that can tell a range of event sequence
// numbers it has applied already (its own writes, an earlier delivery):
// the follower then skips such an "events.append" without reading it.
type AppliedRanger interface {
	AppliedRange(first, last uint64) bool
}

// appendedRange is the range of an "events.append" message by reference
// (ok false for any other message).
func appendedRange(m Message) (first, last uint64, ok bool) {
	if m.Kind != engine.KindEventsAppend || !isObject(m.Payload) {
		return 0, 0, false
	}
	var r refs
	if json.Unmarshal(m.Payload, &r) != nil || r.FirstSeq == 0 || r.LastSeq < r.FirstSeq {
		return 0, 0, false
	}
	return r.FirstSeq, r.LastSeq, true
}

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
	case engine.KindEventsExpire:
		v = struct {
			Seqs []uint64 `json:"seqs"`
		}{c.Seqs}
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

// refs is the by-reference form of a payload.
type refs struct {
	IDs      *[]string `json:"ids"`
	FirstSeq uint64    `json:"first_seq"`
	LastSeq  uint64    `json:"last_seq"`
	Seqs     []uint64  `json:"seqs"`
}

func isObject(p []byte) bool {
	p = bytes.TrimSpace(p)
	return len(p) > 0 && p[0] == '{'
}

// Decode turns a message back into a change, reading the records a
// by-reference payload names from st (nil: such a payload is an error).
// A record gone from the store since (deleted by a later change, which
// follows in the feed) is left out.
func Decode(ctx context.Context, m Message, st Reader) (engine.Change, error) {
	c := engine.Change{Kind: m.Kind}
	var r refs
	byRef := false
	if isObject(m.Payload) && m.Kind != engine.KindModelMeta {
		if json.Unmarshal(m.Payload, &r) == nil && (r.IDs != nil || r.LastSeq != 0 || r.Seqs != nil) {
			byRef = true
		}
	}
	if byRef && st == nil && m.Kind != engine.KindItemsDelete && m.Kind != engine.KindUsersDelete && m.Kind != engine.KindEventsExpire {
		return c, fmt.Errorf("bus: message %d (%s) names records in the store, and this replica has no store to read them", m.ID, m.Kind)
	}
	var err error
	switch {
	case byRef:
		err = resolve(ctx, &c, r, st)
	case m.Kind == engine.KindItemsUpsert:
		c.Items, err = list[catalog.Item](m.Payload)
	case m.Kind == engine.KindItemsDelete:
		c.IDs, err = list[string](m.Payload)
	case m.Kind == engine.KindUsersUpsert:
		c.Users, err = list[catalog.User](m.Payload)
	case m.Kind == engine.KindUsersDelete:
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
	case m.Kind == engine.KindEventsAppend:
		c.Events, err = list[events.Event](m.Payload)
	case m.Kind == engine.KindModelMeta:
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

// errStop ends a scan early.
var errStop = errors.New("stop")

// resolve fills c from a by-reference payload.
func resolve(ctx context.Context, c *engine.Change, r refs, st Reader) error {
	var ids []string
	if r.IDs != nil {
		ids = *r.IDs
	}
	switch c.Kind {
	case engine.KindItemsDelete:
		c.IDs = ids
		if st == nil {
			break
		}
		// an item created again since (its upsert may have reached the
		// feed first, after a partial publish failure) stays: the store
		// decides
		var again []string
		for _, id := range ids {
			_, err := st.GetItem(ctx, id)
			switch {
			case err == nil:
				again = append(again, id)
			case !errors.Is(err, store.ErrNotFound):
				return fmt.Errorf("read item %q: %w", id, err)
			}
		}
		if len(again) > 0 {
			c.IDs = slices.DeleteFunc(c.IDs, func(id string) bool { return slices.Contains(again, id) })
		}
	case engine.KindUsersDelete:
		if len(ids) == 0 {
			return fmt.Errorf("no user id")
		}
		c.IDs = ids
	case engine.KindItemsUpsert:
		if g, ok := st.(itemsGetter); ok { // one query
			its, err := g.GetItems(ctx, ids)
			if err != nil {
				return fmt.Errorf("read %d items: %w", len(ids), err)
			}
			c.Items = its
			break
		}
		for _, id := range ids {
			it, err := st.GetItem(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("read item %q: %w", id, err)
			}
			c.Items = append(c.Items, it)
		}
	case engine.KindUsersUpsert:
		for _, id := range ids {
			u, err := st.GetUser(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("read user %q: %w", id, err)
			}
			c.Users = append(c.Users, u)
		}
	case engine.KindEventsAppend:
		if r.FirstSeq == 0 || r.LastSeq < r.FirstSeq {
			return fmt.Errorf("bad sequence range %d–%d", r.FirstSeq, r.LastSeq)
		}
		if rr, ok := st.(rangeReader); ok { // just the range, not a page after it
			err := rr.ScanEventRange(ctx, r.FirstSeq, r.LastSeq, func(e events.Event) error {
				c.Events = append(c.Events, e)
				return nil
			})
			if err != nil {
				return fmt.Errorf("read events %d–%d: %w", r.FirstSeq, r.LastSeq, err)
			}
			break
		}
		err := st.ScanEvents(ctx, r.FirstSeq-1, func(e events.Event) error {
			if e.Seq > r.LastSeq {
				return errStop
			}
			c.Events = append(c.Events, e)
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			return fmt.Errorf("read events %d–%d: %w", r.FirstSeq, r.LastSeq, err)
		}
	case engine.KindEventsExpire:
		c.Seqs = r.Seqs
	default:
		return fmt.Errorf("kind %s has no by-reference form", c.Kind)
	}
	return nil
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
