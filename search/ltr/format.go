package ltr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// File format, version 1 (all integers little-endian or uvarint):
//
//	magic "AISLELTR", uint16 version (1), byte algorithm (1 lambdamart, 2 linear),
//	uvarint K, uvarint feature count, per feature: uvarint length + UTF-8 name;
//	lambdamart: float64 base, uvarint tree count, per tree: uvarint internal
//	  node count, per node: uvarint feature, float32 threshold, varint left,
//	  varint right (>= 0 an internal node after this one, < 0 leaf ^c);
//	  uvarint leaf count, float64 per leaf;
//	linear: per feature float64 mean, scale, weight;
//	uint32 CRC-32 (IEEE) of everything before it.
const (
	magic       = "AISLELTR"
	version     = 1
	maxFeatures = 4096
	maxNameLen  = 256
	maxTrees    = 100_000
	maxNodes    = 1 << 16
	maxFileSize = 256 << 20
)

// Save writes the model in the versioned binary format.
func (m *Model) Save(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString(magic)
	b.Write(binary.LittleEndian.AppendUint16(nil, version))
	put := func(v uint64) { b.Write(binary.AppendUvarint(nil, v)) }
	puti := func(v int64) { b.Write(binary.AppendVarint(nil, v)) }
	putf := func(v float64) { b.Write(binary.LittleEndian.AppendUint64(nil, math.Float64bits(v))) }
	switch m.algo {
	case AlgorithmLambdaMART:
		b.WriteByte(1)
	case AlgorithmLinear:
		b.WriteByte(2)
	default:
		return fmt.Errorf("ltr: save: unknown algorithm %q", m.algo)
	}
	put(uint64(m.k))
	put(uint64(len(m.features)))
	for _, f := range m.features {
		put(uint64(len(f)))
		b.WriteString(f)
	}
	if m.algo == AlgorithmLinear {
		for i := range m.features {
			putf(m.mean[i])
			putf(m.scale[i])
			putf(m.weight[i])
		}
	} else {
		putf(m.base)
		put(uint64(len(m.trees)))
		for _, t := range m.trees {
			put(uint64(len(t.feat)))
			for i := range t.feat {
				put(uint64(t.feat[i]))
				b.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(t.thr[i])))
				puti(int64(t.left[i]))
				puti(int64(t.right[i]))
			}
			put(uint64(len(t.leaf)))
			for _, v := range t.leaf {
				putf(v)
			}
		}
	}
	b.Write(binary.LittleEndian.AppendUint32(nil, crc32.ChecksumIEEE(b.Bytes())))
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("ltr: save: %w", err)
	}
	return nil
}

// reader decodes with bounds checks; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, a ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, a...)
	}
}

func (r *reader) uvarint(what string, limit uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("%s: truncated or overlong", what)
		return 0
	}
	r.b = r.b[n:]
	if v > limit {
		r.fail("%s is %d, at most %d", what, v, limit)
		return 0
	}
	return v
}

func (r *reader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("%s: truncated or overlong", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.fail("%s: truncated", what)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) float64(what string) float64 {
	b := r.bytes(8, what)
	if b == nil {
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(b))
	if math.IsNaN(v) || math.IsInf(v, 0) {
		r.fail("%s is not finite", what)
	}
	return v
}

// Load reads a model written by Save. It checks the format version, the
// checksum and the structure of every tree, so a damaged or foreign file
// is an error, never a model that panics or loops.
func Load(rd io.Reader) (*Model, error) {
	all, err := io.ReadAll(io.LimitReader(rd, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("ltr: load: %w", err)
	}
	if len(all) > maxFileSize {
		return nil, fmt.Errorf("ltr: load: file larger than %d bytes", maxFileSize)
	}
	if len(all) < len(magic)+2+4 || string(all[:len(magic)]) != magic {
		return nil, errors.New("ltr: load: not a ranking model file")
	}
	if v := binary.LittleEndian.Uint16(all[len(magic):]); v != version {
		return nil, fmt.Errorf("ltr: load: format version %d, this build reads %d", v, version)
	}
	body := all[:len(all)-4]
	if got, want := crc32.ChecksumIEEE(body), binary.LittleEndian.Uint32(all[len(all)-4:]); got != want {
		return nil, errors.New("ltr: load: checksum mismatch (damaged file)")
	}
	r := &reader{b: body[len(magic)+2:]}
	m := &Model{ValidNDCG: -1, TrainNDCG: -1}
	switch k := r.bytes(1, "algorithm"); {
	case k == nil:
	case k[0] == 1:
		m.algo = AlgorithmLambdaMART
	case k[0] == 2:
		m.algo = AlgorithmLinear
	default:
		r.fail("unknown algorithm %d", k[0])
	}
	m.k = int(r.uvarint("K", 1<<20))
	nf := int(r.uvarint("feature count", maxFeatures))
	seen := map[string]bool{}
	for i := 0; i < nf && r.err == nil; i++ {
		name := string(r.bytes(int(r.uvarint("feature name length", maxNameLen)), "feature name"))
		if r.err == nil && (name == "" || seen[name]) {
			r.fail("feature %d: empty or repeated name %q", i, name)
		}
		seen[name] = true
		m.features = append(m.features, name)
	}
	if r.err == nil && nf == 0 {
		r.fail("no features")
	}
	if m.algo == AlgorithmLinear {
		for i := 0; i < nf && r.err == nil; i++ {
			m.mean = append(m.mean, r.float64("mean"))
			m.scale = append(m.scale, r.float64("scale"))
			m.weight = append(m.weight, r.float64("weight"))
		}
	} else {
		m.base = r.float64("base score")
		nt := int(r.uvarint("tree count", maxTrees))
		for ti := 0; ti < nt && r.err == nil; ti++ {
			var t tree
			nn := int(r.uvarint("node count", maxNodes))
			for i := 0; i < nn && r.err == nil; i++ {
				t.feat = append(t.feat, int32(r.uvarint("split feature", uint64(nf-1))))
				var thr float32
				if tb := r.bytes(4, "threshold"); tb != nil {
					thr = math.Float32frombits(binary.LittleEndian.Uint32(tb))
				}
				if math.IsNaN(float64(thr)) {
					r.fail("tree %d node %d: threshold is NaN", ti, i)
				}
				t.thr = append(t.thr, thr)
				t.left = append(t.left, int32(max(min(r.varint("left child"), math.MaxInt32), math.MinInt32)))
				t.right = append(t.right, int32(max(min(r.varint("right child"), math.MaxInt32), math.MinInt32)))
			}
			nl := int(r.uvarint("leaf count", maxNodes+1))
			for i := 0; i < nl && r.err == nil; i++ {
				t.leaf = append(t.leaf, r.float64("leaf value"))
			}
			if r.err == nil {
				if err := t.validate(); err != nil {
					r.fail("tree %d: %v", ti, err)
				}
			}
			m.trees = append(m.trees, t)
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d unexpected bytes after the model", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("ltr: load: %w", r.err)
	}
	return m, nil
}

// validate checks that every child reference points forward to an
// internal node or to an existing leaf, so evaluation always terminates.
func (t *tree) validate() error {
	if len(t.feat) == 0 {
		if len(t.leaf) != 1 {
			return fmt.Errorf("a tree without splits has %d leaves, want 1", len(t.leaf))
		}
		return nil
	}
	if len(t.leaf) != len(t.feat)+1 {
		return fmt.Errorf("%d internal nodes need %d leaves, have %d", len(t.feat), len(t.feat)+1, len(t.leaf))
	}
	for i := range t.feat {
		for _, c := range []int32{t.left[i], t.right[i]} {
			if c >= 0 && (int(c) <= i || int(c) >= len(t.feat)) {
				return fmt.Errorf("node %d: child node %d out of order", i, c)
			}
			if c < 0 && int(^c) >= len(t.leaf) {
				return fmt.Errorf("node %d: leaf %d out of range", i, ^c)
			}
		}
	}
	return nil
}
