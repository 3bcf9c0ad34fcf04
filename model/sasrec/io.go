package sasrec

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
)

// The file format (little-endian): magic "AISLESEQ", uint32 version (1),
// int32 items, dim, heads, ffn, maxlen, layers, attrs (attribute ids, 0
// without side information), float64 dropout and attn_dropout (kept for
// reference), uint64 parameter count, uint64 item–attribute links, the flat
// float32 parameters (layout in net.go), items float32 popularity scores,
// and when attrs > 0 the item→attribute relation as int32 row pointers
// (items+1) and int32 attribute ids (links), then int32 users, links and
// the users' last training items in the same form.

var magic = [8]byte{'A', 'I', 'S', 'L', 'E', 'S', 'E', 'Q'}

const formatVersion = 1

type header struct {
	Magic                                 [8]byte
	Version                               uint32
	Items, Dim, Heads, FFN, MaxLen, Layer int32
	Attrs                                 int32
	Dropout, AttnDropout                  float64
	Count, Links                          uint64
}

// Save implements model.Model.
func (m *Model) Save(w io.Writer) error {
	flat := m.flatWeights()
	if flat == nil {
		return errors.New("sasrec: save: model is not fitted")
	}
	bw := bufio.NewWriter(w)
	h := header{Magic: magic, Version: formatVersion, Items: int32(m.dm.items), Dim: int32(m.dm.d),
		Heads: int32(m.dm.heads), FFN: int32(m.dm.ffn), MaxLen: int32(m.dm.maxLen), Layer: int32(m.dm.layers),
		Attrs: int32(m.dm.attrs), Dropout: m.cfg.Dropout, AttnDropout: m.cfg.AttnDropout,
		Count: uint64(len(flat)), Links: uint64(len(m.attrs.idx))}
	if err := binary.Write(bw, binary.LittleEndian, &h); err != nil {
		return fmt.Errorf("sasrec: save: %w", err)
	}
	if err := writeFloats(bw, flat); err != nil {
		return fmt.Errorf("sasrec: save: %w", err)
	}
	if err := writeFloats(bw, m.pop); err != nil {
		return fmt.Errorf("sasrec: save: %w", err)
	}
	if m.dm.attrs > 0 {
		if err := binary.Write(bw, binary.LittleEndian, m.attrs.ptr); err != nil {
			return fmt.Errorf("sasrec: save: %w", err)
		}
		if err := binary.Write(bw, binary.LittleEndian, m.attrs.idx); err != nil {
			return fmt.Errorf("sasrec: save: %w", err)
		}
	}
	if err := writeCSR(bw, m.users); err != nil {
		return fmt.Errorf("sasrec: save: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("sasrec: save: %w", err)
	}
	return nil
}

// Load implements model.Model. The hyper-parameters stored in the file
// replace the model's architecture settings.
func (m *Model) Load(r io.Reader) error {
	br := bufio.NewReader(r)
	var h header
	if err := binary.Read(br, binary.LittleEndian, &h); err != nil {
		return fmt.Errorf("sasrec: load header: %w", err)
	}
	if h.Magic != magic {
		return errors.New("sasrec: load: not a sasrec model file")
	}
	if h.Version != formatVersion {
		return fmt.Errorf("sasrec: load: unsupported format version %d (want %d)", h.Version, formatVersion)
	}
	if h.Items < 1 || h.Items > 1<<26 {
		return fmt.Errorf("sasrec: load: item count %d out of range", h.Items)
	}
	c := m.cfg
	c.Dim, c.Heads, c.FFN, c.MaxLen, c.Layers = int(h.Dim), int(h.Heads), int(h.FFN), int(h.MaxLen), int(h.Layer)
	c.Dropout, c.AttnDropout = h.Dropout, h.AttnDropout
	if err := c.validate(); err != nil {
		return fmt.Errorf("sasrec: load: %w", err)
	}
	if h.Attrs < 0 || h.Attrs > 1<<24 || h.Links > 1<<28 || (h.Attrs == 0) != (h.Links == 0) {
		return fmt.Errorf("sasrec: load: attribute count %d / links %d out of range", h.Attrs, h.Links)
	}
	dm := dims{items: int(h.Items), d: c.Dim, heads: c.Heads, ffn: c.FFN, maxLen: c.MaxLen, layers: c.Layers, attrs: int(h.Attrs)}
	if uint64(dm.size()) != h.Count {
		return fmt.Errorf("sasrec: load: %d parameters, want %d for the stored shape", h.Count, dm.size())
	}
	w, err := readFloats(br, dm.size())
	if err != nil {
		return fmt.Errorf("sasrec: load parameters: %w", err)
	}
	pop, err := readFloats(br, dm.items)
	if err != nil {
		return fmt.Errorf("sasrec: load popularity: %w", err)
	}
	for _, v := range w {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return errors.New("sasrec: load: non-finite parameter")
		}
	}
	var attrs itemAttrs
	if dm.attrs > 0 {
		if attrs.ptr, err = readInt32s(br, dm.items+1); err != nil {
			return fmt.Errorf("sasrec: load attributes: %w", err)
		}
		if attrs.idx, err = readInt32s(br, int(h.Links)); err != nil {
			return fmt.Errorf("sasrec: load attributes: %w", err)
		}
		if attrs.ptr[0] != 0 || uint64(attrs.ptr[dm.items]) != h.Links {
			return errors.New("sasrec: load: corrupt item–attribute relation")
		}
		for j := 0; j < dm.items; j++ {
			if attrs.ptr[j+1] < attrs.ptr[j] {
				return errors.New("sasrec: load: corrupt item–attribute relation")
			}
		}
		for _, a := range attrs.idx {
			if a < 0 || int(a) >= dm.attrs {
				return fmt.Errorf("sasrec: load: attribute id %d outside 0..%d", a, dm.attrs-1)
			}
		}
	}
	users, err := readCSR(br, dm.items)
	if err != nil {
		return fmt.Errorf("sasrec: load user sequences: %w", err)
	}
	m.cfg, m.dm, m.w, m.pop, m.attrs, m.users = c, dm, w, pop, attrs, users
	m.p = dm.layout(w)
	m.items, m.q8, m.rest = nil, nil, nil
	m.refreshItems()
	m.pool = sync.Pool{}
	m.serveInt8()
	return nil
}

func writeFloats(w io.Writer, s []float32) error {
	buf := make([]byte, 4*4096)
	for len(s) > 0 {
		n := min(len(s), 4096)
		for i, v := range s[:n] {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		if _, err := w.Write(buf[:4*n]); err != nil {
			return err
		}
		s = s[n:]
	}
	return nil
}

// readChunk is the unit in which Load grows its slices, so that a file
// whose header claims a huge model fails at its end of data instead of
// allocating the claimed size up front.
const readChunk = 1 << 16

func readFloats(r io.Reader, n int) ([]float32, error) {
	s := make([]float32, 0, min(n, readChunk))
	buf := make([]byte, 4*readChunk)
	for len(s) < n {
		k := min(n-len(s), readChunk)
		if _, err := io.ReadFull(r, buf[:4*k]); err != nil {
			return nil, err
		}
		for i := 0; i < k; i++ {
			s = append(s, math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:])))
		}
	}
	return s, nil
}

func readInt32s(r io.Reader, n int) ([]int32, error) {
	s := make([]int32, 0, min(n, readChunk))
	buf := make([]byte, 4*readChunk)
	for len(s) < n {
		k := min(n-len(s), readChunk)
		if _, err := io.ReadFull(r, buf[:4*k]); err != nil {
			return nil, err
		}
		for i := 0; i < k; i++ {
			s = append(s, int32(binary.LittleEndian.Uint32(buf[4*i:])))
		}
	}
	return s, nil
}

func writeCSR(w io.Writer, a itemAttrs) error {
	rows := max(len(a.ptr)-1, 0)
	if err := binary.Write(w, binary.LittleEndian, [2]int32{int32(rows), int32(len(a.idx))}); err != nil {
		return err
	}
	if rows == 0 {
		return nil
	}
	if err := binary.Write(w, binary.LittleEndian, a.ptr); err != nil {
		return err
	}
	return binary.Write(w, binary.LittleEndian, a.idx)
}

// readCSR reads what writeCSR wrote, checking that the row pointers are
// monotone and the values lie in 0..limit-1.
func readCSR(r io.Reader, limit int) (itemAttrs, error) {
	var n [2]int32
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return itemAttrs{}, err
	}
	if n[0] < 0 || n[1] < 0 {
		return itemAttrs{}, errors.New("negative size")
	}
	if n[0] == 0 {
		return itemAttrs{}, nil
	}
	ptr, err := readInt32s(r, int(n[0])+1)
	if err != nil {
		return itemAttrs{}, err
	}
	idx, err := readInt32s(r, int(n[1]))
	if err != nil {
		return itemAttrs{}, err
	}
	if ptr[0] != 0 || ptr[n[0]] != n[1] {
		return itemAttrs{}, errors.New("corrupt row pointers")
	}
	for i := 1; i < len(ptr); i++ {
		if ptr[i] < ptr[i-1] {
			return itemAttrs{}, errors.New("corrupt row pointers")
		}
	}
	for _, v := range idx {
		if v < 0 || int(v) >= limit {
			return itemAttrs{}, fmt.Errorf("value %d outside 0..%d", v, limit-1)
		}
	}
	return itemAttrs{ptr: ptr, idx: idx}, nil
}
