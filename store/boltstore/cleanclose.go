package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// A clean close leaves a marker beside the data file (decision 0085):
// Close writes it after bbolt closed the file, naming the file's length,
// modification time, inode and last transaction; Open removes it once it
// holds the file. A start that finds a marker naming the file as it is
// checks only the meta pages and the length (checkHeader), not every page
// (bbolt's Tx.Check: 8–18 CPU-s and the whole file read at 1M products);
// any other start (no marker: the last run crashed or was killed, or the
// marker names another state of the file: written, replaced, restored or
// copied since) checks every page as before and refuses a damaged file.
//
// The risk taken: damage to the file's pages while no server had it open
// that leaves its length, modification time and inode as they were (a
// disk's silent bit rot, a tool that writes and then resets the time) is
// served instead of refused at start. `aisle check` still reads every
// page on demand.

// mtimeTick bounds the granularity of file modification times (the
// kernel's clock tick) with a margin.
const mtimeTick = 20 * time.Millisecond

// CleanFile is the marker's name in the data directory.
const CleanFile = FileName + ".clean"

// cleanMark is what the marker records of the data file.
type cleanMark struct {
	size, mtime int64
	ino         uint64
	txid        uint64
}

func (m cleanMark) String() string {
	return fmt.Sprintf("aisle clean close v1 size=%d mtime=%d ino=%d txid=%d\n", m.size, m.mtime, m.ino, m.txid)
}

// markOf describes the data file at path as it is now.
func markOf(path string) (cleanMark, error) {
	st, err := os.Stat(path)
	if err != nil {
		return cleanMark{}, err
	}
	m := cleanMark{size: st.Size(), mtime: st.ModTime().UnixNano()}
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		m.ino = uint64(s.Ino)
	}
	rep, err := checkHeader(path)
	if err != nil {
		return cleanMark{}, err
	}
	if len(rep.Problems) > 0 {
		return cleanMark{}, errors.New(rep.Problems[0])
	}
	m.txid = rep.TxID
	return m, nil
}

// closedCleanly reports whether the marker beside the data file at path
// names the file as it is now.
func closedCleanly(path string) bool {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(path), CleanFile))
	if err != nil {
		return false
	}
	m, err := markOf(path)
	return err == nil && bytes.Equal(b, []byte(m.String()))
}

// writeClean records a clean close of the data file at path: the marker
// is written to a temporary file, synced and renamed, so a crash leaves
// either no marker or a whole one.
func writeClean(path string) error {
	m, err := markOf(path)
	if err != nil {
		return fmt.Errorf("clean-close marker: %w", err)
	}
	// file times advance by clock ticks (up to 10 ms): a write in the tick
	// of the last one would leave the time as recorded, so the marker is
	// written once the clock is past it
	if d := time.Until(time.Unix(0, m.mtime).Add(mtimeTick)); d > 0 {
		time.Sleep(d)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, CleanFile+".tmp-*")
	if err != nil {
		return fmt.Errorf("clean-close marker: %w", err)
	}
	tmp := f.Name()
	_, err = f.WriteString(m.String())
	err = errors.Join(err, f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, CleanFile))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("clean-close marker: %w", err)
	}
	return nil
}

// dropClean removes the marker once the file is open for writing: from
// now until the next clean close, a start checks every page.
func dropClean(path string) error {
	dir := filepath.Dir(path)
	err := os.Remove(filepath.Join(dir, CleanFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("remove the clean-close marker: %w", err)
	}
	return nil
}

// StartCheck is how Open checked the data file.
type StartCheck struct {
	// Full is true when every page was checked (no clean close recorded
	// for the file as it is); false when only its meta pages and length
	// were. A new file is not checked (both false and Took 0).
	Full bool
	Took time.Duration
}
