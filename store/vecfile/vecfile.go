// Package vecfile keeps item vectors of one vector space in a single file:
// the cache of offline runs (`aisle eval search --vectors FILE`), so that
// repeated evaluations do not embed the catalogue again. It implements
// store.Vectors in memory; Load reads a file and Save writes one.
//
// File format (little-endian):
//
//	magic    "AISLEVEC"
//	version  uint32 (1)
//	space    uint16 length, bytes   (embedder identity, "use-lite-en/512")
//	dim      uint32                 (vector length; 0 when there are none)
//	count    uint32
//	count ×  uint16 id length, id bytes, 32-byte text hash, dim × float32
//	crc      uint32                 (CRC-32 IEEE of everything before it)
package vecfile

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/aisle-dev/aisle/store"
)

const (
	magic   = "AISLEVEC"
	version = 1
	// MaxDim bounds the vector length a file may declare.
	MaxDim = 1 << 16
	// MaxSpaceLen bounds the length of the space name.
	MaxSpaceLen = 1024
	hashLen     = 32
)

// ErrCorrupt is wrapped by decoding errors of a damaged or foreign file.
var ErrCorrupt = errors.New("corrupt vector file")

// File holds the vectors of one space. It is safe for concurrent use.
type File struct {
	space string

	mu    sync.Mutex
	dim   int
	vecs  map[string]store.ItemVector
	dirty bool
}

var _ store.Vectors = (*File)(nil)

// New returns an empty file for space.
func New(space string) *File {
	return &File{space: space, vecs: map[string]store.ItemVector{}}
}

// Load reads the file at path for space. A missing file gives an empty
// File; a file of another space, or a damaged one, is an error that says so.
func Load(path, space string) (*File, error) {
	f := New(space)
	r, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open vector cache: %w", err)
	}
	defer r.Close()
	got, dim, vecs, err := Decode(bufio.NewReader(r))
	if err != nil {
		return nil, fmt.Errorf("vector cache %s: %w (delete it, or pass another file)", path, err)
	}
	if got != space {
		return nil, fmt.Errorf("vector cache %s holds vectors of embedder %q, but this run embeds with %q: delete it, or pass another file", path, got, space)
	}
	f.dim = dim
	for _, v := range vecs {
		f.vecs[v.ItemID] = v
	}
	return f, nil
}

// Space returns the vector space of the file.
func (f *File) Space() string { return f.space }

// Len returns the number of vectors held.
func (f *File) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.vecs)
}

// Dirty reports whether vectors were added or removed since Load or Save.
func (f *File) Dirty() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dirty
}

// PutVectors adds or replaces vectors. They must be of the file's space and
// all of one length.
func (f *File) PutVectors(ctx context.Context, space string, vecs []store.ItemVector) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if space != f.space {
		return fmt.Errorf("vector file of %q cannot hold vectors of %q", f.space, space)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range vecs {
		if v.ItemID == "" || len(v.ItemID) > math.MaxUint16 {
			return fmt.Errorf("vector file: item id of length %d", len(v.ItemID))
		}
		if f.dim == 0 {
			f.dim = len(v.Vec)
		}
		if len(v.Vec) != f.dim || f.dim > MaxDim {
			return fmt.Errorf("vector file: item %q has a vector of length %d, want %d", v.ItemID, len(v.Vec), f.dim)
		}
		v.Vec = append([]float32(nil), v.Vec...)
		f.vecs[v.ItemID] = v
		f.dirty = true
	}
	return nil
}

// GetVectors returns the vectors of ids (nil Vec where none, and for every
// id when space is not the file's).
func (f *File) GetVectors(ctx context.Context, space string, ids []string) ([]store.ItemVector, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]store.ItemVector, len(ids))
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, id := range ids {
		out[i].ItemID = id
		if v, ok := f.vecs[id]; ok && space == f.space {
			out[i] = v
		}
	}
	return out, nil
}

// DeleteVectors removes the vectors of ids.
func (f *File) DeleteVectors(ctx context.Context, ids []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		if _, ok := f.vecs[id]; ok {
			delete(f.vecs, id)
			f.dirty = true
		}
	}
	return nil
}

// Save writes the file to path atomically (a temporary file renamed over
// it), creating the directory.
func (f *File) Save(path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("save vector cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".vectors-*")
	if err != nil {
		return fmt.Errorf("save vector cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	vecs := make([]store.ItemVector, 0, len(f.vecs))
	for _, v := range f.vecs {
		vecs = append(vecs, v)
	}
	sort.Slice(vecs, func(a, b int) bool { return vecs[a].ItemID < vecs[b].ItemID })
	w := bufio.NewWriter(tmp)
	err = Encode(w, f.space, vecs)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = tmp.Close()
	} else {
		tmp.Close()
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("save vector cache %s: %w", path, err)
	}
	f.dirty = false
	return nil
}

// Encode writes vecs of space in the file format. All vectors must have
// the same length.
func Encode(w io.Writer, space string, vecs []store.ItemVector) error {
	if len(space) > MaxSpaceLen {
		return fmt.Errorf("space name of %d bytes, at most %d", len(space), MaxSpaceLen)
	}
	dim := 0
	if len(vecs) > 0 {
		dim = len(vecs[0].Vec)
	}
	if dim > MaxDim {
		return fmt.Errorf("vectors of length %d, at most %d", dim, MaxDim)
	}
	crc := crc32.NewIEEE()
	bw := io.MultiWriter(w, crc)
	var buf []byte
	buf = append(buf, magic...)
	buf = binary.LittleEndian.AppendUint32(buf, version)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(len(space)))
	buf = append(buf, space...)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(dim))
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(vecs)))
	for _, v := range vecs {
		if len(v.Vec) != dim {
			return fmt.Errorf("item %q: vector of length %d, want %d", v.ItemID, len(v.Vec), dim)
		}
		if len(v.ItemID) == 0 || len(v.ItemID) > math.MaxUint16 {
			return fmt.Errorf("item id of length %d", len(v.ItemID))
		}
		buf = binary.LittleEndian.AppendUint16(buf, uint16(len(v.ItemID)))
		buf = append(buf, v.ItemID...)
		buf = append(buf, v.TextHash[:]...)
		for _, x := range v.Vec {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
		}
		if len(buf) >= 1<<16 {
			if _, err := bw.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if _, err := bw.Write(buf); err != nil {
		return err
	}
	_, err := w.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32()))
	return err
}

// Decode reads a file written by Encode and checks it whole: magic,
// version, lengths, finite values, no trailing bytes and the checksum.
// Errors wrap ErrCorrupt.
func Decode(r io.Reader) (space string, dim int, vecs []store.ItemVector, err error) {
	crc := crc32.NewIEEE()
	tr := io.TeeReader(r, crc)
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	read := func(n int, what string) ([]byte, error) {
		b := make([]byte, n)
		if _, err := io.ReadFull(tr, b); err != nil {
			return nil, bad("truncated %s", what)
		}
		return b, nil
	}
	head, err := read(len(magic)+4+2, "header")
	if err != nil {
		return "", 0, nil, err
	}
	if string(head[:len(magic)]) != magic {
		return "", 0, nil, bad("not an Aisle vector file")
	}
	if v := binary.LittleEndian.Uint32(head[len(magic):]); v != version {
		return "", 0, nil, bad("format version %d, this build reads %d", v, version)
	}
	n := int(binary.LittleEndian.Uint16(head[len(magic)+4:]))
	if n > MaxSpaceLen {
		return "", 0, nil, bad("space name of %d bytes", n)
	}
	sb, err := read(n+8, "header")
	if err != nil {
		return "", 0, nil, err
	}
	space = string(sb[:n])
	dim = int(binary.LittleEndian.Uint32(sb[n:]))
	count := binary.LittleEndian.Uint32(sb[n+4:])
	if dim > MaxDim {
		return "", 0, nil, bad("vector length %d", dim)
	}
	seen := map[string]bool{}
	vb := make([]byte, hashLen+4*dim)
	for k := uint32(0); k < count; k++ {
		lb, err := read(2, "record")
		if err != nil {
			return "", 0, nil, err
		}
		idb, err := read(int(binary.LittleEndian.Uint16(lb)), "record")
		if err != nil {
			return "", 0, nil, err
		}
		if len(idb) == 0 {
			return "", 0, nil, bad("record %d has an empty item id", k)
		}
		if _, err := io.ReadFull(tr, vb); err != nil {
			return "", 0, nil, bad("truncated record %d", k)
		}
		id := string(idb)
		if seen[id] {
			return "", 0, nil, bad("item %q twice", id)
		}
		seen[id] = true
		iv := store.ItemVector{ItemID: id, Vec: make([]float32, dim)}
		copy(iv.TextHash[:], vb)
		for i := range iv.Vec {
			x := math.Float32frombits(binary.LittleEndian.Uint32(vb[hashLen+4*i:]))
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return "", 0, nil, bad("item %q has a non-finite value", id)
			}
			iv.Vec[i] = x
		}
		vecs = append(vecs, iv)
	}
	sum := crc.Sum32()
	var tail [5]byte
	m, _ := io.ReadFull(r, tail[:])
	if m != 4 {
		return "", 0, nil, bad("checksum missing or trailing bytes")
	}
	if binary.LittleEndian.Uint32(tail[:4]) != sum {
		return "", 0, nil, bad("checksum mismatch")
	}
	return space, dim, vecs, nil
}
