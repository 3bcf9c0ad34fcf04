package boltstore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aisle-dev/aisle/store"
)

// Dashboard sessions (store.Sessions) live in one bucket, created on first
// use:
//
//	sessions: token hash (32 bytes) → expires (8 bytes, Unix ns, big-endian), key check (32 bytes), level
var bSessions = []byte("sessions")

var _ store.Sessions = (*Store)(nil)

func encodeSession(s store.DashboardSession) []byte {
	v := make([]byte, 8, 8+32+len(s.Level))
	binary.BigEndian.PutUint64(v, uint64(s.Expires.UnixNano()))
	v = append(v, s.KeyCheck[:]...)
	return append(v, s.Level...)
}

func decodeSession(k, v []byte) (store.DashboardSession, error) {
	var s store.DashboardSession
	if len(k) != 32 || len(v) < 40 || len(v) > 40+store.MaxSessionLevelLen {
		return s, fmt.Errorf("session record of %d+%d bytes: damaged", len(k), len(v))
	}
	copy(s.TokenHash[:], k)
	s.Expires = time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
	copy(s.KeyCheck[:], v[8:40])
	s.Level = string(v[40:])
	return s, nil
}

// PutSession stores a session durably.
func (s *Store) PutSession(ctx context.Context, ds store.DashboardSession) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ds.Level == "" || len(ds.Level) > store.MaxSessionLevelLen {
		return fmt.Errorf("store session: level %q: want 1 to %d bytes", ds.Level, store.MaxSessionLevelLen)
	}
	return s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bSessions)
		if err != nil {
			return fmt.Errorf("create bucket sessions: %w", err)
		}
		return b.Put(ds.TokenHash[:], encodeSession(ds))
	})
}

// GetSession returns a stored session (store.ErrNotFound when none).
func (s *Store) GetSession(ctx context.Context, tokenHash [32]byte) (store.DashboardSession, error) {
	var out store.DashboardSession
	if err := ctx.Err(); err != nil {
		return out, err
	}
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bSessions)
		if b == nil {
			return store.ErrNotFound
		}
		v := b.Get(tokenHash[:])
		if v == nil {
			return store.ErrNotFound
		}
		var err error
		out, err = decodeSession(tokenHash[:], v)
		return err
	})
	return out, err
}

// DeleteSession removes a session durably.
func (s *Store) DeleteSession(ctx context.Context, tokenHash [32]byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bSessions); b != nil {
			return b.Delete(tokenHash[:])
		}
		return nil
	})
}

// PruneSessions deletes expired sessions, then the earliest-expiring ones
// beyond keep, in one transaction.
func (s *Store) PruneSessions(ctx context.Context, now time.Time, keep int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	deleted := 0
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bSessions)
		if b == nil {
			return nil
		}
		type live struct {
			key     []byte
			expires int64
		}
		var dead [][]byte
		var alive []live
		cut := now.UnixNano()
		err := b.ForEach(func(k, v []byte) error {
			if len(v) < 8 { // damaged: nothing can use it
				dead = append(dead, bytes.Clone(k))
				return nil
			}
			exp := int64(binary.BigEndian.Uint64(v))
			if exp <= cut {
				dead = append(dead, bytes.Clone(k))
			} else {
				alive = append(alive, live{bytes.Clone(k), exp})
			}
			return nil
		})
		if err != nil {
			return err
		}
		if keep >= 0 && len(alive) > keep {
			slices.SortFunc(alive, func(a, b live) int {
				if c := cmp.Compare(a.expires, b.expires); c != 0 {
					return c
				}
				return bytes.Compare(a.key, b.key)
			})
			for _, l := range alive[:len(alive)-keep] {
				dead = append(dead, l.key)
			}
		}
		for _, k := range dead {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		deleted = len(dead)
		return nil
	})
	return deleted, err
}
