package ann

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"sync"

	"github.com/viterin/vek/vek32"
)

// Lists is the partition of an IVF index without the vectors: k-means
// centroids and, per centroid, the ids assigned to it. It is for callers
// that keep their vectors themselves (semantic search keeps one Code per
// document and renumbers documents when it compacts): they ask Probe for
// the ids of the lists nearest to a query, best first, and score those
// ids from their own storage, so the vectors are not held twice.
//
// Ids are the caller's (any int32 ≥ 0, in any order); an id assigned twice
// is in two lists and must be de-duplicated or avoided by the caller.
// Lists is safe for concurrent Probe and Assign.
type Lists struct {
	mu    sync.RWMutex
	dim   int
	cent  []float32
	half  []float32
	lists [][]int32
	n     int
}

// BuildLists clusters the row-major sample (len = m × dim) into nlists
// centroids (0: √(expected), where expected is the number of ids the
// caller means to assign) with k-means, and returns empty lists.
func BuildLists(ctx context.Context, dim int, sample []float32, nlists, expected int, seed uint64) (*Lists, error) {
	if dim <= 0 || len(sample)%dim != 0 || len(sample) == 0 {
		return nil, fmt.Errorf("ann: %d floats do not make a sample of vectors of dimension %d", len(sample), dim)
	}
	m := len(sample) / dim
	if nlists <= 0 {
		nlists = int(math.Sqrt(float64(max(expected, m))))
	}
	nlists = max(1, min(nlists, m))
	rng := rand.New(rand.NewPCG(seed, 0x11575))
	cent, err := kmeans(ctx, sample, dim, nlists, 10, defaultWorkers(0), rng, nil)
	if err != nil {
		return nil, err
	}
	l := &Lists{dim: dim, cent: cent, half: make([]float32, nlists), lists: make([][]int32, nlists)}
	for c := range l.half {
		row := cent[c*dim : (c+1)*dim]
		l.half[c] = vek32.Dot(row, row) / 2
	}
	return l, nil
}

// Assign puts id in the list of the centroid nearest to v.
func (l *Lists) Assign(id int32, v []float32) error {
	if len(v) != l.dim {
		return fmt.Errorf("ann: assign a vector of dimension %d to lists of dimension %d", len(v), l.dim)
	}
	c := nearest(v, l.cent, l.half, l.dim)
	l.mu.Lock()
	l.lists[c] = append(l.lists[c], id)
	l.n++
	l.mu.Unlock()
	return nil
}

// Len is the number of ids assigned.
func (l *Lists) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.n
}

// NumLists is the number of lists.
func (l *Lists) NumLists() int { return len(l.lists) }

// Dim is the vector dimension.
func (l *Lists) Dim() int { return l.dim }

// Probe calls visit with the ids of every non-empty list, the list whose
// centroid is nearest to q (Euclidean, as Assign) first, until
// visit returns false. The slices are read-only and valid during the call.
// It panics when len(q) != Dim().
func (l *Lists) Probe(q []float32, visit func(ids []int32) bool) {
	if len(q) != l.dim {
		panic(fmt.Sprintf("ann: query of dimension %d for lists of dimension %d", len(q), l.dim))
	}
	nl := len(l.lists)
	cs := scoreRows(make([]float32, nl), l.cent, q, l.dim)
	order := newTopK(nl)
	for c := range cs {
		order.Push(int32(c), cs[c]-l.half[c])
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, h := range order.Sorted() {
		if ids := l.lists[h.Index]; len(ids) > 0 && !visit(ids) {
			return
		}
	}
}

// A ProbeBudget is how far a search through Lists goes: the nearest
// Lists lists at least and, past them, on until it has visited Share of
// the ids (Lists.Len()), so that the ids scored adapt to the sizes of the
// lists near the query instead of a fixed number of lists whose sizes
// vary (k-means lists of real or hashed text vectors differ by 10× and
// more; the lists nearest a query are often the big ones, or the small).
// Scale multiplies both (a selective filter: 1/√share allowed).
type ProbeBudget struct {
	Lists int
	Share float64
	Scale float64 // 0: 1
}

// DefaultProbeBudget is semantic search's budget: at least 24 lists and
// at least 5% of the ids. Chosen by BenchmarkSemanticProbes (hashed
// synthetic titles, 512 dimensions, int8 codes, √n lists; docs/benchmarks.md,
// "Memory and recall at 1M (session 8)"): at 1M products 24 lists (2.5%
// of the ids, lists of 64 to 3,246) gave tie-aware recall@10 0.926 against
// the exact float32 scan, 5% reaches 0.947, the ceiling of scoring int8
// codes (10% gives no more); at 200k the 24 lists are already 5.9%. Past
// the ceiling only a float32 re-rank helps (BenchmarkSemanticRerank;
// search.SemanticRerank). A function, not a variable: no mutable global.
func DefaultProbeBudget() ProbeBudget { return ProbeBudget{Lists: 24, Share: 0.05} }

// ProbeWithin calls visit with the ids of the lists nearest to q, nearest
// first (as Probe), until the budget is spent and more() reports false,
// or visit has seen every list. It returns the lists and ids visited.
func (l *Lists) ProbeWithin(q []float32, b ProbeBudget, visit func(ids []int32), more func() bool) (lists, ids int) {
	scale := b.Scale
	if scale <= 0 {
		scale = 1
	}
	minLists := int(math.Ceil(float64(b.Lists) * scale))
	minIDs := int(math.Ceil(b.Share * scale * float64(l.Len())))
	l.Probe(q, func(v []int32) bool {
		visit(v)
		lists++
		ids += len(v)
		return lists < minLists || ids < minIDs || more()
	})
	return lists, ids
}

// Bytes is the memory the lists hold (ids and centroids).
func (l *Lists) Bytes() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	b := int64(len(l.cent)+len(l.half)) * 4
	for _, ids := range l.lists {
		b += int64(cap(ids)) * 4
	}
	return b
}

// AssignBatch assigns ids[i] by the row-major vectors vecs (row i), with
// one matrix product per block: much faster than Assign one by one.
func (l *Lists) AssignBatch(ids []int32, vecs []float32) error {
	if len(vecs) != len(ids)*l.dim {
		return fmt.Errorf("ann: %d floats for %d vectors of dimension %d", len(vecs), len(ids), l.dim)
	}
	assign := make([]int32, len(ids))
	assignNearest(vecs, l.cent, l.dim, assign)
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, c := range assign {
		l.lists[c] = append(l.lists[c], ids[i])
	}
	l.n += len(ids)
	return nil
}

// ListKey names one id of saved Lists for the caller: its own key for the
// item (ids are positions, which a caller may renumber between runs) and
// a checksum of the vector the item was assigned by, so that an item
// whose vector changed since is recognised and assigned again.
type ListKey struct {
	Name  string
	Check uint32
}

// Checksum is a CRC-32C of the code (its int8 values and its scale): equal
// for the same vector encoded again, different when the vector changed.
func (c Code) Checksum() uint32 {
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	h.Write(bytesOf(c.code))
	h.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(c.scale)))
	return h.Sum32()
}

// WriteTo writes the lists, tagged with tag, in the index file format
// (file.go, quant "lists only"). key names each id; ids for which it
// returns false (a deleted item) are left out. key is called once per
// id, under the lists' read lock.
func (l *Lists) WriteTo(w io.Writer, tag string, key func(id int32) (ListKey, bool)) (int64, error) {
	if len(tag) > MaxTagLen {
		return 0, fmt.Errorf("ann: tag of %d bytes exceeds %d", len(tag), MaxTagLen)
	}
	l.mu.RLock()
	lists := make([][]int32, len(l.lists))
	var keys []ListKey
	for c, ids := range l.lists {
		for _, id := range ids {
			k, ok := key(id)
			if !ok {
				continue
			}
			if len(k.Name) > math.MaxUint16 {
				l.mu.RUnlock()
				return 0, fmt.Errorf("ann: save lists: key of %d bytes", len(k.Name))
			}
			lists[c] = append(lists[c], int32(len(keys)))
			keys = append(keys, k)
		}
	}
	l.mu.RUnlock()
	crc := crc32.NewIEEE()
	cw := &countWriter{w: io.MultiWriter(w, crc)}
	bw := bufio.NewWriterSize(cw, 1<<20)
	le := binary.LittleEndian
	nl := len(lists)
	if len(keys) == 0 {
		nl = 0 // the format has no lists without items
	}
	bw.Write(fileHeader(tag, quantLists, []int{l.dim, len(keys), 1, 1, nl}, 0, 0))
	if nl > 0 {
		writeF32(bw, l.cent)
	}
	bw.Write(le.AppendUint32(nil, 0)) // empty head
	for _, ids := range lists[:nl] {
		bw.Write(le.AppendUint32(nil, uint32(len(ids))))
		bw.Write(bytesOf(ids))
	}
	for _, k := range keys {
		bw.Write(le.AppendUint16(nil, uint16(len(k.Name))))
		bw.WriteString(k.Name)
		bw.Write(le.AppendUint32(nil, k.Check))
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("ann: write lists: %w", err)
	}
	if _, err := w.Write(le.AppendUint32(nil, crc.Sum32())); err != nil {
		return cw.n, fmt.Errorf("ann: write lists: %w", err)
	}
	return cw.n + 4, nil
}

// SaveLists writes l tagged with tag to path atomically, as SaveIVF.
func SaveLists(path string, l *Lists, tag string, key func(id int32) (ListKey, bool)) error {
	return saveFile(path, func(w io.Writer) error {
		_, err := l.WriteTo(w, tag, key)
		return err
	})
}

// LoadLists reads lists saved at path by SaveLists. The ids of the lists
// it returns are positions in keys; the caller renumbers them with Map.
// It returns ErrStale (wrapped) when the file's tag is not tag, and an
// error satisfying errors.Is(err, fs.ErrNotExist) when there is no file.
func LoadLists(path, tag string) (*Lists, []ListKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("ann: load lists: %w", err)
	}
	defer f.Close()
	x, keys, err := readTagged(f, tag)
	switch {
	case err != nil:
	case x.quant != quantLists:
		err = fmt.Errorf("ann: load lists: the file holds an index with vectors (SaveIVF), not lists")
	case len(x.lists) == 0:
		err = fmt.Errorf("ann: load lists: no lists")
	case len(x.head.ids) > 0:
		err = fmt.Errorf("ann: load lists: %d ids outside the lists", len(x.head.ids))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w (%s)", err, path)
	}
	l := &Lists{dim: x.dim, cent: x.cent, half: x.half, lists: make([][]int32, len(x.lists)), n: x.n}
	for c := range x.lists {
		l.lists[c] = x.lists[c].ids
	}
	return l, keys, nil
}

// Map returns lists with the same centroids whose ids are f(id) for every
// id for which f returns true; the others are left out.
func (l *Lists) Map(f func(id int32) (int32, bool)) *Lists {
	l.mu.RLock()
	defer l.mu.RUnlock()
	m := &Lists{dim: l.dim, cent: l.cent, half: l.half, lists: make([][]int32, len(l.lists))}
	for c, ids := range l.lists {
		for _, id := range ids {
			if to, ok := f(id); ok {
				m.lists[c] = append(m.lists[c], to)
				m.n++
			}
		}
	}
	return m
}
