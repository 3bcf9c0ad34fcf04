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
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// RecoverReport says what Recover salvaged.
type RecoverReport struct {
	// Copied counts the records copied per bucket ("vectors/<space>" for
	// nested ones).
	Copied map[string]int
	// Problems lists the damage met; records past it in key order may be
	// lost (Recover reads each bucket forwards and backwards up to the damage).
	Problems             []string
	Items, Users, Events int
}

type kv struct{ k, v []byte }

// recoverChunk bounds how many records are read per read transaction.
const recoverChunk = 10000

// Recover copies every record that can still be read from the data file at
// src into a new data directory dstDir, which must not hold a data file
// yet; src is only read. The copy's indexes (a user's events) and counters
// are rebuilt from what was salvaged, and users that only appear in
// salvaged events are recreated. progress, when not nil, is called with the
// bucket being read and the records copied so far.
func Recover(ctx context.Context, src, dstDir string, progress func(bucket string, copied int)) (RecoverReport, error) {
	rep := RecoverReport{Copied: map[string]int{}}
	dstPath := filepath.Join(dstDir, FileName)
	if _, err := os.Stat(dstPath); err == nil {
		return rep, fmt.Errorf("%s already exists: recover into a new, empty directory", dstPath)
	}
	if abs1, _ := filepath.Abs(src); abs1 == mustAbs(dstPath) {
		return rep, errors.New("the target is the damaged file itself: pass another --to directory")
	}
	hdr, err := checkHeader(src)
	if err != nil {
		return rep, err
	}
	if hdr.PageSize == 0 {
		// Neither meta page is readable, so there is no tree to walk: scan
		// the leaf pages of the file, assuming the usual page size.
		return recoverRaw(ctx, src, dstDir, hdr, rep)
	}
	// Work on a copy padded to the length the newest transaction expects:
	// bbolt maps the file and faults on pages past its end.
	tmp, err := os.CreateTemp(dstDir, "recover-*.db")
	if err != nil {
		if err := os.MkdirAll(dstDir, 0o755); err != nil {
			return rep, fmt.Errorf("create %s: %w", dstDir, err)
		}
		if tmp, err = os.CreateTemp(dstDir, "recover-*.db"); err != nil {
			return rep, err
		}
	}
	defer os.Remove(tmp.Name())
	in, err := os.Open(src)
	if err != nil {
		tmp.Close()
		return rep, err
	}
	_, err = io.Copy(tmp, in)
	in.Close()
	if err == nil {
		need := hdr.Size
		for _, p := range hdr.Problems {
			var have, want int64
			if _, e := fmt.Sscanf(p, "the file is truncated: %d bytes, but its last transaction needs %d", &have, &want); e == nil {
				need = want
			}
		}
		ps := int64(hdr.PageSize)
		need = (need + ps - 1) / ps * ps
		if need > hdr.Size {
			err = tmp.Truncate(need)
		}
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return rep, fmt.Errorf("copy %s: %w", src, err)
	}

	var sdb *bolt.DB
	if err := guard("open "+src, func() error {
		var err error
		sdb, err = bolt.Open(tmp.Name(), 0o444, &bolt.Options{ReadOnly: true})
		return err
	}); err != nil {
		return rep, fmt.Errorf("%s cannot be opened even read-only (%v): nothing can be salvaged with this tool; restore a backup", src, err)
	}
	defer sdb.Close()

	dst, err := Open(dstDir)
	if err != nil {
		return rep, err
	}
	defer dst.Close()

	var eventSeq uint64
	_ = guard("read the event sequence", func() error {
		return sdb.View(func(tx *bolt.Tx) error {
			if b := tx.Bucket(bEvents); b != nil {
				eventSeq = b.Sequence()
			}
			return nil
		})
	})
	skip := map[string]bool{string(bUserEvents): true, string(bMeta): true}
	var tops [][]byte
	if err := guard("list buckets", func() error {
		return sdb.View(func(tx *bolt.Tx) error {
			return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
				tops = append(tops, bytes.Clone(name))
				return nil
			})
		})
	}); err != nil {
		rep.Problems = append(rep.Problems, err.Error())
		tops = [][]byte{bItems, bUsers, bEvents, bModels, bBlobs, bVectors}
	}
	queue := [][][]byte{}
	for _, t := range tops {
		if !skip[string(t)] {
			queue = append(queue, [][]byte{t})
		}
	}
	for len(queue) > 0 {
		path := queue[0]
		queue = queue[1:]
		subs, err := recoverBucket(ctx, sdb, dst.db, path, &rep, progress)
		if err != nil {
			return rep, err
		}
		for _, s := range subs {
			queue = append(queue, append(slices2(path), s))
		}
	}
	if len(rep.Problems) > 0 {
		// The tree is damaged: look for records in every leaf page too.
		added, err := salvageRaw(ctx, tmp.Name(), hdr.PageSize, dst.db)
		for b, n := range added {
			rep.Copied[b+" (raw page scan)"] = n
		}
		if err != nil {
			rep.Problems = append(rep.Problems, "raw page scan: "+err.Error())
		}
	}
	if err := dst.rebuildIndexes(ctx, eventSeq); err != nil {
		return rep, fmt.Errorf("rebuild indexes of %s: %w", dstPath, err)
	}
	rep.Items, _ = dst.CountItems(ctx)
	rep.Users, _ = dst.CountUsers(ctx)
	rep.Events, _ = dst.CountEvents(ctx)
	return rep, nil
}

// recoverRaw salvages by the raw leaf-page scan alone.
func recoverRaw(ctx context.Context, src, dstDir string, hdr CheckReport, rep RecoverReport) (RecoverReport, error) {
	rep.Problems = append(rep.Problems, hdr.Problems...)
	dst, err := Open(dstDir)
	if err != nil {
		return rep, err
	}
	defer dst.Close()
	added, err := salvageRaw(ctx, src, os.Getpagesize(), dst.db)
	for b, n := range added {
		rep.Copied[b+" (raw page scan)"] = n
	}
	if err != nil {
		return rep, fmt.Errorf("scan %s: %w", src, err)
	}
	if len(added) == 0 {
		return rep, fmt.Errorf("%s: neither meta page is readable (%s) and no record was found in its pages: nothing can be salvaged with this tool; restore a backup", src, strings.Join(hdr.Problems, "; "))
	}
	if err := dst.rebuildIndexes(ctx, 0); err != nil {
		return rep, fmt.Errorf("rebuild indexes of %s: %w", dstDir, err)
	}
	rep.Items, _ = dst.CountItems(ctx)
	rep.Users, _ = dst.CountUsers(ctx)
	rep.Events, _ = dst.CountEvents(ctx)
	return rep, nil
}

func mustAbs(p string) string {
	a, _ := filepath.Abs(p)
	return a
}

func slices2(p [][]byte) [][]byte { return append([][]byte(nil), p...) }

func bucketAt(tx *bolt.Tx, path [][]byte) *bolt.Bucket {
	b := tx.Bucket(path[0])
	for _, p := range path[1:] {
		if b == nil {
			return nil
		}
		b = b.Bucket(p)
	}
	return b
}

// recoverBucket copies the readable records of one bucket: forwards from
// the first key until damage, then backwards from the last key down to
// where the forward pass stopped. It returns the names of nested buckets.
func recoverBucket(ctx context.Context, sdb, ddb *bolt.DB, path [][]byte, rep *RecoverReport, progress func(string, int)) ([][]byte, error) {
	name := string(bytes.Join(path, []byte("/")))
	var subs [][]byte
	write := func(recs []kv) error {
		if len(recs) == 0 {
			return nil
		}
		err := ddb.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(path[0])
			if err != nil {
				return err
			}
			for _, p := range path[1:] {
				if b, err = b.CreateBucketIfNotExists(p); err != nil {
					return err
				}
			}
			for _, r := range recs {
				if err := b.Put(r.k, r.v); err != nil {
					return err
				}
			}
			return nil
		})
		rep.Copied[name] += len(recs)
		if progress != nil {
			progress(name, rep.Copied[name])
		}
		return err
	}
	// read reads up to recoverChunk records after (forward) or before
	// (backward) key from; nil from = from the start or end.
	read := func(from []byte, forward bool) ([]kv, bool, error) {
		var recs []kv
		done := false
		err := guard("read "+name, func() error {
			return sdb.View(func(tx *bolt.Tx) error {
				b := bucketAt(tx, path)
				if b == nil {
					done = true
					return nil
				}
				c := b.Cursor()
				var k, v []byte
				switch {
				case from == nil && forward:
					k, v = c.First()
				case from == nil:
					k, v = c.Last()
				case forward:
					if k, v = c.Seek(from); k != nil && bytes.Equal(k, from) {
						k, v = c.Next()
					}
				default:
					k, v = c.Seek(from)
					k, v = c.Prev()
					if k == nil {
						// Seek ran past the end: the previous key is the last.
						if k2, _ := c.Last(); k2 != nil && bytes.Compare(k2, from) < 0 {
							k, v = c.Last()
						}
					}
				}
				for ; k != nil; k, v = step(c, forward) {
					if v == nil {
						if forward {
							subs = append(subs, bytes.Clone(k))
						}
						continue
					}
					recs = append(recs, kv{bytes.Clone(k), bytes.Clone(v)})
					if len(recs) == recoverChunk {
						return nil
					}
				}
				done = true
				return nil
			})
		})
		return recs, done, err
	}
	var lastFwd []byte
	damaged := false
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		recs, done, err := read(lastFwd, true)
		if werr := write(recs); werr != nil {
			return nil, werr
		}
		if len(recs) > 0 {
			lastFwd = recs[len(recs)-1].k
		}
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: reading forwards stopped after %d records: %v", name, rep.Copied[name], err))
			damaged = true
			break
		}
		if done {
			break
		}
	}
	if !damaged {
		return subs, nil
	}
	var from []byte
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		recs, done, err := read(from, false)
		stop := false
		kept := recs[:0]
		for _, r := range recs {
			if lastFwd != nil && bytes.Compare(r.k, lastFwd) <= 0 {
				stop = true
				break
			}
			kept = append(kept, r)
		}
		if werr := write(kept); werr != nil {
			return nil, werr
		}
		if len(recs) > 0 {
			from = recs[len(recs)-1].k
		}
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: reading backwards stopped: %v", name, err))
			break
		}
		if done || stop || len(recs) == 0 {
			break
		}
	}
	return subs, nil
}

func step(c *bolt.Cursor, forward bool) ([]byte, []byte) {
	if forward {
		return c.Next()
	}
	return c.Prev()
}

// rebuildIndexes recreates the user_events index, users only known from
// their events, the event sequence and the counters from the records held.
func (s *Store) rebuildIndexes(ctx context.Context, eventSeq uint64) error {
	return s.update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bUserEvents); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
			return err
		}
		ue, err := tx.CreateBucket(bUserEvents)
		if err != nil {
			return err
		}
		eb, users := tx.Bucket(bEvents), tx.Bucket(bUsers)
		var nEvents, last uint64
		var bad [][]byte
		err = eb.ForEach(func(k, v []byte) error {
			var e events.Event
			if len(k) != 8 || decodeEvent(v, &e) != nil {
				bad = append(bad, bytes.Clone(k))
				return nil
			}
			seq := binary.BigEndian.Uint64(k)
			last = max(last, seq)
			nEvents++
			if err := ue.Put(userEventKey(e.UserID, seq), nil); err != nil {
				return err
			}
			if users.Get([]byte(e.UserID)) == nil {
				u, _ := json.Marshal(catalog.User{ID: e.UserID, CreatedAt: e.Timestamp})
				return users.Put([]byte(e.UserID), u)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range bad {
			if err := eb.Delete(k); err != nil {
				return err
			}
		}
		if err := eb.SetSequence(max(eventSeq, last)); err != nil {
			return err
		}
		set := func(key []byte, n uint64) error {
			return tx.Bucket(bMeta).Put(key, binary.BigEndian.AppendUint64(nil, n))
		}
		if err := set(kEvents, nEvents); err != nil {
			return err
		}
		if err := set(kItems, keys(tx.Bucket(bItems))); err != nil {
			return err
		}
		return set(kUsers, keys(users))
	})
}

func keys(b *bolt.Bucket) uint64 {
	n := uint64(0)
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}
