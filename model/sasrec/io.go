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
// int32 items, dim, heads, ffn, maxlen, layers, float64 dropout and
// attn_dropout (kept for reference), uint64 parameter count, the flat
// float32 parameters (layout in net.go), then items float32 popularity scores.

var magic = [8]byte{'A', 'I', 'S', 'L', 'E', 'S', 'E', 'Q'}

const formatVersion = 1

type header struct {
	Magic                                 [8]byte
	Version                               uint32
	Items, Dim, Heads, FFN, MaxLen, Layer int32
	Dropout, AttnDropout                  float64
	Count                                 uint64
}

// Save implements model.Model.
func (m *Model) Save(w io.Writer) error {
	if m.w == nil {
		return errors.New("sasrec: save: model is not fitted")
	}
	bw := bufio.NewWriter(w)
	h := header{Magic: magic, Version: formatVersion, Items: int32(m.dm.items), Dim: int32(m.dm.d),
		Heads: int32(m.dm.heads), FFN: int32(m.dm.ffn), MaxLen: int32(m.dm.maxLen), Layer: int32(m.dm.layers),
		Dropout: m.cfg.Dropout, AttnDropout: m.cfg.AttnDropout, Count: uint64(len(m.w))}
	if err := binary.Write(bw, binary.LittleEndian, &h); err != nil {
		return fmt.Errorf("sasrec: save: %w", err)
	}
	if err := writeFloats(bw, m.w); err != nil {
		return fmt.Errorf("sasrec: save: %w", err)
	}
	if err := writeFloats(bw, m.pop); err != nil {
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
	dm := dims{items: int(h.Items), d: c.Dim, heads: c.Heads, ffn: c.FFN, maxLen: c.MaxLen, layers: c.Layers}
	if uint64(dm.size()) != h.Count {
		return fmt.Errorf("sasrec: load: %d parameters, want %d for the stored shape", h.Count, dm.size())
	}
	w := make([]float32, dm.size())
	if err := readFloats(br, w); err != nil {
		return fmt.Errorf("sasrec: load parameters: %w", err)
	}
	pop := make([]float32, dm.items)
	if err := readFloats(br, pop); err != nil {
		return fmt.Errorf("sasrec: load popularity: %w", err)
	}
	for _, v := range w {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return errors.New("sasrec: load: non-finite parameter")
		}
	}
	m.cfg, m.dm, m.w, m.pop = c, dm, w, pop
	m.p = dm.layout(w)
	m.pool = sync.Pool{}
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

func readFloats(r io.Reader, s []float32) error {
	buf := make([]byte, 4*4096)
	for len(s) > 0 {
		n := min(len(s), 4096)
		if _, err := io.ReadFull(r, buf[:4*n]); err != nil {
			return err
		}
		for i := range s[:n] {
			s[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
		}
		s = s[n:]
	}
	return nil
}
