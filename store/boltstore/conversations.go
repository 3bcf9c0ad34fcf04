package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Shopping-assistant conversations live in two buckets, created on first
// use:
//
//	conversations:           id → expiry (8 bytes, unix ns, big-endian), conversation bytes
//	conversations_by_expiry: expiry (8 bytes), id → (empty)
//
// The bytes are the assistant's own encoding; the store only keeps them
// until they expire, so a conversation survives a restart.
var (
	bConv      = []byte("conversations")
	bConvByExp = []byte("conversations_by_expiry")
)

// GetConversation returns a stored conversation, nil when there is none
// or it expired before now.
func (s *Store) GetConversation(ctx context.Context, id string, now time.Time) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bConv)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(id))
		if len(v) < 8 || int64(binary.BigEndian.Uint64(v)) < now.UnixNano() {
			return nil
		}
		out = bytes.Clone(v[8:])
		return nil
	})
	return out, err
}

// PutConversations stores conversations, each with the time it expires,
// in one transaction.
func (s *Store) PutConversations(ctx context.Context, convs map[string][]byte, expires map[string]time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(convs) == 0 {
		return nil
	}
	return s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bConv)
		if err != nil {
			return err
		}
		bx, err := tx.CreateBucketIfNotExists(bConvByExp)
		if err != nil {
			return err
		}
		for id, data := range convs {
			if old := b.Get([]byte(id)); len(old) >= 8 {
				if err := bx.Delete(expiryKey(old[:8], id)); err != nil {
					return err
				}
			}
			var exp [8]byte
			binary.BigEndian.PutUint64(exp[:], uint64(expires[id].UnixNano()))
			if err := b.Put([]byte(id), append(exp[:], data...)); err != nil {
				return err
			}
			if err := bx.Put(expiryKey(exp[:], id), nil); err != nil {
				return err
			}
		}
		return nil
	})
}

func expiryKey(exp []byte, id string) []byte {
	return append(bytes.Clone(exp[:8]), id...)
}

// ExpireConversations deletes up to max conversations that expired
// before now and reports how many.
func (s *Store) ExpireConversations(ctx context.Context, now time.Time, max int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		b, bx := tx.Bucket(bConv), tx.Bucket(bConvByExp)
		if b == nil || bx == nil {
			return nil
		}
		var cut [8]byte
		binary.BigEndian.PutUint64(cut[:], uint64(now.UnixNano()))
		var dead [][]byte
		c := bx.Cursor()
		for k, _ := c.First(); k != nil && len(dead) < max && bytes.Compare(k[:8], cut[:]) < 0; k, _ = c.Next() {
			dead = append(dead, bytes.Clone(k))
		}
		for _, k := range dead {
			if err := bx.Delete(k); err != nil {
				return err
			}
			if v := b.Get(k[8:]); len(v) >= 8 && bytes.Equal(v[:8], k[:8]) {
				if err := b.Delete(k[8:]); err != nil {
					return err
				}
			}
		}
		n = len(dead)
		return nil
	})
	return n, err
}
