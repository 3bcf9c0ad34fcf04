package bus

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// OutboxRow is one committed change waiting in the store's outbox.
type OutboxRow struct {
	ID      int64
	Shop    string
	Kind    string
	Payload []byte
	At      time.Time
}

// OutboxSource is a store with a transactional outbox: each committed
// change wrote a row in the same transaction.
type OutboxSource interface {
	// ReadOutbox returns up to limit rows with id > afterID, by id.
	ReadOutbox(ctx context.Context, afterID int64, limit int) ([]OutboxRow, error)
	// TrimOutbox deletes the rows with id ≤ uptoID.
	TrimOutbox(ctx context.Context, uptoID int64) error
}

// OutboxFuncs adapts two functions to OutboxSource (for a store whose
// row type is its own).
type OutboxFuncs struct {
	Read func(ctx context.Context, afterID int64, limit int) ([]OutboxRow, error)
	Trim func(ctx context.Context, uptoID int64) error
}

// ReadOutbox implements OutboxSource.
func (f OutboxFuncs) ReadOutbox(ctx context.Context, afterID int64, limit int) ([]OutboxRow, error) {
	return f.Read(ctx, afterID, limit)
}

// TrimOutbox implements OutboxSource.
func (f OutboxFuncs) TrimOutbox(ctx context.Context, uptoID int64) error { return f.Trim(ctx, uptoID) }

// Steps of a relay batch where a test's Fault may stop it.
const (
	FaultPublish = "publish" // committed, not published
	FaultTrim    = "trim"    // published, not trimmed
)

// Relay moves the outbox to the bus: read the oldest rows, publish them
// (each with its id as the de-duplication key), and only once the bus
// has acknowledged them, trim them. A crash anywhere leaves the rows in
// the outbox, and the next relay publishes them again, which the bus
// de-duplicates and engine.Apply tolerates.
//
// Outbox ids are taken when a transaction writes, not when it commits, so
// a row may appear below ids already read. The relay therefore trims only
// up to the first gap in the ids, unless the gap is older than GapWait
// (then it was a rolled-back transaction).
type Relay struct {
	Source  OutboxSource
	Bus     Bus
	Batch   int           // rows per read (0: 1000)
	Poll    time.Duration // pause when the outbox is empty (0: 10 ms)
	GapWait time.Duration // 0: 5 s
	Log     *slog.Logger

	// Fault, when set (tests), is called at each step of a batch:
	// FaultPublish after reading the outbox and before publishing,
	// FaultTrim after the bus acknowledged and before trimming. An error
	// stops the batch there, as a crash would.
	Fault func(step string) error

	gaps      map[int64]time.Time // first seen, by the id below which rows are missing
	published map[int64]bool      // ids published and not trimmed yet
}

// Run relays until ctx ends; it retries failures after a pause.
func (r *Relay) Run(ctx context.Context) error {
	poll := r.Poll
	if poll == 0 {
		poll = 10 * time.Millisecond
	}
	pause := poll
	for {
		n, err := r.Once(ctx)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err != nil:
			if r.Log != nil {
				r.Log.Error("change feed relay failed; retrying (the changes stay in the outbox)", "err", err)
			}
			pause = min(max(pause*2, 100*time.Millisecond), 2*time.Second)
		case n > 0:
			pause = poll
			continue
		default:
			pause = poll
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
	}
}

// Once publishes one batch of the outbox and trims what it may; it
// returns how many rows it published.
func (r *Relay) Once(ctx context.Context) (int, error) {
	limit := r.Batch
	if limit <= 0 {
		limit = 1000
	}
	rows, err := r.Source.ReadOutbox(ctx, 0, limit)
	if err != nil {
		return 0, fmt.Errorf("read the outbox: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	if r.published == nil {
		r.published = map[int64]bool{}
		r.gaps = map[int64]time.Time{}
	}
	if r.Fault != nil {
		if err := r.Fault(FaultPublish); err != nil {
			return 0, err
		}
	}
	msgs := make([]Message, 0, len(rows))
	for _, row := range rows {
		if !r.published[row.ID] {
			msgs = append(msgs, Message{ID: row.ID, Shop: row.Shop, Kind: row.Kind, Payload: row.Payload, At: row.At})
		}
	}
	if len(msgs) > 0 {
		if err := r.Bus.Publish(ctx, msgs...); err != nil {
			return 0, fmt.Errorf("publish %d changes: %w", len(msgs), err)
		}
		for _, m := range msgs {
			r.published[m.ID] = true
		}
	}
	if r.Fault != nil {
		if err := r.Fault(FaultTrim); err != nil {
			return len(msgs), err
		}
	}
	upto := r.trimPoint(rows)
	if upto > 0 {
		if err := r.Source.TrimOutbox(ctx, upto); err != nil {
			return len(msgs), fmt.Errorf("trim the outbox up to %d: %w", upto, err)
		}
		for id := range r.published {
			if id <= upto {
				delete(r.published, id)
			}
		}
		for id := range r.gaps {
			if id <= upto {
				delete(r.gaps, id)
			}
		}
	}
	return len(msgs), nil
}

// trimPoint is the highest id that may be trimmed: the rows up to the
// first young gap.
func (r *Relay) trimPoint(rows []OutboxRow) int64 {
	wait := r.GapWait
	if wait == 0 {
		wait = 5 * time.Second
	}
	now := time.Now()
	upto := rows[0].ID
	for _, row := range rows[1:] {
		if row.ID != upto+1 {
			seen, ok := r.gaps[row.ID]
			if !ok {
				r.gaps[row.ID] = now
				seen = now
			}
			if now.Sub(seen) < wait {
				break
			}
		}
		upto = row.ID
	}
	return upto
}
