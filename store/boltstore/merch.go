package boltstore

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/aisle-dev/aisle/store"
)

// Merchandising records (package rules and package ads) live under one
// top-level bucket, one nested bucket per name:
//
//	merch: bucket name → key → value   (see store.Merch)
var bMerch = []byte("merch")

var _ store.Merch = (*Store)(nil)

// MerchView runs fn in a read transaction over the merchandising buckets.
func (s *Store) MerchView(ctx context.Context, fn func(store.MerchTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.view(func(tx *bolt.Tx) error { return fn(merchTx{tx}) })
}

// MerchUpdate runs fn in one durable write transaction (bbolt serialises
// writers, so updates never interleave).
func (s *Store) MerchUpdate(ctx context.Context, fn func(store.MerchTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error { return fn(merchTx{tx}) })
}

type merchTx struct{ tx *bolt.Tx }

func (m merchTx) bucket(name string, create bool) (*bolt.Bucket, error) {
	root := m.tx.Bucket(bMerch)
	if root == nil {
		if !create {
			return nil, nil
		}
		var err error
		if root, err = m.tx.CreateBucket(bMerch); err != nil {
			return nil, fmt.Errorf("create bucket merch: %w", err)
		}
	}
	if b := root.Bucket([]byte(name)); b != nil || !create {
		return b, nil
	}
	b, err := root.CreateBucket([]byte(name))
	if err != nil {
		return nil, fmt.Errorf("create bucket merch/%s: %w", name, err)
	}
	return b, nil
}

func (m merchTx) Get(bucket, key string) []byte {
	b, _ := m.bucket(bucket, false)
	if b == nil {
		return nil
	}
	return bytes.Clone(b.Get([]byte(key)))
}

func (m merchTx) Put(bucket, key string, value []byte) error {
	b, err := m.bucket(bucket, true)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), value)
}

func (m merchTx) Delete(bucket, key string) error {
	b, err := m.bucket(bucket, false)
	if b == nil || err != nil {
		return err
	}
	return b.Delete([]byte(key))
}

func (m merchTx) Scan(bucket, prefix string, fn func(string, []byte) error) error {
	b, _ := m.bucket(bucket, false)
	if b == nil {
		return nil
	}
	c := b.Cursor()
	p := []byte(prefix)
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if err := fn(string(k), v); err != nil {
			return err
		}
	}
	return nil
}
