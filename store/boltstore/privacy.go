package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
)

// Privacy buckets and keys, created on first use:
//
//	forgotten: SHA-256 of a user id → store.ForgetReceipt JSON
//	meta "compacted_at": Unix nanoseconds of the last compaction
var (
	bForgotten   = []byte("forgotten")
	kCompactedAt = []byte("compacted_at")
)

var (
	_ store.Forgetter        = (*Store)(nil)
	_ store.UserEventScanner = (*Store)(nil)
	_ store.Compactor        = (*Store)(nil)
	_ store.Snapshotter      = (*Store)(nil)
	_ store.Expirer          = (*Store)(nil)
	_ store.ModelRewriter    = (*Store)(nil)
)

// ForgetUser implements store.Forgetter.
func (s *Store) ForgetUser(ctx context.Context, id string, at time.Time) ([]events.Event, store.ForgetReceipt, error) {
	if err := ctx.Err(); err != nil {
		return nil, store.ForgetReceipt{}, err
	}
	rc := store.ForgetReceipt{DeletedAt: at.UTC(), ByType: map[string]int{}}
	var out []events.Event
	err := s.update(func(tx *bolt.Tx) error {
		out, rc.Profile, rc.SearchLogEntries = nil, false, 0
		clear(rc.ByType)
		profile, keys, err := deleteUserIn(tx, id, func(e events.Event) {
			out = append(out, e)
			rc.ByType[string(e.Type)]++
			if e.Type == events.Search {
				rc.SearchLogEntries++
			}
		})
		if err != nil {
			return err
		}
		rc.Profile, rc.Events = profile, len(out)
		if !rc.Profile && keys == 0 {
			return store.ErrNotFound
		}
		fb, err := tx.CreateBucketIfNotExists(bForgotten)
		if err != nil {
			return err
		}
		v, err := json.Marshal(rc)
		if err != nil {
			return err
		}
		h := store.UserHash(id)
		return fb.Put(h[:], v)
	})
	if err != nil {
		return nil, store.ForgetReceipt{}, err
	}
	select {
	case s.compactReq <- struct{}{}:
	default:
	}
	return out, rc, nil
}

// RewriteModel implements store.ModelRewriter: it replaces the bytes of a
// stored version (its metadata keeps every field but the size).
func (s *Store) RewriteModel(ctx context.Context, name string, version int, blob []byte) error {
	return s.update(func(tx *bolt.Tx) error {
		key := modelKey(name, version)
		mb := tx.Bucket(bModels)
		v := mb.Get(key)
		if v == nil {
			return store.ErrNotFound
		}
		var meta store.ModelMeta
		if err := json.Unmarshal(v, &meta); err != nil {
			return err
		}
		meta.Size = int64(len(blob))
		nv, err := json.Marshal(meta)
		if err != nil {
			return err
		}
		if err := mb.Put(key, nv); err != nil {
			return err
		}
		return tx.Bucket(bBlobs).Put(key, blob)
	})
}

// CompactRequested is signalled (without blocking the sender) after each
// forgotten user, so a compaction scheduler can wake up.
func (s *Store) CompactRequested() <-chan struct{} { return s.compactReq }

// ForgetReceipt implements store.Forgetter.
func (s *Store) ForgetReceipt(ctx context.Context, id string) (store.ForgetReceipt, error) {
	var rc store.ForgetReceipt
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bForgotten)
		if b == nil {
			return store.ErrNotFound
		}
		h := store.UserHash(id)
		v := b.Get(h[:])
		if v == nil {
			return store.ErrNotFound
		}
		return json.Unmarshal(v, &rc)
	})
	return rc, err
}

// ForgottenUsers implements store.Forgetter.
func (s *Store) ForgottenUsers(ctx context.Context) (map[[32]byte]time.Time, error) {
	out := map[[32]byte]time.Time{}
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bForgotten)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var rc store.ForgetReceipt
			if len(k) != 32 || json.Unmarshal(v, &rc) != nil {
				return nil // not ours: skip rather than refuse to serve
			}
			out[[32]byte(k)] = rc.DeletedAt
			return nil
		})
	})
	return out, err
}

// scanChunk is how many events ScanUserEvents reads per transaction.
const scanChunk = 1000

// ScanUserEvents implements store.UserEventScanner. It reads scanChunk
// events per read transaction and calls fn outside it, so a slow reader
// (an export streamed to a client) never holds the file.
func (s *Store) ScanUserEvents(ctx context.Context, id string, fn func(events.Event) error) error {
	prefix := append([]byte(id), 0)
	from := prefix
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var chunk []events.Event
		var next []byte
		err := s.view(func(tx *bolt.Tx) error {
			ue, eb := tx.Bucket(bUserEvents), tx.Bucket(bEvents)
			c := ue.Cursor()
			for k, _ := c.Seek(from); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k, _ = c.Next() {
				if len(chunk) == scanChunk {
					next = append([]byte(nil), k...)
					return nil
				}
				e, ok, err := indexedEvent(eb, k, prefix)
				if err != nil {
					return err
				}
				if ok {
					chunk = append(chunk, e)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, e := range chunk {
			if err := fn(e); err != nil {
				return err
			}
		}
		if next == nil {
			return nil
		}
		from = next
	}
}

// CompactedAt implements store.Compactor.
func (s *Store) CompactedAt(ctx context.Context) (time.Time, error) {
	var at time.Time
	err := s.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bMeta).Get(kCompactedAt); len(v) == 8 {
			at = time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
		}
		return nil
	})
	return at, err
}

// Compact implements store.Compactor: it copies every live record into a
// new file (bbolt's Compact), makes it durable, renames it over the data
// file and reopens it. bbolt neither shrinks its file nor wipes freed
// pages, so until this runs a deleted record's bytes can still be read
// from the file; after it they are in no file of the data directory (the
// file system may keep the old blocks until it reuses them). Every
// request waits while it runs (about a second per 50 MB measured, see
// docs/benchmarks.md).
func (s *Store) Compact(ctx context.Context) (store.CompactReport, error) {
	if err := ctx.Err(); err != nil {
		return store.CompactReport{}, err
	}
	if err := s.lockForCompaction(ctx); err != nil {
		return store.CompactReport{}, err
	}
	defer s.mu.Unlock()
	start := time.Now()
	rep := store.CompactReport{}
	if fi, err := os.Stat(s.path); err == nil {
		rep.BytesBefore = fi.Size()
	}
	tmp := s.path + ".compact"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o644, &bolt.Options{FreelistType: bolt.FreelistMapType, NoFreelistSync: false})
	if err != nil {
		return rep, fmt.Errorf("compact: create %s: %w", tmp, err)
	}
	fail := func(err error) (store.CompactReport, error) {
		dst.Close()
		os.Remove(tmp)
		return rep, fmt.Errorf("compact %s: %w (the data file is unchanged)", s.path, err)
	}
	if err := bolt.Compact(dst, s.db, 64<<20); err != nil {
		return fail(err)
	}
	rep.At = time.Now().UTC()
	err = dst.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bMeta).Put(kCompactedAt, binary.BigEndian.AppendUint64(nil, uint64(rep.At.UnixNano())))
	})
	if err != nil {
		return fail(err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return rep, fmt.Errorf("compact %s: close the copy: %w (the data file is unchanged)", s.path, err)
	}
	if err := s.db.Close(); err != nil {
		os.Remove(tmp)
		return rep, fmt.Errorf("compact %s: close: %w", s.path, err)
	}
	swapErr := os.Rename(tmp, s.path)
	if swapErr == nil {
		swapErr = syncDir(filepath.Dir(s.path))
	}
	db, err := bolt.Open(s.path, 0o644, boltOptions())
	if err != nil {
		// nothing can serve: say so loudly rather than answer from a closed file
		return rep, fmt.Errorf("compact %s: reopen: %w (restart the server)", s.path, errors.Join(swapErr, err))
	}
	s.db = db
	if swapErr != nil {
		os.Remove(tmp)
		return rep, fmt.Errorf("compact %s: swap in the copy: %w (the data file is unchanged)", s.path, swapErr)
	}
	if fi, err := os.Stat(s.path); err == nil {
		rep.BytesAfter = fi.Size()
	}
	rep.Took = time.Since(start)
	return rep, nil
}

// ErrBusy is returned by Compact while a snapshot is being streamed.
var ErrBusy = errors.New("a snapshot is being streamed; compaction waits for it to end")

// lockForCompaction takes the store for itself without stalling requests
// behind a long reader: it tries for up to two seconds between requests,
// then waits its turn only if no snapshot is being streamed.
func (s *Store) lockForCompaction(ctx context.Context) error {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if s.mu.TryLock() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	if s.long.Load() > 0 {
		return ErrBusy
	}
	s.mu.Lock()
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// WriteSnapshot implements store.Snapshotter with one read transaction:
// writers go on while it runs, and the copy is the store as of its start.
func (s *Store) WriteSnapshot(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	s.long.Add(1)
	defer s.long.Add(-1)
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(&ctxWriter{ctx: ctx, w: w})
		return err
	})
	return n, err
}

// ctxWriter stops a long copy when its context ends.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// ExpireEvents implements store.Expirer.
func (s *Store) ExpireEvents(ctx context.Context, cutoffs map[events.Type]time.Time, after uint64, limit int) (store.ExpireBatch, error) {
	if limit <= 0 {
		limit = 1000
	}
	b := store.ExpireBatch{Next: after, ByType: map[string]int{}}
	if err := ctx.Err(); err != nil {
		return b, err
	}
	err := s.update(func(tx *bolt.Tx) error {
		b.Next, b.Scanned, b.Deleted = after, 0, 0
		clear(b.ByType)
		eb, ue := tx.Bucket(bEvents), tx.Bucket(bUserEvents)
		b.Last = eb.Sequence()
		type doomed struct {
			seq  []byte
			user string
		}
		var del []doomed
		c := eb.Cursor()
		k, v := c.Seek(seqKey(after + 1))
		for ; k != nil && b.Scanned < limit; k, v = c.Next() {
			b.Scanned++
			b.Next = binary.BigEndian.Uint64(k)
			var e events.Event
			if err := decodeEvent(v, &e); err != nil {
				return fmt.Errorf("decode event %x: %w", k, err)
			}
			if cut, ok := cutoffs[e.Type]; ok && e.Timestamp.Before(cut) {
				del = append(del, doomed{seq: append([]byte(nil), k...), user: e.UserID})
				b.ByType[string(e.Type)]++
			}
		}
		b.Done = k == nil
		for _, d := range del {
			if err := eb.Delete(d.seq); err != nil {
				return err
			}
			if err := ue.Delete(userEventKey(d.user, binary.BigEndian.Uint64(d.seq))); err != nil {
				return err
			}
		}
		b.Deleted = len(del)
		if len(del) > 0 {
			return addCounter(tx, kEvents, -int64(len(del)))
		}
		return nil
	})
	return b, err
}
