package ann

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
)

// File format of an IVF index (all integers little-endian):
//
//	"AISLEIVF" magic, uint32 version (1), uint32 dim, uint32 lists,
//	uint32 nprobe, uint64 items,
//	lists × dim float32 centroids,
//	the head list, then every list: uint32 count, count int32 item indices,
//	count × dim float32 vectors,
//	uint32 CRC-32 (IEEE) of everything before it.
const (
	ivfMagic   = "AISLEIVF"
	ivfVersion = 1
	// maxDim bounds the dimension a file may declare.
	maxDim = 1 << 16
)

// WriteTo writes the index in the format ReadIVF reads. Concurrent searches
// may run meanwhile; Add waits until it is done.
func (x *IVF) WriteTo(w io.Writer) (int64, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	bw := bufio.NewWriterSize(w, 1<<16)
	cw := &countWriter{w: bw, h: crc32.NewIEEE()}
	e := &encoder{w: cw}
	e.bytes([]byte(ivfMagic))
	e.u32(ivfVersion)
	e.u32(uint32(x.dim))
	e.u32(uint32(len(x.lists)))
	e.u32(uint32(x.nprobe))
	e.u64(uint64(x.n))
	e.f32s(x.cent)
	for _, l := range append([]ivfList{x.head}, x.lists...) {
		e.u32(uint32(len(l.ids)))
		for _, id := range l.ids {
			e.u32(uint32(id))
		}
		e.f32s(l.vecs)
	}
	if e.err == nil {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], cw.h.Sum32())
		_, e.err = bw.Write(b[:])
		cw.n += 4
	}
	if e.err == nil {
		e.err = bw.Flush()
	}
	if e.err != nil {
		return cw.n, fmt.Errorf("write IVF index: %w", e.err)
	}
	return cw.n, nil
}

// ReadIVF reads an index written by (*IVF).WriteTo, checking its structure and
// checksum.
func ReadIVF(r io.Reader) (*IVF, error) {
	x, err := readIVF(r)
	if err != nil {
		return nil, fmt.Errorf("read IVF index: %w", err)
	}
	return x, nil
}

func readIVF(r io.Reader) (*IVF, error) {
	h := crc32.NewIEEE()
	d := &decoder{r: io.TeeReader(bufio.NewReaderSize(r, 1<<16), h)}
	magic := d.bytes(len(ivfMagic))
	if d.err == nil && string(magic) != ivfMagic {
		return nil, errors.New("not an IVF index (bad magic)")
	}
	if v := d.u32(); d.err == nil && v != ivfVersion {
		return nil, fmt.Errorf("unsupported version %d", v)
	}
	dim, nl, nprobe, n := int(d.u32()), int(d.u32()), int(d.u32()), d.u64()
	if d.err != nil {
		return nil, d.err
	}
	switch {
	case dim <= 0 || dim > maxDim:
		return nil, fmt.Errorf("bad dimension %d", dim)
	case n >= math.MaxInt32:
		return nil, fmt.Errorf("bad item count %d", n)
	case nl > int(n) || (n > 0 && nl == 0):
		return nil, fmt.Errorf("bad list count %d for %d items", nl, n)
	}
	x := &IVF{dim: dim, nprobe: max(1, nprobe), n: int(n)}
	cent := d.f32s(nl * dim)
	if d.err != nil {
		return nil, d.err
	}
	x.setCentroids(cent)
	lists := make([]ivfList, nl+1) // the head, then the lists
	seen := make([]uint64, (n+63)/64)
	total := 0
	for c := range lists {
		cnt := int(d.u32())
		if d.err != nil {
			return nil, d.err
		}
		if cnt > int(n)-total {
			return nil, fmt.Errorf("list %d holds %d items, more than the %d declared", c, cnt, n)
		}
		total += cnt
		ids := make([]int32, 0, min(cnt, 1<<16))
		for j := 0; j < cnt && d.err == nil; j++ {
			id := d.u32()
			if d.err == nil && (uint64(id) >= n || seen[id/64]&(1<<(id%64)) != 0) {
				return nil, fmt.Errorf("list %d: bad or repeated item index %d", c, id)
			}
			seen[id/64] |= 1 << (id % 64)
			ids = append(ids, int32(id))
		}
		lists[c] = ivfList{ids: ids, vecs: d.f32s(cnt * dim)}
		if d.err != nil {
			return nil, d.err
		}
	}
	if total != int(n) {
		return nil, fmt.Errorf("lists hold %d items, header says %d", total, n)
	}
	x.head, x.lists = lists[0], lists[1:]
	x.setScale()
	sum := h.Sum32()
	var b [4]byte
	if _, err := io.ReadFull(d.r, b[:]); err != nil {
		return nil, fmt.Errorf("checksum: %w", unexpected(err))
	}
	if binary.LittleEndian.Uint32(b[:]) != sum {
		return nil, errors.New("checksum mismatch: the file is damaged")
	}
	return x, nil
}

type countWriter struct {
	w io.Writer
	h hash.Hash32
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// encoder writes little-endian values, remembering the first error.
type encoder struct {
	w   io.Writer
	buf [1 << 14]byte
	err error
}

func (e *encoder) bytes(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

func (e *encoder) u32(v uint32) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	e.bytes(b[:])
}

func (e *encoder) u64(v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	e.bytes(b[:])
}

func (e *encoder) f32s(v []float32) {
	for len(v) > 0 && e.err == nil {
		n := min(len(v), len(e.buf)/4)
		for i, f := range v[:n] {
			binary.LittleEndian.PutUint32(e.buf[4*i:], math.Float32bits(f))
		}
		e.bytes(e.buf[:4*n])
		v = v[n:]
	}
}

// decoder reads little-endian values, remembering the first error. It grows
// slices as data arrives, so a damaged header cannot make it allocate more
// than the input holds.
type decoder struct {
	r   io.Reader
	buf [1 << 14]byte
	err error
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if _, err := io.ReadFull(d.r, d.buf[:n]); err != nil {
		d.err = unexpected(err)
		return nil
	}
	return d.buf[:n]
}

func (d *decoder) u32() uint32 {
	b := d.bytes(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (d *decoder) u64() uint64 {
	b := d.bytes(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func (d *decoder) f32s(n int) []float32 {
	out := make([]float32, 0, min(n, 1<<16))
	for len(out) < n && d.err == nil {
		m := min(n-len(out), len(d.buf)/4)
		b := d.bytes(4 * m)
		for i := 0; i < m && b != nil; i++ {
			f := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			out = append(out, f)
		}
	}
	return out
}
