package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"

	bolt "go.etcd.io/bbolt"

	"github.com/aisle-dev/aisle/events"
)

// bbolt page layout (format 2): a 16-byte header (id uint64, flags
// uint16, count uint16, overflow uint32); a leaf page then holds count
// 16-byte elements (flags, pos, ksize, vsize uint32; pos counts from the
// element itself) followed by the keys and values.
const (
	pageHeaderSize   = 16
	leafElementSize  = 16
	leafPageFlag     = 0x02
	bucketLeafFlag   = 0x01
	maxRawRecordSize = 64 << 20
)

// rawScan reads every leaf page of the file with plain reads (no mmap, so
// damage cannot fault) and calls fn for each key/value pair found. Pages
// no longer reachable (older versions of records) are included: callers
// must prefer records found through the tree.
func rawScan(ctx context.Context, path string, pageSize int, fn func(k, v []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	buf := make([]byte, pageSize)
	for off := int64(2 * pageSize); off+int64(pageSize) <= size; off += int64(pageSize) {
		if (off/int64(pageSize))%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
			return err
		}
		le := binary.LittleEndian
		if le.Uint64(buf) != uint64(off/int64(pageSize)) || le.Uint16(buf[8:])&leafPageFlag == 0 {
			continue
		}
		count := int(le.Uint16(buf[10:]))
		overflow := int64(le.Uint32(buf[12:]))
		page := buf
		if overflow > 0 {
			n := (overflow + 1) * int64(pageSize)
			if n > maxRawRecordSize || off+n > size {
				continue
			}
			page = make([]byte, n)
			if _, err := f.ReadAt(page, off); err != nil {
				continue
			}
		}
		for i := 0; i < count; i++ {
			e := pageHeaderSize + i*leafElementSize
			if e+leafElementSize > len(page) {
				break
			}
			flags, pos := le.Uint32(page[e:]), int(le.Uint32(page[e+4:]))
			ks, vs := int(le.Uint32(page[e+8:])), int(le.Uint32(page[e+12:]))
			start := e + pos
			if flags&bucketLeafFlag != 0 || pos < 0 || ks < 0 || vs < 0 || start < 0 || start+ks+vs > len(page) || start+ks+vs < start {
				continue
			}
			if err := fn(page[start:start+ks], page[start+ks:start+ks+vs]); err != nil {
				return err
			}
		}
	}
	return nil
}

// classify tells which bucket a raw record belongs to from its shape:
// events (8-byte seq key, binary event), items (JSON with "available") or
// users (JSON with only id, attributes, created_at); nil when unsure.
func classify(k, v []byte) []byte {
	if len(k) == 8 && len(v) > 0 && (v[0] == eventFormat1 || v[0] == eventFormat2 || v[0] == eventFormat3) {
		var e events.Event
		if decodeEvent(v, &e) == nil && e.Seq == binary.BigEndian.Uint64(k) {
			return bEvents
		}
		return nil
	}
	if len(v) == 0 || v[0] != '{' {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(v, &m) != nil {
		return nil
	}
	var id string
	if json.Unmarshal(m["id"], &id) != nil || id != string(k) {
		return nil
	}
	if _, ok := m["available"]; ok {
		return bItems
	}
	for f := range m {
		if f != "id" && f != "attributes" && f != "created_at" {
			return nil
		}
	}
	return bUsers
}

// salvageRaw adds the items, users and events found by a raw page scan
// that the copy does not hold yet, and returns how many per bucket.
func salvageRaw(ctx context.Context, path string, pageSize int, ddb *bolt.DB) (map[string]int, error) {
	added := map[string]int{}
	var batch []kv
	var kinds [][]byte
	flush := func() error {
		err := ddb.Update(func(tx *bolt.Tx) error {
			for i, r := range batch {
				b := tx.Bucket(kinds[i])
				if b.Get(r.k) != nil {
					continue
				}
				if err := b.Put(r.k, r.v); err != nil {
					return err
				}
				added[string(kinds[i])]++
			}
			return nil
		})
		batch, kinds = batch[:0], kinds[:0]
		return err
	}
	err := rawScan(ctx, path, pageSize, func(k, v []byte) error {
		kind := classify(k, v)
		if kind == nil {
			return nil
		}
		batch = append(batch, kv{bytes.Clone(k), bytes.Clone(v)})
		kinds = append(kinds, kind)
		if len(batch) == recoverChunk {
			return flush()
		}
		return nil
	})
	if err != nil {
		return added, err
	}
	return added, flush()
}
