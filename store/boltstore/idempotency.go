package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
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
		ib, err := tx.CreateBucketIfNotExists(bIdem)
		if err != nil {
			return err
		}
		tb, err := tx.CreateBucketIfNotExists(bIdemByTime)
		if err != nil {
			return err
		}
		if err := expireKeys(ib, tb, now.Add(-ttl)); err != nil {
			return err
		}
		if v := ib.Get([]byte(key)); v != nil {
			if err := json.Unmarshal(v, &rc); err != nil {
				return fmt.Errorf("decode receipt of idempotency key %q: %w", key, err)
			}
			if now.Sub(rc.At) < ttl {
				if rc.BodyHash != bodyHash {
					return fmt.Errorf("%w: key %q was used at %s for a batch with a different body; use a new key for a new batch", store.ErrIdempotencyConflict, key, rc.At.UTC().Format(time.RFC3339))
				}
				replay = true
				return nil
			}
			// Expired but not yet dropped: forget it and store afresh.
			if err := tb.Delete(timeKey(rc.At, key)); err != nil {
				return err
			}
		}
		if err := appendEvents(tx, evs); err != nil {
			return err
		}
		rc = store.Receipt{BodyHash: bodyHash, Accepted: len(evs), At: now.UTC()}
		if len(evs) > 0 {
			rc.FirstSeq = evs[0].Seq
		}
		v, err := json.Marshal(rc)
		if err != nil {
			return err
		}
		if err := ib.Put([]byte(key), v); err != nil {
			return err
		}
		return tb.Put(timeKey(rc.At, key), nil)
	})
	if err != nil {
		for i := range evs {
			evs[i].Seq = 0
		}
		return store.Receipt{}, false, err
	}
	return rc, replay, nil
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
