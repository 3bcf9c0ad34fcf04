package boltstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"

	"github.com/aisle-dev/aisle/store"
)

// bVectors holds one nested bucket per vector space (embedder identity,
// e.g. "use-lite-en/512"): item id → text hash (32 bytes) followed by the
// vector as little-endian float32s.
var bVectors = []byte("vectors")

var _ store.Vectors = (*Store)(nil)

const hashLen = 32

func encodeVector(v *store.ItemVector) []byte {
	b := make([]byte, hashLen+4*len(v.Vec))
	copy(b, v.TextHash[:])
	for i, x := range v.Vec {
		binary.LittleEndian.PutUint32(b[hashLen+4*i:], math.Float32bits(x))
	}
	return b
}

func decodeVector(id string, b []byte) (store.ItemVector, error) {
	iv := store.ItemVector{ItemID: id}
	if len(b) < hashLen || (len(b)-hashLen)%4 != 0 {
		return iv, fmt.Errorf("stored vector of item %q is corrupt (%d bytes)", id, len(b))
	}
	copy(iv.TextHash[:], b)
	iv.Vec = make([]float32, (len(b)-hashLen)/4)
	for i := range iv.Vec {
		iv.Vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[hashLen+4*i:]))
	}
	return iv, nil
}

// PutVectors stores vectors of space in one durable transaction. Vectors of
// items that are not in the catalogue (deleted meanwhile) are skipped, so
// deleting an item never leaves its vectors behind.
func (s *Store) PutVectors(ctx context.Context, space string, vecs []store.ItemVector) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if space == "" {
		return fmt.Errorf("put vectors: empty vector space name")
	}
	return s.update(func(tx *bolt.Tx) error {
		sb, err := tx.Bucket(bVectors).CreateBucketIfNotExists([]byte(space))
		if err != nil {
			return fmt.Errorf("put vectors of space %q: %w", space, err)
		}
		items := tx.Bucket(bItems)
		for i := range vecs {
			key := []byte(vecs[i].ItemID)
			if len(key) == 0 || items.Get(key) == nil {
				continue
			}
			if err := sb.Put(key, encodeVector(&vecs[i])); err != nil {
				return fmt.Errorf("put vector of item %q in space %q: %w", vecs[i].ItemID, space, err)
			}
		}
		return nil
	})
}

// GetVectors returns the stored vectors of ids in space (nil Vec where none).
func (s *Store) GetVectors(ctx context.Context, space string, ids []string) ([]store.ItemVector, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]store.ItemVector, len(ids))
	err := s.view(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bVectors).Bucket([]byte(space))
		for i, id := range ids {
			out[i].ItemID = id
			if sb == nil || id == "" {
				continue
			}
			v := sb.Get([]byte(id))
			if v == nil {
				continue
			}
			iv, err := decodeVector(id, v)
			if err != nil {
				return fmt.Errorf("space %q: %w", space, err)
			}
			out[i] = iv
		}
		return nil
	})
	return out, err
}

// DeleteVectors removes the vectors of ids in every space.
func (s *Store) DeleteVectors(ctx context.Context, ids []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		for _, id := range ids {
			if err := deleteVectors(tx, []byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
}

// deleteVectors removes one item's vectors from every space.
func deleteVectors(tx *bolt.Tx, id []byte) error {
	if len(id) == 0 {
		return nil
	}
	vb := tx.Bucket(bVectors)
	return vb.ForEachBucket(func(space []byte) error {
		if err := vb.Bucket(space).Delete(id); err != nil {
			return fmt.Errorf("delete vector of item %q in space %q: %w", id, space, err)
		}
		return nil
	})
}

// ScanVectors calls fn for every stored vector, space by space (for
// `aisle migrate`).
func (s *Store) ScanVectors(ctx context.Context, fn func(space string, v store.ItemVector) error) error {
	return s.view(func(tx *bolt.Tx) error {
		vb := tx.Bucket(bVectors)
		return vb.ForEachBucket(func(space []byte) error {
			return vb.Bucket(space).ForEach(func(k, v []byte) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				iv, err := decodeVector(string(k), v)
				if err != nil {
					return fmt.Errorf("space %q: %w", space, err)
				}
				return fn(string(space), iv)
			})
		})
	})
}
