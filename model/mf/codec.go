package mf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"unsafe"

	"github.com/aisle-dev/aisle/model/internal/hyper"
)

// The saved form of a factor model is a gob part (hyper.Save: kind,
// version, the parameters and the shape of the factors) followed by the
// float arrays raw (little-endian float32: U, V, then the item biases when
// present, then Pop). Loading streams the arrays straight into their
// slices, so a million-item model loads without a second copy in memory.

// factorsShape is factors without its float arrays.
type factorsShape struct {
	Dim, NumUsers, NumItems int
	HasBias                 bool
	UserIDs, ItemIDs        []string
}

func (f *factors) shape() factorsShape {
	return factorsShape{Dim: f.Dim, NumUsers: f.NumUsers, NumItems: f.NumItems, HasBias: f.ItemBias != nil, UserIDs: f.UserIDs, ItemIDs: f.ItemIDs}
}

// saveFactors writes the gob part v (which carries the shape) and the arrays.
func saveFactors(w io.Writer, kind string, version int, v any, f *factors) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	if err := hyper.Save(bw, kind, version, v); err != nil {
		return err
	}
	arrays := [][]float32{f.U, f.V}
	if f.ItemBias != nil {
		arrays = append(arrays, f.ItemBias)
	}
	arrays = append(arrays, f.Pop)
	var buf [4096]byte
	for _, a := range arrays {
		for len(a) > 0 {
			n := min(len(a), len(buf)/4)
			for i, x := range a[:n] {
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(x))
			}
			if _, err := bw.Write(buf[:4*n]); err != nil {
				return fmt.Errorf("save %s: %w", kind, err)
			}
			a = a[n:]
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("save %s: %w", kind, err)
	}
	return nil
}

// loadFactors reads the gob part into v, then the arrays of the shape that
// shape() returns once v is decoded.
func loadFactors(r io.Reader, kind string, version int, v any, shape func() factorsShape) (factors, error) {
	br := bufio.NewReaderSize(r, 1<<16) // an io.ByteReader: gob reads exactly its own part
	if err := hyper.Load(br, kind, version, v); err != nil {
		return factors{}, err
	}
	s := shape()
	if s.Dim <= 0 || s.Dim > 1<<16 || s.NumUsers < 0 || s.NumItems < 0 || len(s.UserIDs) > s.NumUsers || len(s.ItemIDs) > s.NumItems {
		return factors{}, fmt.Errorf("load %s: inconsistent factor sizes", kind)
	}
	f := factors{Dim: s.Dim, NumUsers: s.NumUsers, NumItems: s.NumItems, UserIDs: s.UserIDs, ItemIDs: s.ItemIDs}
	var err error
	if f.U, err = readFloats(br, int64(s.NumUsers)*int64(s.Dim)); err != nil {
		return factors{}, fmt.Errorf("load %s: user vectors: %w", kind, err)
	}
	if f.V, err = readFloats(br, int64(s.NumItems)*int64(s.Dim)); err != nil {
		return factors{}, fmt.Errorf("load %s: item vectors: %w", kind, err)
	}
	if s.HasBias {
		if f.ItemBias, err = readFloats(br, int64(s.NumItems)); err != nil {
			return factors{}, fmt.Errorf("load %s: item biases: %w", kind, err)
		}
	}
	if f.Pop, err = readFloats(br, int64(s.NumItems)); err != nil {
		return factors{}, fmt.Errorf("load %s: popularity: %w", kind, err)
	}
	return f, f.check()
}

// readFloats reads n little-endian float32s straight into the slice's
// memory (one copy from the reader, no per-value decoding on a
// little-endian machine). It grows the slice as data arrives, doubling, so
// a corrupt size cannot allocate more than twice what the input holds.
func readFloats(r io.Reader, n int64) ([]float32, error) {
	if n < 0 || n > 1<<34 {
		return nil, fmt.Errorf("%d floats is not a plausible size", n)
	}
	const chunk = 1 << 20 // values read per call (4 MB)
	out := make([]float32, 0, min(n, chunk))
	for int64(len(out)) < n {
		k := int(min(n-int64(len(out)), chunk))
		if len(out)+k > cap(out) {
			grown := make([]float32, len(out), min(n, max(2*int64(cap(out)), int64(len(out)+k))))
			copy(grown, out)
			out = grown
		}
		dst := out[len(out) : len(out)+k]
		b := unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 4*k)
		if m, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("truncated after %d of %d values: %w", len(out)+m/4, n, err)
		}
		if !littleEndian {
			for i := range dst {
				dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
		}
		out = out[:len(out)+k]
	}
	return out, nil
}

// littleEndian is whether float32s in memory are laid out as in the file.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
