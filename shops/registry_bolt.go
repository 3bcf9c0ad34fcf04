package shops

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// boltBackend keeps the registry in one bbolt file (the embedded mode).
type boltBackend struct{ db *bolt.DB }

func openBoltBackend(path string) (*boltBackend, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open shop registry %s: %w (is another aisle process using this data directory?)", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketShops, bucketKeys, bucketDeleting} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open shop registry %s: %w", path, err)
	}
	return &boltBackend{db: db}, nil
}

func (b *boltBackend) close() error { return b.db.Close() }

func (b *boltBackend) load(context.Context) (shops []Shop, keys []Key, err error) {
	err = b.db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketShops).ForEach(func(k, v []byte) error {
			var s Shop
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("shop %q: %w", k, err)
			}
			shops = append(shops, s)
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketKeys).ForEach(func(k, v []byte) error {
			var key Key
			if err := json.Unmarshal(v, &key); err != nil {
				return fmt.Errorf("key %q: %w", k, err)
			}
			keys = append(keys, key)
			return nil
		})
	})
	return shops, keys, err
}

func (b *boltBackend) create(sh Shop) error {
	var deleting bool
	if err := b.db.View(func(tx *bolt.Tx) error {
		deleting = tx.Bucket(bucketDeleting).Get([]byte(sh.ID)) != nil
		return nil
	}); err != nil {
		return fmt.Errorf("read the shop registry: %w", err)
	}
	if deleting {
		return errDeletingID(sh.ID)
	}
	return b.putJSON(bucketShops, sh.ID, sh)
}

func (b *boltBackend) put(sh Shop) error { return b.putJSON(bucketShops, sh.ID, sh) }

func (b *boltBackend) remove(id string, keys []string) (int, error) {
	err := b.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketShops).Delete([]byte(id)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketDeleting).Put([]byte(id), []byte{1}); err != nil {
			return err
		}
		for _, kid := range keys {
			if err := tx.Bucket(bucketKeys).Delete([]byte(kid)); err != nil {
				return err
			}
		}
		return nil
	})
	return len(keys), err
}

func (b *boltBackend) deleting() ([]string, error) {
	var out []string
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDeleting).ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read the shop registry: %w", err)
	}
	return out, nil
}

func (b *boltBackend) removed(id string) error {
	if err := b.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketDeleting).Delete([]byte(id)) }); err != nil {
		return fmt.Errorf("write the shop registry: %w", err)
	}
	return nil
}

func (b *boltBackend) putKey(k Key) error { return b.putJSON(bucketKeys, k.ID, k) }

func (b *boltBackend) revoke(_, id string) error {
	return b.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketKeys).Delete([]byte(id)) })
}

func (b *boltBackend) rotate(_, old string, k Key) error {
	v, err := json.Marshal(k)
	if err != nil {
		return err
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketKeys).Delete([]byte(old)); err != nil {
			return err
		}
		return tx.Bucket(bucketKeys).Put([]byte(k.ID), v)
	})
}

func (b *boltBackend) putJSON(bucket []byte, id string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := b.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(id), data) }); err != nil {
		return fmt.Errorf("write shop registry: %w", err)
	}
	return nil
}

func (b *boltBackend) snapshot(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	err := b.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	return n, err
}

// writeFileCopy writes a registry file (the embedded form) holding the
// shops, keys and pending deletions this registry holds now.
func (r *Registry) writeFileCopy(ctx context.Context, w io.Writer) (int64, error) {
	dir, err := os.MkdirTemp("", "aisle-registry-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	b, err := openBoltBackend(filepath.Join(dir, RegistryFile))
	if err != nil {
		return 0, err
	}
	defer b.close()
	pending, err := r.Deleting()
	if err != nil {
		return 0, err
	}
	r.mu.RLock()
	err = b.db.Update(func(tx *bolt.Tx) error {
		for _, sh := range r.shops {
			v, err := json.Marshal(sh)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketShops).Put([]byte(sh.ID), v); err != nil {
				return err
			}
		}
		for _, k := range r.keys {
			v, err := json.Marshal(k)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketKeys).Put([]byte(k.ID), v); err != nil {
				return err
			}
		}
		for _, id := range pending {
			if err := tx.Bucket(bucketDeleting).Put([]byte(id), []byte{1}); err != nil {
				return err
			}
		}
		return nil
	})
	r.mu.RUnlock()
	if err != nil {
		return 0, err
	}
	return b.snapshot(ctx, w)
}
