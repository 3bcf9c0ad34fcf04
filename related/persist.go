package related

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/internal/varint"
)

// persistVersion is the version of AppendBinary's encoding. Version 2
// (session 10) adds the repeat rates of the kinds titles name (decision
// 0071) and then the analysed texts (decision 0075); version 3 (session
// 12) the pairs of leaves the baskets hold together (decision 0084).
// Restore still reads versions 1 and 2, without what they lack until the
// next build (and analysing the items of version 1; the text of a
// complement is not gated by kind).
const persistVersion = 3

// AppendBinary appends what the index learnt from events — the behaviour
// (neighbours, baskets, counts, leaf tables), the blend weights and the
// learned complement model — with the item ids and leaf names they are
// numbered by, for Restore (decision 0047). The content (text, categories)
// and the item vectors are not kept: Restore builds them from the
// catalogue and the vectors it is given.
func (ix *Index) AppendBinary(b []byte) []byte {
	b = binary.AppendUvarint(b, persistVersion)
	c, bh := ix.content, ix.beh
	b = binary.AppendUvarint(b, uint64(len(c.ids)))
	for _, id := range c.ids {
		b = varint.AppendString(b, id)
	}
	b = binary.AppendUvarint(b, uint64(len(c.leafNames)))
	for _, name := range c.leafNames {
		b = varint.AppendString(b, name)
	}
	f64 := func(x float64) { b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x)) }
	nbs := func(v []neighbour) {
		b = binary.AppendUvarint(b, uint64(len(v)))
		for _, x := range v {
			b = binary.AppendUvarint(b, uint64(x.j))
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x.s))
		}
	}
	f64(bh.maxCnt)
	for i := range c.ids {
		f64(bh.count[i])
		f64(bh.recent[i])
		nbs(bh.sim[i])
		nbs(bh.basket[i])
	}
	b = binary.AppendUvarint(b, uint64(len(bh.catLft)))
	for _, l := range slices.Sorted(maps.Keys(bh.catLft)) {
		row := bh.catLft[l]
		b = binary.AppendUvarint(b, uint64(l))
		b = binary.AppendUvarint(b, uint64(len(row)))
		for _, m := range slices.Sorted(maps.Keys(row)) {
			b = binary.AppendUvarint(b, uint64(m))
			f64(row[m])
		}
		tp := bh.catTp[l]
		b = binary.AppendUvarint(b, uint64(len(tp)))
		for _, m := range tp {
			b = binary.AppendUvarint(b, uint64(m))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(bh.leafRep)))
	for _, l := range slices.Sorted(maps.Keys(bh.leafRep)) {
		b = binary.AppendUvarint(b, uint64(l))
		f64(bh.leafRep[l])
	}
	for _, w := range []Weights{ix.simW, ix.compW} {
		for _, x := range w.W {
			f64(x)
		}
	}
	if ix.compModel == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		for _, v := range []pairVec{ix.compModel.mean, ix.compModel.scale, ix.compModel.w} {
			for _, x := range v {
				f64(x)
			}
		}
	}
	// version 2: the repeat rates of the kinds titles name, by head name,
	// then the analysed texts
	b = binary.AppendUvarint(b, uint64(len(bh.headRep)))
	for _, h := range slices.Sorted(maps.Keys(bh.headRep)) {
		b = varint.AppendString(b, c.headNames[h])
		f64(bh.headRep[h])
	}
	var t *textTable
	if ix.texts != nil {
		t = ix.texts.p.Load()
	}
	b = appendTexts(b, t)
	// version 3: the pairs of leaves that go together, by leaf number,
	// after their count plus one (0: never counted, as restored from an
	// older snapshot)
	if bh.goesWith == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(bh.goesWith))+1)
	for _, p := range slices.SortedFunc(maps.Keys(bh.goesWith), comparePairs) {
		b = binary.AppendUvarint(b, uint64(p[0]))
		b = binary.AppendUvarint(b, uint64(p[1]))
	}
	return b
}

// comparePairs orders pairs of numbers by the first, then the second.
func comparePairs(x, y [2]int32) int {
	if c := cmp.Compare(x[0], y[0]); c != 0 {
		return c
	}
	return cmp.Compare(x[1], y[1])
}

type persistDec struct{ varint.Reader }

func (d *persistDec) index(n int) int32 {
	x := d.Uvarint()
	if x >= uint64(n) {
		d.Fail()
		return 0
	}
	return int32(x)
}

func (d *persistDec) f64() float64 {
	x := math.Float64frombits(d.Uint64LE())
	if math.IsNaN(x) || math.IsInf(x, 0) {
		d.Fail()
	}
	return x
}

func (d *persistDec) f32() float32 {
	var p [4]byte
	for k := range p {
		p[k] = d.Byte()
	}
	return math.Float32frombits(binary.LittleEndian.Uint32(p[:]))
}

// Restore makes an index over items from what AppendBinary kept, as
// WithItems carries an index over to a changed catalogue: items the
// catalogue no longer has are dropped, new ones are answered through
// content; factor and embedded are the item vectors, as for Build. A
// damaged payload is an error. An unchanged item takes its terms from the
// payload's analysed texts (decision 0075); with Config.KeepTexts, an index
// that had to analyse any item keeps the texts for the next AppendBinary
// (HasTexts), so a snapshot written before the texts were kept, or over a
// catalogue changed since, is analysed once.
func Restore(items []catalog.Item, p []byte, factor, embedded Vectors, cfg Config) (*Index, error) {
	d := &persistDec{varint.NewReader(p)}
	version := d.Uvarint()
	if version < 1 || version > persistVersion {
		return nil, fmt.Errorf("related: persisted version %d, this server reads 1 to %d", version, persistVersion)
	}
	from := &content{}
	for range d.Count() {
		from.ids = append(from.ids, d.String())
	}
	for range d.Count() {
		from.leafNames = append(from.leafNames, d.String())
	}
	n, nl := len(from.ids), len(from.leafNames)
	nbs := func() []neighbour {
		var v []neighbour
		for range d.Count() {
			v = append(v, neighbour{d.index(n), d.f32()})
		}
		return v
	}
	b := &behaviour{maxCnt: d.f64(), count: make([]float64, n), recent: make([]float64, n), sim: make([][]neighbour, n), basket: make([][]neighbour, n),
		catLft: map[int32]map[int32]float64{}, catTp: map[int32][]int32{}, leafRep: map[int32]float64{}}
	for i := range n {
		b.count[i], b.recent[i] = d.f64(), d.f64()
		b.sim[i], b.basket[i] = nbs(), nbs()
	}
	for range d.Count() {
		l := d.index(nl)
		row := map[int32]float64{}
		for range d.Count() {
			m := d.index(nl)
			row[m] = d.f64()
		}
		b.catLft[l] = row
		var tp []int32
		for range d.Count() {
			tp = append(tp, d.index(nl))
		}
		b.catTp[l] = tp
	}
	for range d.Count() {
		l := d.index(nl)
		b.leafRep[l] = d.f64()
	}
	var ws [2]Weights
	for k := range ws {
		for s := range ws[k].W {
			ws[k].W[s] = d.f64()
		}
	}
	var pm *pairModel
	switch d.Byte() {
	case 0:
	case 1:
		pm = &pairModel{}
		for _, v := range []*pairVec{&pm.mean, &pm.scale, &pm.w} {
			for k := range v {
				v[k] = d.f64()
			}
		}
	default:
		d.Fail()
	}
	b.headRep = map[int32]float64{}
	var texts *textTable
	if version >= 2 {
		for range d.Count() {
			h := int32(len(from.headNames))
			from.headNames = append(from.headNames, d.String())
			b.headRep[h] = d.f64()
		}
		texts = readTexts(d, n)
	}
	if version >= 3 {
		// the pair count plus one, not Count's bound: an empty table
		// (1, a shop whose baskets hold no two leaves together) is the
		// payload's last byte, and each pair takes at least two bytes
		switch n := d.Uvarint(); {
		case n == 0: // never counted
		case n-1 > uint64(d.Len()/2):
			d.Fail()
		default:
			b.goesWith = make(map[[2]int32]bool, n-1)
			for range n - 1 {
				l, m := d.index(nl), d.index(nl)
				b.goesWith[[2]int32{min(l, m), max(l, m)}] = true
			}
		}
	}
	if !d.OK() || d.Len() != 0 {
		return nil, errors.New("related: persisted index damaged")
	}
	cfg.defaults()
	var saved *savedTexts
	keep := cfg.KeepTexts
	if texts != nil && texts.tag == textTag(cfg.Analyzer) {
		saved = &savedTexts{t: texts, ids: from.ids, prints: make([]uint64, len(items))}
		all := true // every item's texts are in the snapshot: none kept
		for i := range items {
			saved.prints[i] = textPrint(&items[i])
			_, ok := saved.find(i, items[i].ID, saved.prints[i])
			all = all && ok
		}
		keep = keep && !all
	}
	c := buildContent(items, cfg.Analyzer, saved, keep)
	return &Index{cfg: cfg, content: c, beh: b.remap(from, c), factor: newVecTable(c, factor), embed: newVecTable(c, embedded),
		simW: ws[0], compW: ws[1], compModel: pm, texts: holdTexts(c)}, nil
}
