package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DamagedError says that the data file cannot be served safely, why, and
// what to do. The file has not been modified.
type DamagedError struct {
	Path     string
	Problems []string
}

func (e *DamagedError) Error() string {
	msg := fmt.Sprintf("data file %s is damaged: %s", e.Path, e.Problems[0])
	if n := len(e.Problems) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more problems; `aisle check` lists them)", n)
	}
	return msg + ". The file was left untouched. Restore it from a backup, or salvage what can be read with `aisle recover --data DIR --to NEWDIR` and start on NEWDIR"
}

// ErrInUse is wrapped by the error of opening a data file that another
// process holds open.
var ErrInUse = errors.New("another aisle process is using this data directory (stop it, or pass a different --data)")

// ErrEmptyFile is wrapped by the error of opening a data directory whose
// data file exists but holds no bytes.
var ErrEmptyFile = errors.New("data file is empty")

// CheckReport is what Check found in a data file.
type CheckReport struct {
	Path     string
	Size     int64
	PageSize int
	TxID     uint64
	// Problems lists what is wrong, empty when the file is sound.
	Problems []string
}

// meta fields of a bbolt meta page (internal layout of bbolt format 2):
// a 16-byte page header, then magic, version, page size, flags (4 bytes
// each), root bucket (root page, sequence), freelist page, high-water page
// id, txid (8 bytes each) and an FNV-64a checksum of all of them.
type boltMeta struct {
	magic, version, pageSize uint32
	freelist, pgid, txid     uint64
}

const (
	boltMagic   = 0xED0CDAED
	boltVersion = 2
	metaOffset  = 16
	metaLen     = 64
)

func readMeta(buf []byte) (boltMeta, error) {
	if len(buf) < metaOffset+metaLen {
		return boltMeta{}, errors.New("too short")
	}
	m := buf[metaOffset : metaOffset+metaLen]
	le := binary.LittleEndian
	bm := boltMeta{magic: le.Uint32(m[0:]), version: le.Uint32(m[4:]), pageSize: le.Uint32(m[8:]),
		freelist: le.Uint64(m[32:]), pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}
	switch {
	case bm.magic != boltMagic:
		return bm, errors.New("not a bbolt database (bad magic number)")
	case bm.version != boltVersion:
		return bm, fmt.Errorf("unsupported format version %d", bm.version)
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != le.Uint64(m[56:]) {
		return bm, errors.New("checksum mismatch")
	}
	if bm.pageSize < 512 || bm.pageSize > 1<<20 || bm.pageSize&(bm.pageSize-1) != 0 {
		return bm, fmt.Errorf("implausible page size %d", bm.pageSize)
	}
	return bm, nil
}

// checkHeader reads the two meta pages with plain file reads (no mmap) and
// checks that the file is as long as the newest valid one says. bbolt
// itself trusts these and faults (SIGSEGV) on a truncated file.
func checkHeader(path string) (CheckReport, error) {
	rep := CheckReport{Path: path}
	f, err := os.Open(path)
	if err != nil {
		return rep, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return rep, err
	}
	rep.Size = st.Size()
	if rep.Size == 0 {
		return rep, fmt.Errorf("%w: %s has 0 bytes. If this is meant to be a new shop, delete the file and start again; otherwise restore it from a backup", ErrEmptyFile, path)
	}
	head := make([]byte, 4096)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return rep, err
	}
	m0, err0 := readMeta(head[:n])
	var metas []boltMeta
	if err0 == nil {
		metas = append(metas, m0)
	} else {
		rep.Problems = append(rep.Problems, "meta page 0: "+err0.Error())
	}
	// The second meta page sits one page in; if the first is unreadable
	// try the usual page sizes.
	sizes := []int64{4096, 8192, 16384, 65536}
	if err0 == nil {
		sizes = []int64{int64(m0.pageSize)}
	}
	var err1 error = errors.New("not found")
	for _, ps := range sizes {
		buf := make([]byte, metaOffset+metaLen)
		if _, err := f.ReadAt(buf, ps); err != nil {
			err1 = fmt.Errorf("cannot read: %v", err)
			continue
		}
		var m1 boltMeta
		if m1, err1 = readMeta(buf); err1 == nil {
			metas = append(metas, m1)
			break
		}
	}
	if err1 != nil {
		rep.Problems = append(rep.Problems, "meta page 1: "+err1.Error())
	}
	if len(metas) == 0 {
		return rep, nil
	}
	best := metas[0]
	for _, m := range metas[1:] {
		if m.txid > best.txid {
			best = m
		}
	}
	rep.PageSize, rep.TxID = int(best.pageSize), best.txid
	if need := int64(best.pgid) * int64(best.pageSize); rep.Size < need {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the file is truncated: %d bytes, but its last transaction needs %d", rep.Size, need))
	}
	if rep.Size%int64(best.pageSize) != 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the file size %d is not a multiple of the page size %d", rep.Size, best.pageSize))
	}
	return rep, nil
}

// guard runs fn, turning panics and memory faults inside bbolt (a damaged
// page it trusts) into an error.
func guard(what string, fn func() error) (err error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		debug.SetPanicOnFault(true)
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%s: bbolt failed on damaged data: %v", what, r)
			}
		}()
		err = fn()
	}()
	<-done
	return err
}

// Check examines the data file at path without modifying it: its meta
// pages and length, then bbolt's consistency check of every page
// reachable from the newest transaction (up to maxProblems problems, 0 =
// 100). The returned error is about reading the file at all (missing,
// empty, locked by a running server); damage is reported in Problems.
func Check(ctx context.Context, path string, maxProblems int) (CheckReport, error) {
	if maxProblems <= 0 {
		maxProblems = 100
	}
	rep, err := checkHeader(path)
	if err != nil || len(rep.Problems) > 0 {
		return rep, err
	}
	err = guard("check "+path, func() error {
		db, err := bolt.Open(path, 0o444, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
		if err != nil {
			if errors.Is(err, bolt.ErrTimeout) {
				return fmt.Errorf("open %s: %w", path, ErrInUse)
			}
			rep.Problems = append(rep.Problems, "open: "+err.Error())
			return nil
		}
		defer db.Close()
		return db.View(func(tx *bolt.Tx) error {
			for cerr := range tx.Check() {
				if len(rep.Problems) < maxProblems {
					rep.Problems = append(rep.Problems, cerr.Error())
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
			}
			return nil
		})
	})
	if err != nil && ctx.Err() == nil && !errors.Is(err, ErrInUse) {
		rep.Problems = append(rep.Problems, err.Error())
		err = nil
	}
	return rep, err
}
