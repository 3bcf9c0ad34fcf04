package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
)

// Forgetter is a listener that holds per-user data derived from events
// (counts, profiles, suggestions, model state). After a user is forgotten
// it is given the events that were removed, so it can subtract exactly
// what they contributed; it returns what it removed, by name → count, for
// the user's forget report.
type Forgetter interface {
	UserForgotten(id string, removed []events.Event) map[string]int
}

// ForgetPending is a listener that can say what of a forgotten user's
// data it has not removed yet (for instance model versions trained before
// the deletion, pending retraining).
type ForgetPending interface {
	ForgetPending(id string, deletedAt time.Time) []Pending
}

// UsersListener is a listener told about stored user records (for
// attributes such as consent).
type UsersListener interface {
	UsersUpserted(users []catalog.User)
}

// Pending is one part of forgetting a user that is not done yet.
type Pending struct {
	What   string     `json:"what"`
	Detail string     `json:"detail"`
	DueBy  *time.Time `json:"due_by,omitempty"`
}

// ForgetReport says what was removed about a user and what is pending.
type ForgetReport struct {
	User string `json:"user"`
	// Store is what the store removed, kept across restarts (counts only).
	Store store.ForgetReceipt `json:"store"`
	// InMemory is what this server process removed from its in-memory
	// structures at the deletion (empty after a restart: those structures
	// are then rebuilt from a store that no longer holds the user).
	InMemory map[string]int `json:"in_memory,omitempty"`
	// CompactedAt is when the data file was last rewritten without freed
	// pages; the user's bytes are gone from disk once it follows DeletedAt.
	CompactedAt *time.Time `json:"compacted_at,omitempty"`
	Pending     []Pending  `json:"pending"`
	Complete    bool       `json:"complete"`
}

// DefaultCompactAfter is how long after a deletion the data file is
// compacted at the latest (deletions within it share one compaction).
const DefaultCompactAfter = time.Minute

// privacyState is the engine's memory of recent forgets and the
// retention job's progress.
type privacyState struct {
	mu           sync.Mutex
	inMemory     map[[32]byte]map[string]int
	compactAfter time.Duration
	retention    RetentionStatus
	compactReq   chan struct{}
	rebuild      rebuildState
	lastCompact  *store.CompactReport
	compactErr   string
}

const maxRememberedForgets = 10000

// ForgetUser removes a user everywhere: the store (record, events and
// search log, in one transaction, with a receipt), then every listener's
// in-memory state at once. The freed bytes leave the disk at the next
// compaction (see RunPrivacyJobs). ErrNotFound (from the store) when the
// user is unknown.
func (e *Engine) ForgetUser(ctx context.Context, id string) (ForgetReport, error) {
	f, ok := e.st.(store.Forgetter)
	if !ok {
		if err := e.st.DeleteUser(ctx, id); err != nil {
			return ForgetReport{}, err
		}
		e.each(func(l Listener) { l.UserDeleted(id) })
		return ForgetReport{User: id, Store: store.ForgetReceipt{DeletedAt: e.now().UTC()}}, nil
	}
	removed, rc, err := f.ForgetUser(ctx, id, e.now())
	if err != nil {
		return ForgetReport{}, err
	}
	mem := map[string]int{}
	e.each(func(l Listener) {
		l.UserDeleted(id)
		if fl, ok := l.(Forgetter); ok {
			for k, v := range fl.UserForgotten(id, removed) {
				mem[k] += v
			}
		}
	})
	ps := e.privacy()
	ps.mu.Lock()
	if len(ps.inMemory) >= maxRememberedForgets {
		for k := range ps.inMemory {
			delete(ps.inMemory, k)
			break
		}
	}
	ps.inMemory[store.UserHash(id)] = mem
	ps.mu.Unlock()
	e.requestCompaction()
	e.scheduleRebuild()
	e.log.Info("user forgotten", "events", rc.Events, "search_log_entries", rc.SearchLogEntries)
	return e.Forgotten(ctx, id)
}

func (e *Engine) privacy() *privacyState {
	e.privOnce.Do(func() {
		e.priv = &privacyState{inMemory: map[[32]byte]map[string]int{}, compactAfter: DefaultCompactAfter, compactReq: make(chan struct{}, 1)}
	})
	return e.priv
}

// Forgotten reports what was removed about a forgotten user and what is
// still pending. ErrNotFound when the store has no record of forgetting
// them.
func (e *Engine) Forgotten(ctx context.Context, id string) (ForgetReport, error) {
	f, ok := e.st.(store.Forgetter)
	if !ok {
		return ForgetReport{}, errors.New("this store keeps no record of forgotten users")
	}
	rc, err := f.ForgetReceipt(ctx, id)
	if err != nil {
		return ForgetReport{}, err
	}
	rep := ForgetReport{User: id, Store: rc, Pending: []Pending{}}
	ps := e.privacy()
	ps.mu.Lock()
	rep.InMemory = ps.inMemory[store.UserHash(id)]
	after := ps.compactAfter
	ps.mu.Unlock()
	if c, ok := e.st.(store.Compactor); ok {
		at, err := c.CompactedAt(ctx)
		if err != nil {
			return rep, fmt.Errorf("read the last compaction time: %w", err)
		}
		if !at.IsZero() {
			rep.CompactedAt = &at
		}
		if !at.After(rc.DeletedAt) {
			due := rc.DeletedAt.Add(after)
			rep.Pending = append(rep.Pending, Pending{What: "compaction",
				Detail: "the data file still holds the freed pages with the user's bytes until it is rewritten", DueBy: &due})
		}
	}
	if e.rebuildPending(rc.DeletedAt) {
		rep.Pending = append(rep.Pending, Pending{What: "relearning",
			Detail: "the search click model is being relearnt from the log without the user; until then it may still weigh their clicks"})
	}
	e.each(func(l Listener) {
		if fp, ok := l.(ForgetPending); ok {
			rep.Pending = append(rep.Pending, fp.ForgetPending(id, rc.DeletedAt)...)
		}
	})
	rep.Complete = len(rep.Pending) == 0
	return rep, nil
}

// ExportUser streams everything stored about a user: the user record
// (kind "user"), then every event oldest first (kind "event"; searches
// are the search log, kind "search"), then the receipt of a past
// forgetting (kind "forgotten"), each through emit. It reads the events
// from the store in one pass, never all in memory. ErrNotFound when
// nothing is stored about the user.
func (e *Engine) ExportUser(ctx context.Context, id string, emit func(kind string, v any) error) error {
	found := false
	u, err := e.st.GetUser(ctx, id)
	switch {
	case err == nil:
		found = true
		if err := emit("user", u); err != nil {
			return err
		}
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("read user: %w", err)
	}
	each := func(ev events.Event) error {
		found = true
		kind := "event"
		if ev.Type == events.Search {
			kind = "search"
		}
		return emit(kind, ev)
	}
	if sc, ok := e.st.(store.UserEventScanner); ok {
		if err := sc.ScanUserEvents(ctx, id, each); err != nil {
			return fmt.Errorf("read events: %w", err)
		}
	} else {
		evs, err := e.st.UserEvents(ctx, id, 0)
		if err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		for i := len(evs) - 1; i >= 0; i-- {
			if err := each(evs[i]); err != nil {
				return err
			}
		}
	}
	if f, ok := e.st.(store.Forgetter); ok {
		if rc, err := f.ForgetReceipt(ctx, id); err == nil {
			found = true
			if err := emit("forgotten", rc); err != nil {
				return err
			}
		}
	}
	if !found {
		return store.ErrNotFound
	}
	return nil
}

// sortedTypes returns the keys of m in order (for stable output).
func sortedTypes(m map[events.Type]time.Duration) []events.Type {
	out := make([]events.Type, 0, len(m))
	for t := range m {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
