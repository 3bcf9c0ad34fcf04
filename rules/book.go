package rules

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aisle-dev/aisle/store"
)

// Buckets of store.Merch the rules live in:
//
//	rules:         rule id → the latest version (JSON)
//	rule_versions: rule id, 0x00, version (8 decimal digits) → that version (JSON)
const (
	bucketRules    = "rules"
	bucketVersions = "rule_versions"
)

// ErrNotFound is returned for a rule id that does not exist.
var ErrNotFound = store.ErrNotFound

// Book holds a shop's rules: it stores every change as a new version and
// serves the current set from memory. Safe for concurrent use.
type Book struct {
	st  store.Merch
	now func() time.Time
	mu  sync.Mutex // serialises changes
	set atomic.Pointer[Set]
}

// Open loads the rules kept in st.
func Open(ctx context.Context, st store.Merch, now func() time.Time) (*Book, error) {
	if now == nil {
		now = time.Now
	}
	b := &Book{st: st, now: now}
	var rs []Rule
	err := st.MerchView(ctx, func(tx store.MerchTx) error {
		return tx.Scan(bucketRules, "", func(_ string, v []byte) error {
			var r Rule
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("stored rule: %w", err)
			}
			rs = append(rs, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load rules: %w", err)
	}
	b.set.Store(NewSet(rs))
	return b, nil
}

// Set is the current set of rules.
func (b *Book) Set() *Set { return b.set.Load() }

// List returns the current rules, in priority order.
func (b *Book) List() []Rule { return append([]Rule{}, b.Set().Rules()...) }

// Get returns the current version of a rule.
func (b *Book) Get(id string) (Rule, bool) {
	for _, r := range b.Set().Rules() {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// Save validates r and stores it as a new rule (empty ID: one is made) or
// as the next version of rule r.ID.
func (b *Book) Save(ctx context.Context, r Rule) (Rule, error) {
	if err := r.Validate(); err != nil {
		return Rule{}, &InvalidError{err}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.ID == "" {
		r.ID = NewID("rule")
	}
	r.UpdatedAt = b.now().UTC()
	r.Deleted = false
	err := b.st.MerchUpdate(ctx, func(tx store.MerchTx) error {
		v, err := nextVersion(tx, r.ID)
		if err != nil {
			return err
		}
		r.Version = v
		return putVersion(tx, r, true)
	})
	if err != nil {
		return Rule{}, fmt.Errorf("store rule %s: %w", r.ID, err)
	}
	b.replace(r.ID, &r)
	return r, nil
}

// Delete removes a rule; its history keeps a version marked deleted.
func (b *Book) Delete(ctx context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur, ok := b.Get(id)
	if !ok {
		return fmt.Errorf("rule %q: %w", id, ErrNotFound)
	}
	err := b.st.MerchUpdate(ctx, func(tx store.MerchTx) error {
		v, err := nextVersion(tx, id)
		if err != nil {
			return err
		}
		cur.Version, cur.Deleted, cur.UpdatedAt = v, true, b.now().UTC()
		if err := putVersion(tx, cur, false); err != nil {
			return err
		}
		return tx.Delete(bucketRules, id)
	})
	if err != nil {
		return fmt.Errorf("delete rule %s: %w", id, err)
	}
	b.replace(id, nil)
	return nil
}

// Versions returns every stored version of a rule, oldest first (also of
// a deleted rule).
func (b *Book) Versions(ctx context.Context, id string) ([]Rule, error) {
	var out []Rule
	err := b.st.MerchView(ctx, func(tx store.MerchTx) error {
		return tx.Scan(bucketVersions, id+"\x00", func(_ string, v []byte) error {
			var r Rule
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read versions of rule %s: %w", id, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("rule %q: %w", id, ErrNotFound)
	}
	return out, nil
}

func (b *Book) replace(id string, r *Rule) {
	var rs []Rule
	for _, old := range b.Set().Rules() {
		if old.ID != id {
			rs = append(rs, old)
		}
	}
	if r != nil {
		rs = append(rs, *r)
	}
	b.set.Store(NewSet(rs))
}

func versionKey(id string, v int) string { return fmt.Sprintf("%s\x00%08d", id, v) }

func nextVersion(tx store.MerchTx, id string) (int, error) {
	last := 0
	err := tx.Scan(bucketVersions, id+"\x00", func(k string, _ []byte) error {
		var v int
		if _, err := fmt.Sscanf(k[len(id)+1:], "%d", &v); err == nil && v > last {
			last = v
		}
		return nil
	})
	return last + 1, err
}

func putVersion(tx store.MerchTx, r Rule, current bool) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := tx.Put(bucketVersions, versionKey(r.ID, r.Version), data); err != nil {
		return err
	}
	if current {
		return tx.Put(bucketRules, r.ID, data)
	}
	return nil
}

// InvalidError is a rule (or campaign) a client sent that cannot be kept:
// the API answers it with a 400 naming each problem.
type InvalidError struct{ Err error }

func (e *InvalidError) Error() string { return "invalid: " + e.Err.Error() }
func (e *InvalidError) Unwrap() error { return e.Err }

// IsInvalid reports whether err is an *InvalidError.
func IsInvalid(err error) bool {
	var ie *InvalidError
	return errors.As(err, &ie)
}

// NewID returns a new random id with a prefix ("rule-3f9a…").
func NewID(prefix string) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("rules: crypto/rand failed: " + err.Error())
	}
	return prefix + "-" + hex.EncodeToString(b[:])
}
