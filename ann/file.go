package ann

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"unsafe"
)

// An IVF index is saved so that a restarted server, or a replica, loads it
// instead of clustering the items again. WriteTo writes it and ReadIVF
// reads it back; the caller names what the index was built from with a tag
// (model name, version and the build settings) and rebuilds when the tag
// of a saved index differs (ErrStale).
//
// File format (little-endian):
//
//	magic     "AISLEIVF"
//	version   uint32 (1)
//	tag       uint16 length, bytes
//	quant     uint8
//	dim       uint32
//	n         uint32   items (indices 0..n-1, each in exactly one list)
//	nprobe    uint32
//	rerank    uint32
//	lists     uint32
//	scale     float32  longest vector
//	headMin   float32  shortest vector of the head
//	lists × dim float32  centroids
//	dim float32        per-dimension scales (int8dim only)
//	pq only: m uint32 sub-quantisers, k uint32 centroids each, then the
//	  centroids of every sub-quantiser (k × its sub-dimension float32);
//	  sub-vector s covers dimensions s·dim/m .. (s+1)·dim/m
//	1+lists ×          the head, then every list:
//	  count uint32, count × int32 ids,
//	  float32: count × dim float32 | int8: count × pad16(dim) int8 codes |
//	  pq: count × m codes (each < k),
//	  then (int8 only) count × float32 scales
//	crc       uint32   CRC-32 (IEEE) of everything before it
//
// Lists (SaveLists) use the same format with quant 3 ("lists only"):
// nprobe = rerank = 1, scales 0, an empty head, lists of ids without
// codes; the ids are positions 0..n-1 in a key table that follows the
// lists: n × (uint16 length, key bytes, uint32 check), where the check is
// the caller's checksum of the vector the id was assigned by.
const (
	fileMagic   = "AISLEIVF"
	fileVersion = 1
	// MaxTagLen bounds the tag of a saved index.
	MaxTagLen  = 4096
	maxFileDim = 1 << 16
	// quantLists marks a file of Lists: ids only, then the key table.
	quantLists Quant = 3
)

// ErrStale is returned by LoadIVF when the saved index was built from
// something else than the caller names (another model version or other
// settings): rebuild it.
var ErrStale = errors.New("ann: saved index is stale")

// WriteTo writes the index, tagged with tag, to w.
func (x *IVF) WriteTo(w io.Writer, tag string) (int64, error) {
	if len(tag) > MaxTagLen {
		return 0, fmt.Errorf("ann: tag of %d bytes exceeds %d", len(tag), MaxTagLen)
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	crc := crc32.NewIEEE()
	cw := &countWriter{w: io.MultiWriter(w, crc)}
	bw := bufio.NewWriterSize(cw, 1<<20)
	le := binary.LittleEndian
	bw.Write(fileHeader(tag, x.quant, []int{x.dim, x.n, x.nprobe, x.rerank, len(x.lists)}, x.scale, x.headMin))
	writeF32(bw, x.cent)
	if x.quant == Int8Dim {
		writeF32(bw, x.dimScale)
	}
	if x.quant == PQ {
		bw.Write(le.AppendUint32(le.AppendUint32(nil, uint32(x.pq.m())), uint32(x.pq.k)))
		writeF32(bw, x.pq.cent)
	}
	for _, l := range append([]ivfList{x.head}, x.lists...) {
		bw.Write(le.AppendUint32(nil, uint32(len(l.ids))))
		bw.Write(bytesOf(l.ids))
		if x.quant == Float32 {
			writeF32(bw, l.vecs)
			continue
		}
		bw.Write(bytesOf(l.codes))
		if x.quant == Int8 {
			writeF32(bw, l.scales)
		}
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("ann: write index: %w", err)
	}
	if _, err := w.Write(le.AppendUint32(nil, crc.Sum32())); err != nil {
		return cw.n, fmt.Errorf("ann: write index: %w", err)
	}
	return cw.n + 4, nil
}

// fileHeader is the header of an index or lists file, up to the centroids.
func fileHeader(tag string, q Quant, sizes []int, scale, headMin float32) []byte {
	le := binary.LittleEndian
	var hdr []byte
	hdr = append(hdr, fileMagic...)
	hdr = le.AppendUint32(hdr, fileVersion)
	hdr = le.AppendUint16(hdr, uint16(len(tag)))
	hdr = append(hdr, tag...)
	hdr = append(hdr, byte(q))
	for _, v := range sizes {
		hdr = le.AppendUint32(hdr, uint32(v))
	}
	hdr = le.AppendUint32(hdr, math.Float32bits(scale))
	return le.AppendUint32(hdr, math.Float32bits(headMin))
}

// ReadIVF reads an index written by WriteTo and returns it with its tag.
// It checks the whole file (sizes, every id once, the checksum) before
// returning: a truncated or damaged file is an error, never a partial
// index.
func ReadIVF(r io.Reader) (*IVF, string, error) {
	x, _, tag, err := readFile(r)
	if err == nil && x.quant == quantLists {
		return nil, "", errors.New("ann: read index: the file holds lists without vectors (SaveLists), not an index")
	}
	return x, tag, err
}

// readFile reads an index or lists file; keys is the key table of a lists
// file (quant quantLists, whose IVF has no codes).
func readFile(r io.Reader) (*IVF, []ListKey, string, error) {
	crc := crc32.NewIEEE()
	br := bufio.NewReaderSize(r, 1<<20)
	tr := io.TeeReader(br, crc)
	le := binary.LittleEndian
	fail := func(format string, args ...any) (*IVF, []ListKey, string, error) {
		return nil, nil, "", fmt.Errorf("ann: read index: "+format, args...)
	}
	head := make([]byte, len(fileMagic)+4+2)
	if _, err := io.ReadFull(tr, head); err != nil {
		return fail("header: %w", err)
	}
	if string(head[:len(fileMagic)]) != fileMagic {
		return fail("not an index file")
	}
	if v := le.Uint32(head[8:]); v != fileVersion {
		return fail("version %d, want %d", v, fileVersion)
	}
	tagb := make([]byte, le.Uint16(head[12:]))
	if len(tagb) > MaxTagLen {
		return fail("tag of %d bytes", len(tagb))
	}
	if _, err := io.ReadFull(tr, tagb); err != nil {
		return fail("tag: %w", err)
	}
	fix := make([]byte, 1+5*4+2*4)
	if _, err := io.ReadFull(tr, fix); err != nil {
		return fail("header: %w", err)
	}
	x := &IVF{quant: Quant(fix[0])}
	u := func(i int) int { return int(le.Uint32(fix[1+4*i:])) }
	x.dim, x.n, x.nprobe, x.rerank = u(0), u(1), u(2), u(3)
	nl := u(4)
	x.scale = math.Float32frombits(le.Uint32(fix[21:]))
	x.headMin = math.Float32frombits(le.Uint32(fix[25:]))
	switch {
	case x.quant > Int8Dim && x.quant != quantLists && x.quant != PQ:
		return fail("unknown quantisation %d", x.quant)
	case x.dim <= 0 || x.dim > maxFileDim:
		return fail("dimension %d", x.dim)
	case x.n < 0 || x.n >= math.MaxInt32:
		return fail("%d items", x.n)
	case nl > x.n || (nl == 0 && x.n > 0):
		return fail("%d lists for %d items", nl, x.n)
	case x.nprobe <= 0 || x.rerank <= 0 || x.nprobe > math.MaxInt32 || x.rerank > math.MaxInt32:
		return fail("nprobe %d, rerank %d", x.nprobe, x.rerank)
	}
	if x.quant != Float32 && x.quant != quantLists && x.quant != PQ {
		x.pdim = padDim(x.dim)
	}
	cent, err := readSlice[float32](tr, nl*x.dim)
	if err != nil {
		return fail("centroids: %w", err)
	}
	if nl > 0 {
		x.setCentroids(cent)
	}
	if x.quant == Int8Dim {
		if x.dimScale, err = readSlice[float32](tr, x.dim); err != nil {
			return fail("scales: %w", err)
		}
	}
	if x.quant == PQ {
		var mb [8]byte
		if _, err := io.ReadFull(tr, mb[:]); err != nil {
			return fail("quantiser: %w", err)
		}
		m, k := int(le.Uint32(mb[:])), int(le.Uint32(mb[4:]))
		if x.pq, err = newPQBook(x.dim, m, k); err != nil {
			return fail("quantiser: %w", err)
		}
		if x.pq.cent, err = readSlice[float32](tr, len(x.pq.cent)); err != nil {
			return fail("quantiser: %w", err)
		}
		x.pdim = m
	}
	total := 0
	x.lists = make([]ivfList, nl)
	for li := -1; li < nl; li++ {
		l := &x.head
		if li >= 0 {
			l = &x.lists[li]
		}
		var cb [4]byte
		if _, err := io.ReadFull(tr, cb[:]); err != nil {
			return fail("list %d: %w", li, err)
		}
		count := int(le.Uint32(cb[:]))
		if count > x.n-total {
			return fail("list %d holds %d items, more than the %d left", li, count, x.n-total)
		}
		total += count
		if l.ids, err = readSlice[int32](tr, count); err != nil {
			return fail("list %d ids: %w", li, err)
		}
		if x.quant == quantLists {
			continue
		}
		if x.quant == Float32 {
			if l.vecs, err = readSlice[float32](tr, count*x.dim); err != nil {
				return fail("list %d vectors: %w", li, err)
			}
			continue
		}
		if l.codes, err = readSlice[int8](tr, count*x.pdim); err != nil {
			return fail("list %d codes: %w", li, err)
		}
		if x.quant == Int8 {
			if l.scales, err = readSlice[float32](tr, count); err != nil {
				return fail("list %d scales: %w", li, err)
			}
		}
	}
	if total != x.n {
		return fail("lists hold %d items, header says %d", total, x.n)
	}
	// Every item in exactly one list (checked now that the file has shown
	// it really holds n ids).
	seen := make([]uint64, (x.n+63)/64)
	for li, l := range append([]ivfList{x.head}, x.lists...) {
		for _, id := range l.ids {
			if id < 0 || int(id) >= x.n || seen[id/64]&(1<<(id%64)) != 0 {
				return fail("list %d: item %d out of range or repeated", li-1, id)
			}
			seen[id/64] |= 1 << (id % 64)
		}
		if x.quant == PQ {
			for _, c := range l.codes { // a code names one of k centroids
				if int(uint8(c)) >= x.pq.k {
					return fail("list %d: code %d of %d centroids", li-1, uint8(c), x.pq.k)
				}
			}
		} else if x.quant != Float32 && x.quant != quantLists {
			for j := range l.ids { // the padding of a code must be zero
				for _, c := range l.codes[j*x.pdim+x.dim : (j+1)*x.pdim] {
					if c != 0 {
						return fail("list %d: code padding is not zero", li-1)
					}
				}
			}
		}
	}
	var keys []ListKey
	if x.quant == quantLists {
		keys = make([]ListKey, 0, min(x.n, 1<<16))
		for i := range x.n {
			var lb [2]byte
			if _, err := io.ReadFull(tr, lb[:]); err != nil {
				return fail("key %d: %w", i, err)
			}
			kb := make([]byte, le.Uint16(lb[:])+4)
			if _, err := io.ReadFull(tr, kb); err != nil {
				return fail("key %d: %w", i, err)
			}
			keys = append(keys, ListKey{Name: string(kb[:len(kb)-4]), Check: le.Uint32(kb[len(kb)-4:])})
		}
	}
	sum := crc.Sum32()
	var cb [4]byte
	if _, err := io.ReadFull(br, cb[:]); err != nil {
		return fail("checksum: %w", err)
	}
	if le.Uint32(cb[:]) != sum {
		return fail("checksum mismatch: the file is damaged")
	}
	return x, keys, string(tagb), nil
}

// SaveIVF writes x tagged with tag to path atomically (a temporary file in
// the same directory, synced, then renamed).
func SaveIVF(path string, x *IVF, tag string) error {
	return saveFile(path, func(w io.Writer) error {
		_, err := x.WriteTo(w, tag)
		return err
	})
}

// saveFile writes path atomically with write.
func saveFile(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("ann: save index: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("ann: save index: %w", err)
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("ann: save index %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("ann: save index %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("ann: save index %s: %w", path, err)
	}
	return nil
}

// LoadIVF reads the index saved at path. It returns ErrStale (wrapped)
// when the file's tag is not tag, and an error satisfying
// errors.Is(err, fs.ErrNotExist) when there is no file.
func LoadIVF(path, tag string) (*IVF, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ann: load index: %w", err)
	}
	defer f.Close()
	x, _, err := readTagged(f, tag)
	if err == nil && x.quant == quantLists {
		err = errors.New("ann: load index: the file holds lists without vectors (SaveLists), not an index")
	}
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return x, nil
}

// readTagged reads the tag first, so that a stale file is recognised
// without reading it all, and the rest only when it matches.
func readTagged(f io.ReadSeeker, tag string) (*IVF, []ListKey, error) {
	head := make([]byte, len(fileMagic)+4+2+MaxTagLen)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if n >= len(fileMagic)+6 && string(head[:len(fileMagic)]) == fileMagic {
		tl := int(binary.LittleEndian.Uint16(head[12:]))
		if 14+tl <= n && string(head[14:14+tl]) != tag {
			return nil, nil, fmt.Errorf("%w: built for %q, want %q", ErrStale, head[14:14+tl], tag)
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, nil, fmt.Errorf("ann: load index: %w", err)
	}
	x, keys, got, err := readFile(f)
	if err != nil {
		return nil, nil, err
	}
	if got != tag {
		return nil, nil, fmt.Errorf("%w: built for %q, want %q", ErrStale, got, tag)
	}
	return x, keys, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// bytesOf views a slice of fixed-size numbers as its little-endian bytes
// (amd64 and arm64 are little-endian; see the init check).
func bytesOf[T int8 | int32 | float32](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(s[0])))
}

func init() {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		panic("ann: index files assume a little-endian machine")
	}
}

func writeF32(w io.Writer, v []float32) { w.Write(bytesOf(v)) }

// readSlice reads n numbers, in chunks so that a lying header cannot make
// it allocate much more than the file holds.
func readSlice[T int8 | int32 | float32](r io.Reader, n int) ([]T, error) {
	const chunk = 1 << 18
	out := make([]T, 0, min(n, chunk))
	for len(out) < n {
		m := min(chunk, n-len(out))
		start := len(out)
		out = append(out, make([]T, m)...)
		if _, err := io.ReadFull(r, bytesOf(out[start:])); err != nil {
			return nil, err
		}
	}
	return out, nil
}
