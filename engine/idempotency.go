package engine

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
)

// AddEventsOnce is AddEvents for a batch sent with an idempotency key (the
// Idempotency-Key header): a client retry of the same body under the same
// key within store.DefaultIdempotencyTTL stores nothing again and succeeds
// as the first attempt did. The same key with a different body is refused.
// An empty key, or a store that cannot remember keys, means plain AddEvents.
func (e *Engine) AddEventsOnce(ctx context.Context, key string, body []byte, evs []events.Event) error {
	if key == "" {
		return e.AddEvents(ctx, evs)
	}
	bad := func(problem string) error {
		return &catalog.BatchError{What: "events", Problems: []catalog.Problem{{Field: "Idempotency-Key", Problem: problem}}}
	}
	if len(key) > store.MaxIdempotencyKeyLen {
		return bad(fmt.Sprintf("is longer than %d bytes", store.MaxIdempotencyKeyLen))
	}
	if p := catalog.CheckID(key); p != "" {
		return bad(p)
	}
	idem, ok := e.st.(store.IdempotentEventLog)
	if !ok {
		return e.AddEvents(ctx, evs)
	}
	if err := e.ValidateEvents(ctx, evs); err != nil {
		return err
	}
	_, replay, err := idem.AppendEventsOnce(ctx, key, sha256.Sum256(body), evs, e.now(), store.DefaultIdempotencyTTL)
	if errors.Is(err, store.ErrIdempotencyConflict) {
		return bad(err.Error())
	}
	if err != nil {
		return fmt.Errorf("store events: %w", err)
	}
	if !replay {
		e.eventsAppended(evs)
	} else {
		e.log.Info("event batch retry answered from its idempotency key", "key", key, "events", len(evs))
	}
	return nil
}
