// Package store defines where Aisle keeps its data — the catalogue, users,
// the event log and model artefacts — as small interfaces free of any
// engine-specific type, so that the embedded default (package
// store/boltstore) and a networked one (PostgreSQL, later) are
// interchangeable.
package store

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// ErrNotFound is returned when a record does not exist.
var ErrNotFound = errors.New("not found")

// ErrBadCursor is wrapped by listing errors caused by a malformed page cursor.
var ErrBadCursor = errors.New("invalid cursor")

// Catalog keeps items.
type Catalog interface {
	// PutItems inserts or replaces items atomically: all are stored, or none.
	// It returns only once the items are durable.
	PutItems(ctx context.Context, items []catalog.Item) error
	// GetItem returns one item or ErrNotFound.
	GetItem(ctx context.Context, id string) (catalog.Item, error)
	// DeleteItem removes an item; ErrNotFound when there was none.
	DeleteItem(ctx context.Context, id string) error
	// ListItems returns up to limit items with ids after cursor ("" = from the
	// start) in id order, and the cursor of the next page ("" at the end).
	ListItems(ctx context.Context, cursor string, limit int) ([]catalog.Item, string, error)
	// ScanItems calls fn for every item in id order, stopping at its first error.
	ScanItems(ctx context.Context, fn func(catalog.Item) error) error
	// CountItems returns the number of items.
	CountItems(ctx context.Context) (int, error)
}

// Users keeps users.
type Users interface {
	// PutUsers inserts or replaces users atomically and durably.
	PutUsers(ctx context.Context, users []catalog.User) error
	GetUser(ctx context.Context, id string) (catalog.User, error)
	// DeleteUser removes the user and every event of theirs, atomically
	// (the right to be forgotten). ErrNotFound when neither exists.
	DeleteUser(ctx context.Context, id string) error
	ListUsers(ctx context.Context, cursor string, limit int) ([]catalog.User, string, error)
	CountUsers(ctx context.Context) (int, error)
}

// EventLog keeps behaviour events, append-only.
type EventLog interface {
	// AppendEvents stores events atomically and durably, assigning each its
	// Seq (increasing), and creates users that do not exist yet.
	AppendEvents(ctx context.Context, evs []events.Event) error
	// UserEvents returns up to limit of a user's events, newest first.
	UserEvents(ctx context.Context, userID string, limit int) ([]events.Event, error)
	// ScanEvents calls fn for every event with Seq > after, in Seq order.
	ScanEvents(ctx context.Context, after uint64, fn func(events.Event) error) error
	// CountEvents returns the number of stored events.
	CountEvents(ctx context.Context) (int, error)
}

// ModelMeta describes one stored version of a trained model.
type ModelMeta struct {
	Name    string             `json:"name"`
	Version int                `json:"version"`
	Params  map[string]float64 `json:"params,omitempty"`
	// Adjusted are the query-time settings validation chose for this
	// version (a model.Adjustable's, e.g. itemfilter's recency and
	// ials_weight); absent when the fitted ones won or there are none.
	Adjusted  map[string]float64 `json:"adjusted,omitempty"`
	Metrics   map[string]float64 `json:"metrics,omitempty"`
	Users     int                `json:"users"`        // size of the data snapshot
	Items     int                `json:"items"`        //
	Events    int                `json:"interactions"` //
	CreatedAt time.Time          `json:"created_at"`
	TrainSecs float64            `json:"train_seconds"`
	// Status is one of the Status constants.
	Status ModelStatus `json:"status"`
	Note   string      `json:"note,omitempty"`
	Size   int64       `json:"size_bytes"`
	// LossCurve is the training loss after each epoch of the final fit
	// (iterative models only).
	LossCurve []float64 `json:"loss_curve,omitempty"`
	// DataAt is when the training data began to be read: a user forgotten
	// after it may be in the model (zero for versions stored before this
	// field existed).
	DataAt time.Time `json:"data_at,omitzero"`
}

// Models keeps versioned model artefacts.
type Models interface {
	// SaveModel stores a new version of meta.Name and returns its number.
	SaveModel(ctx context.Context, meta ModelMeta, blob []byte) (int, error)
	// ListModels lists the stored versions of a model (all models when name
	// is ""), oldest first.
	ListModels(ctx context.Context, name string) ([]ModelMeta, error)
	// LoadModel returns one version's metadata and a copy of its artefact.
	LoadModel(ctx context.Context, name string, version int) (ModelMeta, []byte, error)
	// ReadModel streams one version's artefact to fn without copying it
	// whole (large models); r is valid only during the call.
	ReadModel(ctx context.Context, name string, version int, fn func(meta ModelMeta, r io.Reader) error) error
	// UpdateModelMeta rewrites the metadata of a stored version (status, note, metrics).
	UpdateModelMeta(ctx context.Context, meta ModelMeta) error
}

// Store is everything Aisle keeps.
type Store interface {
	Catalog
	Users
	EventLog
	Models
	Close() error
}

// ItemVector is one item's embedding in one vector space.
type ItemVector struct {
	ItemID string
	// TextHash is the SHA-256 of the exact text that was embedded. When the
	// item's text changes, its hash no longer matches and the vector is
	// stale: the caller embeds the item again.
	TextHash [32]byte
	Vec      []float32
}

// Vectors keeps item embeddings so that restarts and repeated runs do not
// embed unchanged items again. Vectors are grouped by space, the identity of
// the embedder that made them ("use-lite-en/512": model and dimension);
// vectors of different spaces are never mixed or compared.
type Vectors interface {
	// PutVectors stores or replaces vectors of space atomically and durably.
	// Implementations backed by a catalogue skip items it does not hold
	// (an item deleted while its vector was being computed).
	PutVectors(ctx context.Context, space string, vecs []ItemVector) error
	// GetVectors returns the stored vector of each id in space, in order;
	// the entry of an id without one has a nil Vec.
	GetVectors(ctx context.Context, space string, ids []string) ([]ItemVector, error)
	// DeleteVectors removes the vectors of ids in every space.
	DeleteVectors(ctx context.Context, ids []string) error
}
