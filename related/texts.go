package related

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/internal/varint"
	"github.com/aisle-dev/aisle/search/analysis"
)

// The item relations' snapshot (decision 0047) also keeps each item's
// analysed text — its terms and how often each occurs in the title and
// brand and in the description — beside a fingerprint of those texts, so
// that Restore takes the terms of an unchanged item from the snapshot
// instead of analysing its text again (decision 0075: the content build of
// a 1M restore went from 7.0 to 4.4 CPU-s). The TF-IDF weights
// are computed at Restore from the counts, as a build computes them, so
// the restored content is the one a build makes; an item whose texts
// changed, a new one, or any item when the analysis changed (the tag) is
// analysed.
//
// A build records the table only when Config.KeepTexts asks (the
// recommender sets it when snapshots are written); the table is held
// until the snapshot is written (DropTexts), not for the index's life.

// textTable is every item's analysed text, in the content's item order.
type textTable struct {
	tag   string
	names []string // term number → term
	print []uint64 // per item: fingerprint of its texts; 0 = not recorded
	off   []uint32 // item i's terms are terms[off[i]:off[i+1]]
	terms []int32
	// counts packs a term's occurrences in the title and brand (high 16
	// bits) and in the description (low 16 bits); an item with a count
	// beyond 16 bits is not recorded (print 0: analysed at Restore)
	counts []uint32
}

// textHold holds an index's table until the snapshot is written.
type textHold struct{ p atomic.Pointer[textTable] }

// analysisProbe stamps the table with what the analyzer makes of text.
const analysisProbe = "The Runners' running-shoes: Crème brûlée DE-luxe 2-pack, 12.5cm ﬁne Wi-Fi headphones for kids' rooms — NOT waterproof"

// textTag names the analysis the saved terms were made by.
func textTag(an *analysis.Analyzer) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%T|", an.Name, an.Tokenizer)
	for _, f := range an.Filters {
		fmt.Fprintf(h, "%T|", f)
	}
	for _, t := range an.Terms(analysisProbe) {
		fmt.Fprintf(h, "%q", t)
	}
	return fmt.Sprintf("related-text v1 %x", h.Sum(nil)[:12])
}

// textPrint is the fingerprint of the texts an item's terms come from
// (never 0).
func textPrint(it *catalog.Item) uint64 {
	h := sha256.New()
	h.Write([]byte(it.Title))
	h.Write([]byte{0})
	h.Write([]byte(it.Brand))
	h.Write([]byte{0})
	h.Write([]byte(it.Description))
	var sum [sha256.Size]byte
	return max(binary.LittleEndian.Uint64(h.Sum(sum[:0])), 1)
}

// holdTexts moves the texts c recorded into a hold for the Index.
func holdTexts(c *content) *textHold {
	h := &textHold{}
	if c.texts != nil {
		h.p.Store(c.texts)
		c.texts = nil
	}
	return h
}

// HasTexts reports whether the index holds analysed texts not written yet
// (a snapshot written now would spare the next Restore analyses).
func (ix *Index) HasTexts() bool { return ix.texts != nil && ix.texts.p.Load() != nil }

// Analysed is the number of items whose texts the index's build analysed
// (the others' terms came from a snapshot).
func (ix *Index) Analysed() int { return ix.content.analysed }

// DropTexts lets the analysed texts kept for the snapshot go (after it is
// written, or when it will not be).
func (ix *Index) DropTexts() {
	if ix.texts != nil {
		ix.texts.p.Store(nil)
	}
}

// appendTexts appends the table (an empty tag, no names and no items when
// none).
func appendTexts(b []byte, t *textTable) []byte {
	if t == nil {
		b = varint.AppendString(b, "")
		return binary.AppendUvarint(binary.AppendUvarint(b, 0), 0)
	}
	b = varint.AppendString(b, t.tag)
	b = binary.AppendUvarint(b, uint64(len(t.names)))
	for _, s := range t.names {
		b = varint.AppendString(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(t.print)))
	for i, p := range t.print {
		b = binary.LittleEndian.AppendUint64(b, p)
		if p == 0 {
			continue
		}
		ts := t.terms[t.off[i]:t.off[i+1]]
		b = binary.AppendUvarint(b, uint64(len(ts)))
		for k, term := range ts {
			b = binary.AppendUvarint(b, uint64(term))
			b = binary.AppendUvarint(b, uint64(t.counts[t.off[i]+uint32(k)]))
		}
	}
	return b
}

// readTexts reads a table for n items (nil when it holds none); damage
// fails d.
func readTexts(d *persistDec, n int) *textTable {
	t := &textTable{tag: d.String()}
	nn := d.Count()
	t.names = make([]string, 0, min(nn, d.Len()))
	for range nn {
		t.names = append(t.names, d.String())
	}
	m := d.Count()
	if m == 0 || !d.OK() {
		return nil
	}
	if m != n {
		d.Fail()
		return nil
	}
	t.print = make([]uint64, m)
	t.off = make([]uint32, 1, m+1)
	for i := range m {
		t.print[i] = d.Uint64LE()
		if t.print[i] != 0 {
			for range d.Count() {
				t.terms = append(t.terms, d.index(len(t.names)))
				c := d.Uvarint()
				if c > math.MaxUint32 || c == 0 {
					d.Fail()
				}
				t.counts = append(t.counts, uint32(c))
			}
		}
		if !d.OK() || len(t.terms) > math.MaxUint32 {
			d.Fail()
			return nil
		}
		t.off = append(t.off, uint32(len(t.terms)))
	}
	return t
}
