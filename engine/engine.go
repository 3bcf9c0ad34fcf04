// Package engine is the ingestion core of Aisle: it validates and stores
// the shop's items, users and events, and tells the parts that learn from
// them (search index, recommenders) about every change. The HTTP layer
// (package api) only translates to calls on an Engine; the root package
// aisle assembles an Engine with everything else.
//
// Despite the name, engine is the write side only: it answers no query.
// Searching is package search, recommending package recommend, training
// the recommendation models package pipeline, and the search ranker
// package search/ranking.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
)

// Listener is told about every accepted change, after it is durable. The
// search index and the recommenders are listeners. Calls for one change are
// made in order; listeners must not block for long.
type Listener interface {
	ItemsUpserted(items []catalog.Item)
	ItemsDeleted(ids []string)
	EventsAppended(evs []events.Event)
	UserDeleted(id string)
}

// Options configure an Engine.
type Options struct {
	Store  store.Store
	Types  *events.Types // accepted event types; nil means the built-in ones
	Logger *slog.Logger  // nil means discard
	Now    func() time.Time
	// AcceptUnknownItems lets events name items not in the catalogue (by
	// default such a batch is rejected, so typos do not create phantom items).
	AcceptUnknownItems bool
}

// Engine validates, stores and distributes the shop's data.
type Engine struct {
	st          store.Store
	types       *events.Types
	log         *slog.Logger
	now         func() time.Time
	acceptItems bool

	mu        sync.RWMutex
	listeners []Listener

	privOnce sync.Once
	priv     *privacyState // see privacy.go

	applied seqWindow // events told to listeners, by Seq (see apply.go)
}

// New returns an Engine over opts.Store.
func New(opts Options) (*Engine, error) {
	if opts.Store == nil {
		return nil, errors.New("engine: no store")
	}
	e := &Engine{st: opts.Store, types: opts.Types, log: opts.Logger, now: opts.Now, acceptItems: opts.AcceptUnknownItems}
	if e.types == nil {
		t, err := events.NewTypes()
		if err != nil {
			return nil, err
		}
		e.types = t
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	return e, nil
}

// Store returns the engine's store.
func (e *Engine) Store() store.Store { return e.st }

// Types returns the accepted event types.
func (e *Engine) Types() *events.Types { return e.types }

// Subscribe adds a listener for changes.
func (e *Engine) Subscribe(l Listener) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.listeners = append(e.listeners, l)
}

func (e *Engine) each(fn func(Listener)) {
	e.mu.RLock()
	ls := e.listeners
	e.mu.RUnlock()
	for _, l := range ls {
		fn(l)
	}
}

// problems collects validation problems of a batch.
type problems struct {
	what string
	list []catalog.Problem
}

func (p *problems) at(i int) func(field, problem string) {
	return func(field, problem string) {
		p.list = append(p.list, catalog.Problem{Index: i, Field: field, Problem: problem})
	}
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &catalog.BatchError{What: p.what, Problems: p.list}
}

// ValidateItems checks a batch of items (filling defaults) without storing it.
func (e *Engine) ValidateItems(items []catalog.Item) error {
	now := e.now()
	p := &problems{what: "items"}
	seen := make(map[string]int, len(items))
	for i := range items {
		items[i].Validate(now, p.at(i))
		if j, dup := seen[items[i].ID]; dup && items[i].ID != "" {
			p.at(i)("id", fmt.Sprintf("duplicate id %q in this batch (also at index %d)", items[i].ID, j))
		}
		seen[items[i].ID] = i
	}
	return p.err()
}

// AddItems validates a batch of items and, only if all are valid, stores
// them (inserting or replacing by id) atomically and durably.
func (e *Engine) AddItems(ctx context.Context, items []catalog.Item) error {
	if err := e.ValidateItems(items); err != nil {
		return err
	}
	if err := e.st.PutItems(ctx, items); err != nil {
		return fmt.Errorf("store items: %w", err)
	}
	e.each(func(l Listener) { l.ItemsUpserted(items) })
	return nil
}

// GetItem returns one item (store.ErrNotFound when missing).
func (e *Engine) GetItem(ctx context.Context, id string) (catalog.Item, error) {
	return e.st.GetItem(ctx, id)
}

// PatchItem applies a JSON merge patch (RFC 7386) to an item: the fields
// present replace the stored ones, null clears a field. The id cannot change.
func (e *Engine) PatchItem(ctx context.Context, id string, patch []byte) (catalog.Item, error) {
	cur, err := e.st.GetItem(ctx, id)
	if err != nil {
		return catalog.Item{}, err
	}
	next, err := catalog.MergePatch(cur, patch)
	if err != nil {
		return catalog.Item{}, err
	}
	if next.ID != id {
		return catalog.Item{}, &catalog.BatchError{What: "item", Problems: []catalog.Problem{{Field: "id", Problem: "cannot be changed by PATCH"}}}
	}
	batch := []catalog.Item{next}
	if err := e.AddItems(ctx, batch); err != nil {
		return catalog.Item{}, err
	}
	return batch[0], nil
}

// DeleteItem removes an item from the catalogue; it disappears from search
// and recommendations at once. Its past events are kept.
func (e *Engine) DeleteItem(ctx context.Context, id string) error {
	if err := e.st.DeleteItem(ctx, id); err != nil {
		return err
	}
	e.each(func(l Listener) { l.ItemsDeleted([]string{id}) })
	return nil
}

// ListItems returns one page of items.
func (e *Engine) ListItems(ctx context.Context, cursor string, limit int) ([]catalog.Item, string, error) {
	return e.st.ListItems(ctx, cursor, limit)
}

// AddUsers validates a batch of users and stores all of them, or none.
func (e *Engine) AddUsers(ctx context.Context, users []catalog.User) error {
	now := e.now()
	p := &problems{what: "users"}
	seen := make(map[string]int, len(users))
	for i := range users {
		users[i].Validate(now, p.at(i))
		if j, dup := seen[users[i].ID]; dup && users[i].ID != "" {
			p.at(i)("id", fmt.Sprintf("duplicate id %q in this batch (also at index %d)", users[i].ID, j))
		}
		seen[users[i].ID] = i
	}
	if err := p.err(); err != nil {
		return err
	}
	if err := e.st.PutUsers(ctx, users); err != nil {
		return fmt.Errorf("store users: %w", err)
	}
	e.usersUpserted(users)
	return nil
}

// GetUser returns one user.
func (e *Engine) GetUser(ctx context.Context, id string) (catalog.User, error) {
	return e.st.GetUser(ctx, id)
}

// DeleteUser forgets a user and all of their events, everywhere (see
// ForgetUser).
func (e *Engine) DeleteUser(ctx context.Context, id string) error {
	_, err := e.ForgetUser(ctx, id)
	return err
}

// ListUsers returns one page of users.
func (e *Engine) ListUsers(ctx context.Context, cursor string, limit int) ([]catalog.User, string, error) {
	return e.st.ListUsers(ctx, cursor, limit)
}

// ValidateEvents checks a batch of events (filling defaults), including that
// every named item exists unless unknown items are accepted.
func (e *Engine) ValidateEvents(ctx context.Context, evs []events.Event) error {
	now := e.now()
	p := &problems{what: "events"}
	for i := range evs {
		evs[i].Validate(e.types, now, p.at(i))
	}
	if len(p.list) == 0 && !e.acceptItems {
		known := map[string]bool{}
		for i := range evs {
			id := evs[i].ItemID
			if id == "" {
				continue
			}
			ok, seen := known[id]
			if !seen {
				_, err := e.st.GetItem(ctx, id)
				switch {
				case err == nil:
					ok = true
				case errors.Is(err, store.ErrNotFound):
				default:
					return fmt.Errorf("look up item %q: %w", id, err)
				}
				known[id] = ok
			}
			if !ok {
				p.at(i)("item_id", fmt.Sprintf("unknown item %q: add it with POST /api/items first", id))
			}
		}
	}
	return p.err()
}

// AddEvents validates a batch of events and stores all of them, or none.
func (e *Engine) AddEvents(ctx context.Context, evs []events.Event) error {
	if err := e.ValidateEvents(ctx, evs); err != nil {
		return err
	}
	if err := e.st.AppendEvents(ctx, evs); err != nil {
		return fmt.Errorf("store events: %w", err)
	}
	e.eventsAppended(evs)
	return nil
}

// UserEvents returns a user's most recent events, newest first.
func (e *Engine) UserEvents(ctx context.Context, userID string, limit int) ([]events.Event, error) {
	return e.st.UserEvents(ctx, userID, limit)
}

// Counts is a summary of what is stored.
type Counts struct {
	Items  int `json:"items"`
	Users  int `json:"users"`
	Events int `json:"events"`
}

// Counts returns how many items, users and events are stored.
func (e *Engine) Counts(ctx context.Context) (Counts, error) {
	var c Counts
	var err error
	if c.Items, err = e.st.CountItems(ctx); err != nil {
		return c, err
	}
	if c.Users, err = e.st.CountUsers(ctx); err != nil {
		return c, err
	}
	c.Events, err = e.st.CountEvents(ctx)
	return c, err
}

// Rejected is a record a partial import left out, with why.
type Rejected = catalog.Problem

// AddItemsPartial stores the valid items of a batch and returns the
// problems of the others (Index is the position in items). Used by bulk
// import, where one bad row must not stop a million good ones.
func (e *Engine) AddItemsPartial(ctx context.Context, items []catalog.Item) ([]Rejected, error) {
	now := e.now()
	var bad []Rejected
	good := items[:0:0]
	for i := range items {
		n := len(bad)
		items[i].Validate(now, func(f, p string) { bad = append(bad, Rejected{Index: i, Field: f, Problem: p}) })
		if len(bad) == n {
			good = append(good, items[i])
		}
	}
	if len(good) == 0 {
		return bad, nil
	}
	if err := e.st.PutItems(ctx, good); err != nil {
		return bad, fmt.Errorf("store items: %w", err)
	}
	e.each(func(l Listener) { l.ItemsUpserted(good) })
	return bad, nil
}

// AddUsersPartial stores the valid users of a batch and returns the
// problems of the others.
func (e *Engine) AddUsersPartial(ctx context.Context, users []catalog.User) ([]Rejected, error) {
	now := e.now()
	var bad []Rejected
	good := users[:0:0]
	for i := range users {
		n := len(bad)
		users[i].Validate(now, func(f, p string) { bad = append(bad, Rejected{Index: i, Field: f, Problem: p}) })
		if len(bad) == n {
			good = append(good, users[i])
		}
	}
	if len(good) == 0 {
		return bad, nil
	}
	if err := e.st.PutUsers(ctx, good); err != nil {
		return bad, fmt.Errorf("store users: %w", err)
	}
	e.usersUpserted(good)
	return bad, nil
}

// AddEventsPartial stores the valid events of a batch and returns the
// problems of the others. knownItem, when not nil, answers whether an item
// exists (bulk import passes an in-memory set instead of store look-ups).
func (e *Engine) AddEventsPartial(ctx context.Context, evs []events.Event, knownItem func(string) bool) ([]Rejected, error) {
	now := e.now()
	var bad []Rejected
	good := evs[:0:0]
	for i := range evs {
		n := len(bad)
		add := func(f, p string) { bad = append(bad, Rejected{Index: i, Field: f, Problem: p}) }
		evs[i].Validate(e.types, now, add)
		if len(bad) == n && evs[i].ItemID != "" && !e.acceptItems {
			ok := false
			if knownItem != nil {
				ok = knownItem(evs[i].ItemID)
			} else if _, err := e.st.GetItem(ctx, evs[i].ItemID); err == nil {
				ok = true
			}
			if !ok {
				add("item_id", fmt.Sprintf("unknown item %q: import items first", evs[i].ItemID))
			}
		}
		if len(bad) == n {
			good = append(good, evs[i])
		}
	}
	if len(good) == 0 {
		return bad, nil
	}
	if err := e.st.AppendEvents(ctx, good); err != nil {
		return bad, fmt.Errorf("store events: %w", err)
	}
	e.eventsAppended(good)
	return bad, nil
}
