package store

import (
	"context"
	"crypto/sha256"
	"io"
	"time"

	"github.com/aisle-dev/aisle/events"
)

// ForgetReceipt is what a store keeps of a forgotten user: counts and a
// time, never their id, events or queries. It is keyed by UserHash.
type ForgetReceipt struct {
	DeletedAt time.Time `json:"deleted_at"`
	// Profile is whether a user record was removed.
	Profile bool `json:"profile"`
	// Events is how many events were removed, ByType per event type.
	Events int            `json:"events"`
	ByType map[string]int `json:"by_type,omitempty"`
	// SearchLogEntries is how many of those events were searches (the
	// search log).
	SearchLogEntries int `json:"search_log_entries"`
}

// UserHash is the key a forgotten user is remembered under: the SHA-256 of
// their id, so a store of receipts names nobody in clear.
func UserHash(id string) [32]byte { return sha256.Sum256([]byte(id)) }

// Forgetter is implemented by stores that can forget a user completely
// and say so later.
type Forgetter interface {
	// ForgetUser removes the user record and every event of theirs, like
	// DeleteUser, and in the same transaction stores a ForgetReceipt. It
	// returns the removed events (oldest first), so that in-memory
	// aggregates can subtract them. ErrNotFound when neither exists.
	ForgetUser(ctx context.Context, id string, at time.Time) ([]events.Event, ForgetReceipt, error)
	// ForgetReceipt returns the receipt of a forgotten user (ErrNotFound
	// when none).
	ForgetReceipt(ctx context.Context, id string) (ForgetReceipt, error)
	// ForgottenUsers returns when each forgotten user was forgotten, by
	// UserHash.
	ForgottenUsers(ctx context.Context) (map[[32]byte]time.Time, error)
}

// ModelRewriter is implemented by stores that can replace a stored model
// version's bytes (to scrub forgotten users' ids out of artefacts).
type ModelRewriter interface {
	RewriteModel(ctx context.Context, name string, version int, blob []byte) error
}

// UserEventScanner streams one user's events.
type UserEventScanner interface {
	// ScanUserEvents calls fn for each of the user's events, oldest first,
	// without loading them all in memory.
	ScanUserEvents(ctx context.Context, id string, fn func(events.Event) error) error
}

// CompactReport describes one compaction of the data file.
type CompactReport struct {
	At          time.Time     `json:"at"`
	BytesBefore int64         `json:"bytes_before"`
	BytesAfter  int64         `json:"bytes_after"`
	Took        time.Duration `json:"took_ns"`
}

// Compactor is implemented by stores whose deleted bytes stay on disk
// until they are rewritten.
type Compactor interface {
	// Compact rewrites the data so that no deleted record's bytes remain
	// in the store's files. Requests wait while it runs.
	Compact(ctx context.Context) (CompactReport, error)
	// CompactedAt is when the last compaction finished (zero when never).
	CompactedAt(ctx context.Context) (time.Time, error)
}

// Snapshotter writes a consistent copy of the whole store while it serves.
type Snapshotter interface {
	// WriteSnapshot writes the store as one file that Open can read, as of
	// one moment (writes after it are not in it). It returns the bytes
	// written.
	WriteSnapshot(ctx context.Context, w io.Writer) (int64, error)
}

// ExpireBatch is the outcome of one step of retention.
type ExpireBatch struct {
	// Next is the sequence number to continue after; Last the newest
	// sequence number when the step ran.
	Next, Last uint64
	Scanned    int
	Deleted    int
	ByType     map[string]int
	Done       bool // no event follows Next
}

// Expirer is implemented by stores that can delete old events in small
// steps.
type Expirer interface {
	// ExpireEvents looks at up to limit events after sequence number after
	// and deletes those older than the cutoff of their type (types without
	// a cutoff are kept), in one transaction.
	ExpireEvents(ctx context.Context, cutoffs map[events.Type]time.Time, after uint64, limit int) (ExpireBatch, error)
}
