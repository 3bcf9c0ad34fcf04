package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
)

// Idempotency keys live in two buckets, created on first use:
//
//	idempotency:         key → Receipt JSON
//	idempotency_by_time: unix nanoseconds (8 bytes, big-endian), key → (empty)
//
// The second orders keys by age so expired ones are dropped a few at a time
// by later batches, bounding the space they take to about ttl's worth.
var (
	bIdem       = []byte("idempotency")
	bIdemByTime = []byte("idempotency_by_time")
)

// expirePerBatch bounds how many expired keys one batch drops.
const expirePerBatch = 64

var _ store.IdempotentEventLog = (*Store)(nil)

// AppendEventsOnce implements store.IdempotentEventLog.
func (s *Store) AppendEventsOnce(ctx context.Context, key string, bodyHash [32]byte, evs []events.Event, now time.Time, ttl time.Duration) (store.Receipt, bool, error) {
	if err := ctx.Err(); err != nil {
		return store.Receipt{}, false, err
	}
	if key == "" || len(key) > store.MaxIdempotencyKeyLen {
		return store.Receipt{}, false, fmt.Errorf("idempotency key must be 1 to %d bytes", store.MaxIdempotencyKeyLen)
	}
	var rc store.Receipt
	replay := false
	err := s.update(func(tx *bolt.Tx) error {
		ib, tb, err := idemBuckets(tx, now.Add(-ttl))
		if err != nil {
			return err
		}
		rc, replay, err = appendOnce(tx, ib, tb, key, bodyHash, evs, now, ttl)
		return err
	})
	if err != nil {
		for i := range evs {
			evs[i].Seq = 0
		}
		return store.Receipt{}, false, err
	}
	return rc, replay, nil
}

var _ store.BatchIdempotentEventLog = (*Store)(nil)

// AppendEventsOnceBatch implements store.BatchIdempotentEventLog: every
// part in one transaction, one durable commit. A part refused (its key
// used for another body, or an invalid key) stores nothing; the others are
// stored. A later part with an earlier part's key is answered from it.
func (s *Store) AppendEventsOnceBatch(ctx context.Context, parts []store.OncePart, now time.Time, ttl time.Duration) ([]store.OnceResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := make([]store.OnceResult, len(parts))
	err := s.update(func(tx *bolt.Tx) error {
		ib, tb, err := idemBuckets(tx, now.Add(-ttl))
		if err != nil {
			return err
		}
		for i, p := range parts {
			res[i] = store.OnceResult{}
			if p.Key == "" || len(p.Key) > store.MaxIdempotencyKeyLen {
				res[i].Err = fmt.Errorf("idempotency key must be 1 to %d bytes", store.MaxIdempotencyKeyLen)
				continue
			}
			rc, replay, err := appendOnce(tx, ib, tb, p.Key, p.BodyHash, p.Events, now, ttl)
			if errors.Is(err, store.ErrIdempotencyConflict) {
				res[i].Err = err // checked before the part wrote anything
				continue
			}
			if err != nil {
				return fmt.Errorf("part %d (key %q): %w", i, p.Key, err)
			}
			res[i].Receipt, res[i].Replay = rc, replay
		}
		return nil
	})
	if err != nil {
		for _, p := range parts {
			for i := range p.Events {
				p.Events[i].Seq = 0
			}
		}
		return nil, err
	}
	return res, nil
}

// idemBuckets opens the key buckets, dropping a few keys stored before
// cutoff.
func idemBuckets(tx *bolt.Tx, cutoff time.Time) (ib, tb *bolt.Bucket, err error) {
	if ib, err = tx.CreateBucketIfNotExists(bIdem); err != nil {
		return nil, nil, err
	}
	if tb, err = tx.CreateBucketIfNotExists(bIdemByTime); err != nil {
		return nil, nil, err
	}
	return ib, tb, expireKeys(ib, tb, cutoff)
}

// appendOnce stores evs under key in tx, or answers from the key.
func appendOnce(tx *bolt.Tx, ib, tb *bolt.Bucket, key string, bodyHash [32]byte, evs []events.Event, now time.Time, ttl time.Duration) (rc store.Receipt, replay bool, err error) {
	if v := ib.Get([]byte(key)); v != nil {
		if err := json.Unmarshal(v, &rc); err != nil {
			return rc, false, fmt.Errorf("decode receipt of idempotency key %q: %w", key, err)
		}
		if now.Sub(rc.At) < ttl {
			if rc.BodyHash != bodyHash {
				return store.Receipt{}, false, fmt.Errorf("%w: key %q was used at %s for a batch with a different body; use a new key for a new batch", store.ErrIdempotencyConflict, key, rc.At.UTC().Format(time.RFC3339))
			}
			return rc, true, nil
		}
		// Expired but not yet dropped: forget it and store afresh.
		if err := tb.Delete(timeKey(rc.At, key)); err != nil {
			return rc, false, err
		}
	}
	if err := appendEvents(tx, evs); err != nil {
		return rc, false, err
	}
	rc = store.Receipt{BodyHash: bodyHash, Accepted: len(evs), At: now.UTC()}
	if len(evs) > 0 {
		rc.FirstSeq = evs[0].Seq
	}
	v, err := json.Marshal(rc)
	if err != nil {
		return rc, false, err
	}
	if err := ib.Put([]byte(key), v); err != nil {
		return rc, false, err
	}
	return rc, false, tb.Put(timeKey(rc.At, key), nil)
}

func timeKey(at time.Time, key string) []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(at.UnixNano()))
	return append(k, key...)
}

// expireKeys drops up to expirePerBatch keys stored before cutoff.
func expireKeys(ib, tb *bolt.Bucket, cutoff time.Time) error {
	limit := binary.BigEndian.AppendUint64(nil, uint64(cutoff.UnixNano()))
	var old [][]byte
	c := tb.Cursor()
	for k, _ := c.First(); k != nil && len(old) < expirePerBatch && bytes.Compare(k[:8], limit) < 0; k, _ = c.Next() {
		old = append(old, bytes.Clone(k))
	}
	for _, k := range old {
		if err := tb.Delete(k); err != nil {
			return err
		}
		if err := ib.Delete(k[8:]); err != nil {
			return err
		}
	}
	return nil
}

// IdempotencyKeys returns how many idempotency keys are remembered.
func (s *Store) IdempotencyKeys(ctx context.Context) (int, error) {
	n := 0
	err := s.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bIdem); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n, err
}
