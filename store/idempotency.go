package store

import (
	"context"
	"errors"
	"time"

	"github.com/aisle-dev/aisle/events"
)

// DefaultIdempotencyTTL is how long a batch's idempotency key is
// remembered: a client retry within it is answered from the stored receipt
// instead of appending the events again.
const DefaultIdempotencyTTL = 24 * time.Hour

// MaxIdempotencyKeyLen bounds an idempotency key.
const MaxIdempotencyKeyLen = 255

// ErrIdempotencyConflict is returned when a key is reused for a batch with
// a different body.
var ErrIdempotencyConflict = errors.New("idempotency key reused for a different batch")

// Receipt is what is remembered of a batch stored under an idempotency key.
type Receipt struct {
	// BodyHash is the SHA-256 of the request body, so that a key reused for
	// a different batch is refused rather than silently answered.
	BodyHash [32]byte  `json:"body_hash"`
	Accepted int       `json:"accepted"`
	FirstSeq uint64    `json:"first_seq"`
	At       time.Time `json:"at"`
}

// IdempotentEventLog is implemented by event logs that deduplicate client
// retries of a batch.
type IdempotentEventLog interface {
	// AppendEventsOnce appends evs like AppendEvents and remembers key with
	// the batch's receipt, in the same transaction. When key was stored less
	// than ttl before now it appends nothing and returns the stored receipt
	// with replay true; when that receipt's BodyHash differs from bodyHash
	// it returns an error wrapping ErrIdempotencyConflict.
	AppendEventsOnce(ctx context.Context, key string, bodyHash [32]byte, evs []events.Event, now time.Time, ttl time.Duration) (rc Receipt, replay bool, err error)
}

// OncePart is one keyed batch of a request carrying several
// (AppendEventsOnceBatch).
type OncePart struct {
	Key      string
	BodyHash [32]byte
	Events   []events.Event
}

// OnceResult is what became of one OncePart: its receipt, whether it was
// answered from its key (Replay), or Err (wrapping ErrIdempotencyConflict
// for a key used for another body, or saying why the part cannot be
// stored). The other parts do not depend on it.
type OnceResult struct {
	Receipt Receipt
	Replay  bool
	Err     error
}

// BatchIdempotentEventLog is implemented by event logs that store several
// keyed batches in one request: the events of every part whose key is new
// are stored in one durable commit, the parts whose key is taken (before
// or during the request) store nothing and are answered from the key.
type BatchIdempotentEventLog interface {
	// AppendEventsOnceBatch is AppendEventsOnce for each part, in one
	// request. Parts fail alone (OnceResult.Err); err is a failure of the
	// whole request (nothing of it was stored, or it is unknown whether
	// it was, as with any commit whose answer is lost).
	AppendEventsOnceBatch(ctx context.Context, parts []OncePart, now time.Time, ttl time.Duration) ([]OnceResult, error)
}
