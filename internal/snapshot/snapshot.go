// Package snapshot writes and reads the files that hold one part of a
// server's derived state (the counts the recommender learns from the event
// log, for one) together with the event Seq they cover, so that a start
// loads them and replays only the events after (decision 0040).
//
// A file is one part: a magic string, the format version, the part's name,
// the Seq, the payload and a SHA-256 of everything before it. Write makes
// a new file atomically (a temporary file, synced, renamed over the old
// one, the directory synced), so a crash leaves the old snapshot or the new
// one, never half of one; Read refuses a file that is truncated, damaged,
// of another version or of another part, and the caller replays the log
// instead.
package snapshot

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
)

// Version is the file format's version; a file of another is refused.
const Version = 1

const magic = "AISLESNP"

// MaxPayload bounds a payload read back (a damaged length must not make a
// reader allocate without bound).
const MaxPayload = 1 << 34

// ErrDamaged is wrapped by every error for a file that is not a valid
// snapshot of the part asked for.
var ErrDamaged = errors.New("snapshot damaged or of another format")

var partName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Path is where the snapshot of part is kept in dir.
func Path(dir, part string) string { return filepath.Join(dir, part+".snap") }

// Encode frames payload as the snapshot of part covering events up to seq.
func Encode(part string, seq uint64, payload []byte) []byte {
	b := make([]byte, 0, len(magic)+2+1+len(part)+16+len(payload)+sha256.Size)
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint16(b, Version)
	b = append(b, byte(len(part)))
	b = append(b, part...)
	b = binary.LittleEndian.AppendUint64(b, seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(payload)))
	b = append(b, payload...)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// Decode checks a file's bytes and returns the Seq it covers and its
// payload (a sub-slice of b). Errors wrap ErrDamaged.
func Decode(part string, b []byte) (seq uint64, payload []byte, err error) {
	bad := func(why string) (uint64, []byte, error) {
		return 0, nil, fmt.Errorf("%w: %s", ErrDamaged, why)
	}
	head := len(magic) + 2 + 1
	if len(b) < head+16+sha256.Size {
		return bad("too short")
	}
	if string(b[:len(magic)]) != magic {
		return bad("not a snapshot file")
	}
	if v := binary.LittleEndian.Uint16(b[len(magic):]); v != Version {
		return bad(fmt.Sprintf("format version %d, this server reads %d", v, Version))
	}
	n := int(b[head-1])
	if len(b) < head+n+16+sha256.Size {
		return bad("too short")
	}
	if got := string(b[head : head+n]); got != part {
		return bad(fmt.Sprintf("part %q, expected %q", got, part))
	}
	p := head + n
	seq = binary.LittleEndian.Uint64(b[p:])
	size := binary.LittleEndian.Uint64(b[p+8:])
	p += 16
	if size > MaxPayload || uint64(len(b)-p-sha256.Size) != size {
		return bad("payload length does not match the file")
	}
	end := p + int(size)
	if sum := sha256.Sum256(b[:end]); !bytes.Equal(sum[:], b[end:]) {
		return bad("checksum mismatch")
	}
	return seq, b[p:end], nil
}

// Write stores payload as dir's snapshot of part covering events up to
// seq, replacing the previous one atomically.
func Write(dir, part string, seq uint64, payload []byte) error {
	if !partName.MatchString(part) {
		return fmt.Errorf("snapshot: bad part name %q", part)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	f, err := os.CreateTemp(dir, part+".snap.tmp-*")
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if _, err := f.Write(Encode(part, seq, payload)); err != nil {
		f.Close()
		return fmt.Errorf("snapshot: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("snapshot: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("snapshot: close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, Path(dir, part)); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return syncDir(dir)
}

// Read returns the Seq and payload of dir's snapshot of part. A missing
// file is an error wrapping fs.ErrNotExist; a damaged one wraps
// ErrDamaged.
func Read(dir, part string) (seq uint64, payload []byte, err error) {
	b, err := os.ReadFile(Path(dir, part))
	if err != nil {
		return 0, nil, fmt.Errorf("snapshot: %w", err)
	}
	seq, payload, err = Decode(part, b)
	if err != nil {
		return 0, nil, fmt.Errorf("snapshot %s: %w", Path(dir, part), err)
	}
	return seq, payload, nil
}

// Remove deletes dir's snapshot of part (and the directory entry is
// synced, so the removal survives a crash). A missing file is not an
// error.
func Remove(dir, part string) error {
	err := os.Remove(Path(dir, part))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("snapshot: sync %s: %w", dir, err)
	}
	return nil
}
