// Package bus is Aisle's change feed: every change committed to the shared
// store is published once, in commit order, and every replica applies it
// to its in-memory parts (search index, recommenders, click model) through
// engine.Apply. The embedded default is an in-process Bus (Memory), which
// changes nothing about a single server; a cluster uses NATS JetStream
// (package bus/natsbus).
//
// The pieces: a Relay moves committed changes from the store's outbox
// (OutboxSource) to the Bus and trims the outbox only after the Bus has
// acknowledged them; a Follower subscribes a replica from a position and
// applies what arrives, catching up (from the feed, else by reloading
// from the store) before the replica reports ready. docs/cluster.md
// states the ordering and delivery guarantees.
package bus

import (
	"context"
	"errors"
	"time"
)

// Message is one committed change. ID is its outbox id: publishing the
// same ID twice stores it once (the de-duplication key), so a relay that
// crashed after publishing and before trimming may publish it again.
type Message struct {
	ID      int64
	Shop    string // "default" for the one shop of today
	Kind    string // an engine.Kind… constant
	Payload []byte // JSON, see Encode
	At      time.Time
}

// Delivery is a Message as the feed holds it, at position Seq (1, 2, …,
// increasing in publish order).
type Delivery struct {
	Message
	Seq uint64
}

// ErrTrimmed is returned by Subscribe when the feed no longer holds the
// position asked for: the subscriber must reload from the store.
var ErrTrimmed = errors.New("bus: the position asked for was trimmed from the feed")

// Bus is a durable, ordered change feed.
type Bus interface {
	// Publish stores msgs in the feed in order and returns once all are
	// durable there; a Message whose ID was published recently (within
	// the de-duplication window) is stored once.
	Publish(ctx context.Context, msgs ...Message) error
	// Bounds returns the first and last positions the feed holds (first
	// = last+1 when it is empty).
	Bounds(ctx context.Context) (first, last uint64, err error)
	// Subscribe calls fn for every message at position ≥ from, in order,
	// then for every new one, until ctx ends (nil) or fn fails (its
	// error). ErrTrimmed when from is older than the feed holds.
	Subscribe(ctx context.Context, from uint64, fn func(Delivery) error) error
}
