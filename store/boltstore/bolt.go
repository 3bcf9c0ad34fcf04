// Package boltstore is Aisle's embedded storage: one bbolt file in the data
// directory, needing no service. Every write is one transaction, fsynced
// before it returns, so an acknowledged write survives a crash.
//
// Layout (bucket: key → value):
//
//	items:       item id → item JSON
//	users:       user id → user JSON
//	events:      seq (8 bytes, big-endian) → event (binary, see eventcodec.go)
//	user_events: user id, 0x00, seq → (empty)   — a user's events in time order
//	models:      name, 0x00, version (4 bytes) → ModelMeta JSON
//	model_blobs: same key → artefact bytes
//	meta:        counters ("items", "users", "events") → uint64
//	vectors:     one bucket per vector space → item id → text hash, vector (see vectors.go)
package boltstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
)

var (
	bItems      = []byte("items")
	bUsers      = []byte("users")
	bEvents     = []byte("events")
	bUserEvents = []byte("user_events")
	bModels     = []byte("models")
	bBlobs      = []byte("model_blobs")
	bMeta       = []byte("meta")

	kItems  = []byte("items")
	kUsers  = []byte("users")
	kEvents = []byte("events")
)

// FileName is the name of the database file inside the data directory.
const FileName = "aisle.db"

// Store is the embedded store. It is safe for concurrent use.
type Store struct {
	// mu guards db: every transaction holds it shared; compaction holds it
	// exclusively while it swaps the file (see compact.go).
	mu   sync.RWMutex
	db   *bolt.DB
	path string
	// compactReq is signalled when data was forgotten (see RunCompactor).
	compactReq chan struct{}
	// long counts read transactions held for long (snapshots streamed to
	// a client): compaction does not queue behind them, since a queued
	// writer would stall every new request.
	long atomic.Int32
	// checked is how Open checked the file (cleanclose.go)
	checked StartCheck
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the store in directory dir. An existing
// data file is checked first (see Check): a damaged or empty one is refused
// with a *DamagedError or ErrEmptyFile and left untouched, never served and
// never replaced by an empty shop. After a clean close (Close recorded the
// file as it still is) only its meta pages and length are checked, not
// every page (cleanclose.go, decision 0085).
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory %q: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	var checked StartCheck
	if _, err := os.Stat(path); err == nil {
		start := time.Now()
		var rep CheckReport
		if closedCleanly(path) {
			rep, err = checkHeader(path)
		} else {
			checked.Full = true
			rep, err = Check(context.Background(), path, 10)
		}
		if err != nil {
			return nil, err
		}
		if len(rep.Problems) > 0 {
			return nil, &DamagedError{Path: path, Problems: rep.Problems}
		}
		checked.Took = time.Since(start)
	}
	var db *bolt.DB
	err := guard("open "+path, func() error {
		var err error
		db, err = bolt.Open(path, 0o644, boltOptions())
		return err
	})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open %s: %w", path, ErrInUse)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// the file is ours (bbolt's lock) and about to be written: until the
	// next clean close a start checks every page
	if err := dropClean(path); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bItems, bUsers, bEvents, bUserEvents, bModels, bBlobs, bMeta, bVectors} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("initialise %s: %w", path, err)
	}
	return &Store{db: db, path: path, compactReq: make(chan struct{}, 1), checked: checked}, nil
}

// StartCheck reports how Open checked the data file.
func (s *Store) StartCheck() StartCheck { return s.checked }

// boltOptions are the options every open of the data file uses.
func boltOptions() *bolt.Options {
	return &bolt.Options{Timeout: 2 * time.Second, FreelistType: bolt.FreelistMapType}
}

// Close closes the database file and records the clean close for the
// next Open (cleanclose.go).
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Close(); err != nil {
		return err
	}
	return writeClean(s.path)
}

// view runs fn in a read transaction.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.View(fn)
}

// update runs fn in a durable write transaction.
func (s *Store) update(fn func(*bolt.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.Update(fn)
}

func counter(tx *bolt.Tx, key []byte) uint64 {
	v := tx.Bucket(bMeta).Get(key)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func addCounter(tx *bolt.Tx, key []byte, delta int64) error {
	n := int64(counter(tx, key)) + delta
	if n < 0 {
		n = 0
	}
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(n))
	return tx.Bucket(bMeta).Put(key, buf[:])
}

func count(s *Store, key []byte) (int, error) {
	var n uint64
	err := s.view(func(tx *bolt.Tx) error { n = counter(tx, key); return nil })
	return int(n), err
}

// putAll stores records by id in bucket b, counting new ones.
func putAll[T any](tx *bolt.Tx, b, countKey []byte, recs []T, id func(*T) string) error {
	bk := tx.Bucket(b)
	added := int64(0)
	for i := range recs {
		key := []byte(id(&recs[i]))
		v, err := json.Marshal(&recs[i])
		if err != nil {
			return fmt.Errorf("encode %q: %w", key, err)
		}
		if bk.Get(key) == nil {
			added++
		}
		if err := bk.Put(key, v); err != nil {
			return fmt.Errorf("store %q: %w", key, err)
		}
	}
	return addCounter(tx, countKey, added)
}

// PutItems stores items in one durable transaction.
func (s *Store) PutItems(ctx context.Context, items []catalog.Item) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		return putAll(tx, bItems, kItems, items, func(it *catalog.Item) string { return it.ID })
	})
}

func get[T any](s *Store, b []byte, id string) (T, error) {
	var rec T
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(b).Get([]byte(id))
		if v == nil {
			return store.ErrNotFound
		}
		return json.Unmarshal(v, &rec)
	})
	return rec, err
}

// GetItem returns one item.
func (s *Store) GetItem(ctx context.Context, id string) (catalog.Item, error) {
	return get[catalog.Item](s, bItems, id)
}

// DeleteItem removes one item and its vectors in every space. Its events
// stay: they are facts about the past.
func (s *Store) DeleteItem(ctx context.Context, id string) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bItems)
		if b.Get([]byte(id)) == nil {
			return store.ErrNotFound
		}
		if err := b.Delete([]byte(id)); err != nil {
			return err
		}
		if err := deleteVectors(tx, []byte(id)); err != nil {
			return err
		}
		return addCounter(tx, kItems, -1)
	})
}

// EncodeCursor and DecodeCursor make page cursors opaque.
func encodeCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func decodeCursor(c string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, fmt.Errorf("invalid cursor %q: pass the next_cursor of a previous page", c)
	}
	return b, nil
}

func list[T any](s *Store, b []byte, cursor string, limit int) ([]T, string, error) {
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", store.ErrBadCursor, err)
	}
	var out []T
	next := ""
	err = s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(b).Cursor()
		var k, v []byte
		if len(after) == 0 {
			k, v = c.First()
		} else if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
			k, v = c.Next()
		}
		for ; k != nil; k, v = c.Next() {
			if len(out) == limit {
				// Something follows the page: point the cursor at its last key.
				next = encodeCursor(string(after))
				break
			}
			var rec T
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decode %q: %w", k, err)
			}
			out = append(out, rec)
			after = append(after[:0], k...)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// ListItems returns one page of items in id order.
func (s *Store) ListItems(ctx context.Context, cursor string, limit int) ([]catalog.Item, string, error) {
	return list[catalog.Item](s, bItems, cursor, limit)
}

// ScanItems calls fn for every item.
func (s *Store) ScanItems(ctx context.Context, fn func(catalog.Item) error) error {
	return s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bItems).ForEach(func(k, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var it catalog.Item // as json.Unmarshal, faster on the records written here (a start reads all)
			if err := catalog.DecodeStored(v, &it); err != nil {
				return fmt.Errorf("decode item %q: %w", k, err)
			}
			return fn(it)
		})
	})
}

// CountItems returns the number of items.
func (s *Store) CountItems(ctx context.Context) (int, error) { return count(s, kItems) }

// PutUsers stores users in one durable transaction.
func (s *Store) PutUsers(ctx context.Context, users []catalog.User) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		return putAll(tx, bUsers, kUsers, users, func(u *catalog.User) string { return u.ID })
	})
}

// GetUser returns one user.
func (s *Store) GetUser(ctx context.Context, id string) (catalog.User, error) {
	return get[catalog.User](s, bUsers, id)
}

// ListUsers returns one page of users in id order.
func (s *Store) ListUsers(ctx context.Context, cursor string, limit int) ([]catalog.User, string, error) {
	return list[catalog.User](s, bUsers, cursor, limit)
}

// CountUsers returns the number of users.
func (s *Store) CountUsers(ctx context.Context) (int, error) { return count(s, kUsers) }

func userEventKey(user string, seq uint64) []byte {
	k := make([]byte, 0, len(user)+9)
	k = append(k, user...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// DeleteUser removes a user and all of their events in one transaction.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.update(func(tx *bolt.Tx) error {
		profile, keys, err := deleteUserIn(tx, id, nil)
		if err == nil && !profile && keys == 0 {
			err = store.ErrNotFound
		}
		return err
	})
}

// deleteUserIn removes user id's record, their events and the index of
// them inside tx, keeping the counters true, and hands each removed event
// to each (when not nil). It reports whether the user record existed and
// how many index entries the user had.
func deleteUserIn(tx *bolt.Tx, id string, each func(events.Event)) (profile bool, keys int, err error) {
	users, ue, evs := tx.Bucket(bUsers), tx.Bucket(bUserEvents), tx.Bucket(bEvents)
	if users.Get([]byte(id)) != nil {
		profile = true
		if err := users.Delete([]byte(id)); err != nil {
			return false, 0, err
		}
		if err := addCounter(tx, kUsers, -1); err != nil {
			return false, 0, err
		}
	}
	prefix := append([]byte(id), 0)
	var ks [][]byte
	c := ue.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k, _ = c.Next() {
		ks = append(ks, append([]byte(nil), k...))
	}
	removed := 0
	for _, k := range ks {
		seq := k[len(prefix):]
		if v := evs.Get(seq); v != nil {
			if each != nil {
				var e events.Event
				if err := decodeEvent(v, &e); err != nil {
					return false, 0, fmt.Errorf("decode event %x: %w", seq, err)
				}
				each(e)
			}
			removed++
			if err := evs.Delete(seq); err != nil {
				return false, 0, err
			}
		}
		if err := ue.Delete(k); err != nil {
			return false, 0, err
		}
	}
	if removed > 0 {
		if err := addCounter(tx, kEvents, -int64(removed)); err != nil {
			return false, 0, err
		}
	}
	return profile, len(ks), nil
}

// AppendEvents stores events in one durable transaction, assigning Seq and
// creating users seen for the first time.
func (s *Store) AppendEvents(ctx context.Context, evs []events.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.update(func(tx *bolt.Tx) error { return appendEvents(tx, evs) })
	if err != nil {
		for i := range evs {
			evs[i].Seq = 0
		}
	}
	return err
}

// appendEvents stores evs within tx, assigning Seq and creating users seen
// for the first time.
func appendEvents(tx *bolt.Tx, evs []events.Event) error {
	{
		eb, ue, users := tx.Bucket(bEvents), tx.Bucket(bUserEvents), tx.Bucket(bUsers)
		eb.FillPercent = 0.95
		newUsers := int64(0)
		// Index keys are written in sorted order: bbolt then touches each
		// leaf page once per run instead of at random.
		idx := make([][]byte, len(evs))
		for i := range evs {
			seq, err := eb.NextSequence()
			if err != nil {
				return err
			}
			evs[i].Seq = seq
			if err := eb.Put(seqKey(seq), encodeEvent(&evs[i])); err != nil {
				return err
			}
			idx[i] = userEventKey(evs[i].UserID, seq)
		}
		slices.SortFunc(idx, bytes.Compare)
		var lastUser []byte
		for _, k := range idx {
			if err := ue.Put(k, nil); err != nil {
				return err
			}
			user := k[:len(k)-9]
			if bytes.Equal(user, lastUser) {
				continue
			}
			lastUser = user
			if users.Get(user) == nil {
				seq := binary.BigEndian.Uint64(k[len(k)-8:])
				e := &evs[seq-evs[0].Seq]
				u, _ := json.Marshal(catalog.User{ID: e.UserID, CreatedAt: e.Timestamp})
				if err := users.Put([]byte(e.UserID), u); err != nil {
					return err
				}
				newUsers++
			}
		}
		if err := addCounter(tx, kUsers, newUsers); err != nil {
			return err
		}
		return addCounter(tx, kEvents, int64(len(evs)))
	}
}

// UserEvents returns a user's most recent events, newest first.
func (s *Store) UserEvents(ctx context.Context, userID string, limit int) ([]events.Event, error) {
	var out []events.Event
	err := s.view(func(tx *bolt.Tx) error {
		ue, eb := tx.Bucket(bUserEvents), tx.Bucket(bEvents)
		prefix := append([]byte(userID), 0)
		c := ue.Cursor()
		k, _ := c.Seek(userEventKey(userID, ^uint64(0)))
		if k == nil {
			k, _ = c.Last()
		} else if !bytes.Equal(k, userEventKey(userID, ^uint64(0))) {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k, _ = c.Prev() {
			if limit > 0 && len(out) >= limit {
				break
			}
			e, ok, err := indexedEvent(eb, k, prefix)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, e)
			}
		}
		return nil
	})
	return out, err
}

// indexedEvent reads the event a user_events key (prefix, then the 8-byte
// sequence number) points to; ok is false when the event is gone.
func indexedEvent(eb *bolt.Bucket, k, prefix []byte) (e events.Event, ok bool, err error) {
	v := eb.Get(k[len(prefix):])
	if v == nil {
		return e, false, nil
	}
	if err := decodeEvent(v, &e); err != nil {
		return e, false, fmt.Errorf("decode event %x: %w", k[len(prefix):], err)
	}
	return e, true, nil
}

// ScanEvents calls fn for every event after seq `after`, in order.
func (s *Store) ScanEvents(ctx context.Context, after uint64, fn func(events.Event) error) error {
	return s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bEvents).Cursor()
		n := 0
		for k, v := c.Seek(seqKey(after + 1)); k != nil; k, v = c.Next() {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			var e events.Event
			if err := decodeEvent(v, &e); err != nil {
				return fmt.Errorf("decode event %x: %w", k, err)
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
}

// CountEvents returns the number of events.
func (s *Store) CountEvents(ctx context.Context) (int, error) { return count(s, kEvents) }

func modelKey(name string, version int) []byte {
	k := append([]byte(name), 0)
	return binary.BigEndian.AppendUint32(k, uint32(version))
}

// SaveModel stores a new model version.
func (s *Store) SaveModel(ctx context.Context, meta store.ModelMeta, blob []byte) (int, error) {
	if meta.Name == "" {
		return 0, errors.New("save model: empty name")
	}
	err := s.update(func(tx *bolt.Tx) error {
		mb := tx.Bucket(bModels)
		prefix := append([]byte(meta.Name), 0)
		c := mb.Cursor()
		last := 0
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+4; k, _ = c.Next() {
			last = int(binary.BigEndian.Uint32(k[len(prefix):]))
		}
		meta.Version = last + 1
		meta.Size = int64(len(blob))
		if meta.CreatedAt.IsZero() {
			meta.CreatedAt = time.Now().UTC()
		}
		v, err := json.Marshal(meta)
		if err != nil {
			return err
		}
		key := modelKey(meta.Name, meta.Version)
		if err := mb.Put(key, v); err != nil {
			return err
		}
		return tx.Bucket(bBlobs).Put(key, blob)
	})
	return meta.Version, err
}

// ListModels lists model versions, oldest first within each name.
func (s *Store) ListModels(ctx context.Context, name string) ([]store.ModelMeta, error) {
	var out []store.ModelMeta
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bModels).Cursor()
		var prefix []byte
		if name != "" {
			prefix = append([]byte(name), 0)
		}
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var m store.ModelMeta
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("decode model meta %q: %w", k, err)
			}
			if name != "" && m.Name != name {
				continue
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// LoadModel returns one stored model version.
func (s *Store) LoadModel(ctx context.Context, name string, version int) (store.ModelMeta, []byte, error) {
	var meta store.ModelMeta
	var blob []byte
	err := s.view(func(tx *bolt.Tx) error {
		key := modelKey(name, version)
		v := tx.Bucket(bModels).Get(key)
		if v == nil {
			return store.ErrNotFound
		}
		if err := json.Unmarshal(v, &meta); err != nil {
			return err
		}
		blob = append([]byte(nil), tx.Bucket(bBlobs).Get(key)...)
		return nil
	})
	return meta, blob, err
}

// ReadModel streams a stored version from the memory-mapped file, with no
// copy of the artefact.
func (s *Store) ReadModel(ctx context.Context, name string, version int, fn func(store.ModelMeta, io.Reader) error) error {
	return s.view(func(tx *bolt.Tx) error {
		key := modelKey(name, version)
		v := tx.Bucket(bModels).Get(key)
		if v == nil {
			return store.ErrNotFound
		}
		var meta store.ModelMeta
		if err := json.Unmarshal(v, &meta); err != nil {
			return err
		}
		return fn(meta, bytes.NewReader(tx.Bucket(bBlobs).Get(key)))
	})
}

// UpdateModelMeta rewrites a stored version's metadata.
func (s *Store) UpdateModelMeta(ctx context.Context, meta store.ModelMeta) error {
	return s.update(func(tx *bolt.Tx) error {
		key := modelKey(meta.Name, meta.Version)
		mb := tx.Bucket(bModels)
		if mb.Get(key) == nil {
			return store.ErrNotFound
		}
		v, err := json.Marshal(meta)
		if err != nil {
			return err
		}
		return mb.Put(key, v)
	})
}
