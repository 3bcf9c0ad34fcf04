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
	if err := checkIdempotencyKey(key); err != nil {
		return err
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
		return badIdempotencyKey(err.Error())
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

// badIdempotencyKey is the refusal of a batch for its Idempotency-Key.
func badIdempotencyKey(problem string) error {
	return &catalog.BatchError{What: "events", Problems: []catalog.Problem{{Field: "Idempotency-Key", Problem: problem}}}
}

// checkIdempotencyKey reports what is wrong with a non-empty key.
func checkIdempotencyKey(key string) error {
	if len(key) > store.MaxIdempotencyKeyLen {
		return badIdempotencyKey(fmt.Sprintf("is longer than %d bytes", store.MaxIdempotencyKeyLen))
	}
	if p := catalog.CheckID(key); p != "" {
		return badIdempotencyKey(p)
	}
	return nil
}

// KeyedBatch is one batch of AddEventsOnceBatch: its idempotency key, the
// body the key's receipt is checked against, and its events.
type KeyedBatch struct {
	Key    string
	Body   []byte
	Events []events.Event
}

// AddEventsOnceBatch is AddEventsOnce for each batch, in one request: the
// events are validated together (each batch again alone only when that
// fails, to find the bad ones) and stored in one commit on a store that
// takes several keys at once (store.BatchIdempotentEventLog). errs[i] is
// the outcome of batches[i], as AddEventsOnce would return it: a
// *catalog.BatchError for an invalid batch or a key used for another
// body, which fails alone.
func (e *Engine) AddEventsOnceBatch(ctx context.Context, batches []KeyedBatch) (errs []error) {
	errs = make([]error, len(batches))
	multi, ok := e.st.(store.BatchIdempotentEventLog)
	var ok2 []int
	for i, b := range batches {
		switch {
		case !ok || b.Key == "":
			errs[i] = e.AddEventsOnce(ctx, b.Key, b.Body, b.Events)
		default:
			if errs[i] = checkIdempotencyKey(b.Key); errs[i] == nil {
				ok2 = append(ok2, i)
			}
		}
	}
	if len(ok2) == 0 {
		return errs
	}
	// one slice for all the events, validated once; each part is a
	// window of it
	n := 0
	for _, i := range ok2 {
		n += len(batches[i].Events)
	}
	all := make([]events.Event, 0, n)
	at := make([]int, len(ok2)+1)
	for j, i := range ok2 {
		all = append(all, batches[i].Events...)
		at[j+1] = len(all)
	}
	if err := e.ValidateEvents(ctx, all); err != nil {
		var be *catalog.BatchError
		if !errors.As(err, &be) {
			for _, i := range ok2 {
				errs[i] = err
			}
			return errs
		}
		// find the bad batches: each alone
		good, gat := ok2[:0:0], []int{0}
		kept := all[:0:0]
		for j, i := range ok2 {
			part := all[at[j]:at[j+1]]
			if err := e.ValidateEvents(ctx, part); err != nil {
				errs[i] = err
				continue
			}
			good = append(good, i)
			kept = append(kept, part...)
			gat = append(gat, len(kept))
		}
		ok2, all, at = good, kept, gat
		if len(ok2) == 0 {
			return errs
		}
	}
	parts := make([]store.OncePart, len(ok2))
	for j, i := range ok2 {
		parts[j] = store.OncePart{Key: batches[i].Key, BodyHash: sha256.Sum256(batches[i].Body), Events: all[at[j]:at[j+1]:at[j+1]]}
	}
	res, err := multi.AppendEventsOnceBatch(ctx, parts, e.now(), store.DefaultIdempotencyTTL)
	if err != nil {
		for _, i := range ok2 {
			errs[i] = fmt.Errorf("store events: %w", err)
		}
		return errs
	}
	stored := all[:0:0]
	for j, i := range ok2 {
		r := res[j]
		switch {
		case errors.Is(r.Err, store.ErrIdempotencyConflict):
			errs[i] = badIdempotencyKey(r.Err.Error())
		case r.Err != nil:
			errs[i] = fmt.Errorf("store events: %w", r.Err)
		case r.Replay:
			e.log.Info("event batch retry answered from its idempotency key", "key", parts[j].Key, "events", len(parts[j].Events))
		default:
			stored = append(stored, parts[j].Events...)
			copy(batches[i].Events, parts[j].Events) // their numbers
		}
	}
	if len(stored) > 0 {
		e.eventsAppended(stored)
	}
	return errs
}
