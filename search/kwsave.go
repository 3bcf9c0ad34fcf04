package search

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/aisle-dev/aisle/ann"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/search/analysis"
)

// The keyword index is saved beside the data (Options.IndexDir) after a
// Load that built any of it (and when embedding attached many codes), so
// that a restart takes each product's analysis and int8 search-vector code from
// the file instead of analysing its text again and reading its float32
// vector from the store (decision 0055).
//
// The stores have no "items changed since" position, so the file is
// checked product by product instead: it holds, per live product in id
// order, a SHA-256 of every text the index derives from it (fieldTexts:
// the embedded text is made of the same fields) beside its analysed
// terms, its title words and its vector's code. A start still scans the
// catalogue (the documents hold the stored items) and joins the scan with
// the file by id: a product whose texts hash as saved takes the saved
// analysis, any other is analysed (and its vector looked up) as in a
// build, and a saved product the scan does not return is never indexed.
// The file holds catalogue data only: no queries, no shopper.
//
// The file's tag names the format and the analysis (the analyzer's
// parts and its output on a probe text); a file with another tag, a
// damaged one (SHA-256 of the whole) or one that fails to decode is
// logged, removed and the catalogue is analysed as in a first start. The
// codes are used only when the file's vector space is the index's.
//
// A save takes the analysis of each product whose texts hash as in the
// file it replaces from that file (its term and word ids mapped to the
// new tables, in the order analysing would intern them: the same bytes
// as a save that analysed everything), and analyses only the others
// (decision 0068); the codes are always the index's own.
//
// Close writes nothing (decision 0063): a save reads the whole index
// (and analyses whatever changed: the whole catalogue when no file
// holds it, minutes at 1M, past a supervisor's kill grace), and
// the per-product check already makes the file right for the next start
// whatever changed since it was written: a product changed at run time
// hashes differently and is analysed again, a deleted one is not in the
// scan. That start, having analysed something, writes the file again in
// the background; Close stops a save under way (its temporary file is
// removed, the file on disk stays as it was).

// keywordFile is the file name of the saved keyword index under
// Options.IndexDir.
const keywordFile = "keyword.index"

const (
	kwMagic = "AISLEKWI"
	// kwVersion 2 added the postings (decision 0085); a file of version 1
	// is dropped and the catalogue analysed once more.
	kwVersion = 2
	// kwFooter: the offsets of the tables and of the postings and the
	// number of docs (uint64 each), then the SHA-256 of everything before
	// it.
	kwFooter = 24 + sha256.Size
	// kwMaxLen bounds a length read back (a damaged file must not make
	// the reader allocate without bound).
	kwMaxLen = 1 << 24
)

// analysisProbe is analysed to stamp the file with what the analyzer
// makes of text (stemming, stop words, compounds, accents, numbers);
// Chinese and Japanese are left out, as they would load dictionaries at
// every start, and the analyzer's parts are named in the tag instead.
const analysisProbe = "The Runners' running-shoes: Crème brûlée DE-luxe 2-pack, 12.5cm ﬁne Wi-Fi headphones for kids' rooms — NOT waterproof"

// keywordTag names the file format and the analysis the saved terms were
// made by.
func (ix *Index) keywordTag() string {
	h := sha256.New()
	for _, a := range []*analysis.Analyzer{ix.an, ix.raw} {
		fmt.Fprintf(h, "%s|%T|", a.Name, a.Tokenizer)
		for _, f := range a.Filters {
			fmt.Fprintf(h, "%T", f)
			if c, ok := f.(analysis.CJKFilter); ok {
				fmt.Fprintf(h, "(han=%v)", c.JapaneseHan)
			}
			h.Write([]byte{'|'})
		}
		for _, t := range a.Terms(analysisProbe) {
			fmt.Fprintf(h, "%q", t)
		}
		h.Write([]byte{0})
	}
	return fmt.Sprintf("search-keyword v%d analyzer=%s analysis=%x", kwVersion, ix.cfg.Analyzer, h.Sum(nil)[:12])
}

// kwState is the saving side of the keyword index.
type kwState struct {
	mu      sync.Mutex // one save at a time
	wg      sync.WaitGroup
	changes atomic.Int64 // writes to the index (Upsert, Delete, vectors attached)
	coded   atomic.Int64 // vectors attached since the last save started
	saved   atomic.Int64 // changes covered by the file on disk; -1: none
	saves   atomic.Int64
	loads   atomic.Int64
	reused  atomic.Int64 // products the last Load took from the file
	stale   atomic.Int64 // products the last Load analysed although in the file (changed)
	listed  atomic.Int64 // products whose postings the last Load read from the file (kwpostings.go)
	loaded  atomic.Bool  // a first Load ended: the index holds the catalogue, saves may run
	closing atomic.Bool  // Close began: a save under way stops, none starts

	analysed atomic.Int64 // products analysed by saves (Close must not add to it)
	copied   atomic.Int64 // products whose analysis saves took from the file they replace
	// chunkHook, when set (tests), runs before each chunk a save analyses
	chunkHook func()
}

// errKwClosing ends a save that Close stopped.
var errKwClosing = errors.New("keyword index save stopped: the index is closing")

// logSaveErr logs a background save's failure (a save stopped by Close is
// not one: the file on disk is still right for the next start).
func (ix *Index) logSaveErr(err error) {
	switch {
	case err == nil:
	case errors.Is(err, errKwClosing):
		ix.log.Info("search: keyword index save stopped by Close; the next start analyses the products changed since the file", "err", err)
	default:
		ix.log.Error("search: keyword index not saved; the next start analyses the catalogue", "err", err)
	}
}

// KeywordIndexStats reports how many times the keyword index was saved
// and loaded from Options.IndexDir, and of the last load how many
// products were taken from the file and how many were in it but changed.
func (ix *Index) KeywordIndexStats() (saves, loads, reused, changed int64) {
	return ix.kw.saves.Load(), ix.kw.loads.Load(), ix.kw.reused.Load(), ix.kw.stale.Load()
}

// savedDoc is one product read back from the file.
type savedDoc struct {
	id     string
	ord    uint32 // its position in the file (0 for the first doc)
	print  [32]byte
	fields [numFields][]uint32 // file term ids, in analysis order
	words  []uint32            // file word ids, unique, in title order
	vhash  [32]byte
	code   ann.Code // Len 0: none saved (or not usable)
}

// itemPrint hashes every text the index derives from an item.
func itemPrint(h hash.Hash, it *catalog.Item) [32]byte {
	h.Reset()
	var n [binary.MaxVarintLen64]byte
	for _, t := range fieldTexts(it) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(t)))])
		io.WriteString(h, t)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// kwReader joins a Load's scan with the saved file.
type kwReader struct {
	ix    *Index
	path  string
	f     *os.File
	br    *bufio.Reader
	left  uint64 // docs not read yet
	terms []string
	words []string
	codes bool // the saved codes are in the index's vector space

	// file id → index id + 1 (0: not mapped yet), filled under the
	// index's write lock as the docs are added
	termMap []uint32
	wordMap []uint32

	// the saved postings (read only for a Load): per file term, its
	// docs' positions in the file and their term frequencies, in one
	// array each (postEnd[t] is the end of term t's part)
	post    *savedPostings
	decoded uint32 // docs decoded so far (the next one's ord)

	cur     savedDoc
	have    bool // cur holds the next unmatched doc
	failed  error
	arena   []int8       // the codes kept, in blocks
	idBlock []uint32     // the docs' term and word ids, in blocks
	scratch []int8       // a code of another vector space, read to be skipped
	used    atomic.Int64 // docs taken
	stale   atomic.Int64 // docs found with another print (changed)
	skipped int64        // docs passed over: no longer in the catalogue
}

// openKeyword opens the saved file for a Load; nil when there is none or
// it cannot be used (then it is removed).
func (ix *Index) openKeyword() *kwReader {
	if ix.semDir == "" {
		return nil
	}
	path := filepath.Join(ix.semDir, keywordFile)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		ix.log.Warn("search: saved keyword index unreadable; analysing the catalogue", "path", path, "err", err)
		return nil
	}
	r := &kwReader{ix: ix, path: path, f: f}
	if err := r.open(true); err != nil {
		f.Close()
		ix.dropKeyword(path, err)
		return nil
	}
	return r
}

// openForCopy opens the file on disk for a save, which takes from it the
// analysis of every product whose texts hash as saved (nil when there is
// none or it cannot be used: the save then analyses every product).
func (ix *Index) openForCopy() *kwReader {
	path := filepath.Join(ix.semDir, keywordFile)
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	r := &kwReader{ix: ix, path: path, f: f}
	if err := r.open(false); err != nil {
		f.Close()
		ix.log.Info("search: the keyword index on disk is not copied by the save; analysing every product", "path", path, "err", err)
		return nil
	}
	r.codes = false // the codes written are the index's own
	return r
}

// dropKeyword logs why the saved file is not used and removes it.
func (ix *Index) dropKeyword(path string, err error) {
	ix.log.Warn("search: saved keyword index ignored and removed; analysing the catalogue", "path", path, "err", err)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		ix.log.Error("search: removing the saved keyword index failed", "path", path, "err", err)
	}
}

var errKwStale = errors.New("saved keyword index made by another analysis or format")

// open checks the file and reads its tables, and with postings its
// postings too.
func (r *kwReader) open(postings bool) error {
	st, err := r.f.Stat()
	if err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	size := st.Size()
	if size < int64(len(kwMagic))+2+kwFooter {
		return errors.New("too short")
	}
	// the header first: a file of another analysis is dropped unread
	head := bufio.NewReader(io.NewSectionReader(r.f, 0, size))
	magic := make([]byte, len(kwMagic)+2)
	if _, err := io.ReadFull(head, magic); err != nil || string(magic[:len(kwMagic)]) != kwMagic {
		return errors.New("not a saved keyword index")
	}
	if v := binary.LittleEndian.Uint16(magic[len(kwMagic):]); v != kwVersion {
		return fmt.Errorf("%w: format version %d, this server reads %d", errKwStale, v, kwVersion)
	}
	tag, err := readString(head)
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if want := r.ix.keywordTag(); tag != want {
		return fmt.Errorf("%w: %q, this index %q", errKwStale, tag, want)
	}
	space, err := readString(head)
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	r.codes = space != "" && space == r.ix.VectorSpace() && !r.ix.floatVecs
	// the whole file's checksum before anything else of it is trusted
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r.f, 0, size-sha256.Size)); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	var tail [kwFooter]byte
	if _, err := r.f.ReadAt(tail[:], size-kwFooter); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if !bytes.Equal(h.Sum(nil), tail[24:]) {
		return errors.New("checksum mismatch")
	}
	tables := binary.LittleEndian.Uint64(tail[:])
	postAt := binary.LittleEndian.Uint64(tail[8:])
	r.left = binary.LittleEndian.Uint64(tail[16:])
	if tables > postAt || postAt > uint64(size-kwFooter) {
		return errors.New("tables or postings offset out of the file")
	}
	if r.left > math.MaxUint32 {
		return fmt.Errorf("%d docs", r.left)
	}
	tb := bufio.NewReader(io.NewSectionReader(r.f, int64(tables), int64(postAt-tables)))
	for _, tab := range []*[]string{&r.terms, &r.words} {
		n, err := readLen(tb)
		if err != nil {
			return fmt.Errorf("tables: %w", err)
		}
		*tab = make([]string, n)
		for i := range *tab {
			if (*tab)[i], err = readString(tb); err != nil {
				return fmt.Errorf("tables: %w", err)
			}
		}
	}
	r.termMap = make([]uint32, len(r.terms))
	r.wordMap = make([]uint32, len(r.words))
	if postings {
		sp, err := readPostings(io.NewSectionReader(r.f, int64(postAt), size-kwFooter-int64(postAt)), len(r.terms), uint32(r.left))
		if err != nil {
			return fmt.Errorf("postings: %w", err)
		}
		r.post = sp
	}
	// the docs follow the header, up to the tables
	pos := int64(len(kwMagic)) + 2 + int64(uvarintLen(uint64(len(tag)))+len(tag)) + int64(uvarintLen(uint64(len(space)))+len(space))
	if pos > int64(tables) {
		return errors.New("header runs into the tables")
	}
	r.br = bufio.NewReaderSize(io.NewSectionReader(r.f, pos, int64(tables)-pos), 1<<20)
	return nil
}

func uvarintLen(x uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], x)
}

func readLen(r *bufio.Reader) (int, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return 0, err
	}
	if n > kwMaxLen {
		return 0, fmt.Errorf("length %d out of bounds", n)
	}
	return int(n), nil
}

func readString(r *bufio.Reader) (string, error) {
	n, err := readLen(r)
	if err != nil {
		return "", err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b), nil
}

// next reads the next saved doc into cur; false at the end or on a
// failure (r.failed: the rest of the file is not used).
func (r *kwReader) next() bool {
	r.have = false
	if r.failed != nil || r.left == 0 {
		return false
	}
	if err := r.decode(&r.cur); err != nil {
		r.failed = err
		return false
	}
	r.left--
	r.have = true
	r.cur.ord = r.decoded
	r.decoded++
	return true
}

func (r *kwReader) decode(d *savedDoc) error {
	prev := d.id
	var err error
	if d.id, err = readString(r.br); err != nil {
		return fmt.Errorf("doc: %w", err)
	}
	if d.id <= prev && prev != "" {
		return fmt.Errorf("doc %q after %q: not in id order", d.id, prev)
	}
	if _, err := io.ReadFull(r.br, d.print[:]); err != nil {
		return fmt.Errorf("doc %q: %w", d.id, err)
	}
	ids := func(bound int) ([]uint32, error) {
		n, err := readLen(r.br)
		if err != nil {
			return nil, err
		}
		// from a block shared by the docs read after it (never reused: a
		// batch keeps its docs until they are added)
		if len(r.idBlock) < n {
			r.idBlock = make([]uint32, max(n, 1<<16))
		}
		dst := r.idBlock[:n:n]
		r.idBlock = r.idBlock[n:]
		for i := range dst {
			x, err := binary.ReadUvarint(r.br)
			if err != nil {
				return nil, err
			}
			if x >= uint64(bound) {
				return nil, fmt.Errorf("id %d of a table of %d", x, bound)
			}
			dst[i] = uint32(x)
		}
		return dst, nil
	}
	for f := range d.fields {
		if d.fields[f], err = ids(len(r.terms)); err != nil {
			return fmt.Errorf("doc %q terms: %w", d.id, err)
		}
	}
	if d.words, err = ids(len(r.words)); err != nil {
		return fmt.Errorf("doc %q words: %w", d.id, err)
	}
	dim, err := readLen(r.br)
	if err != nil {
		return fmt.Errorf("doc %q: %w", d.id, err)
	}
	d.code = ann.Code{}
	if dim == 0 {
		return nil
	}
	if _, err := io.ReadFull(r.br, d.vhash[:]); err != nil {
		return fmt.Errorf("doc %q: %w", d.id, err)
	}
	var sc [4]byte
	if _, err := io.ReadFull(r.br, sc[:]); err != nil {
		return fmt.Errorf("doc %q: %w", d.id, err)
	}
	nb := ann.CodeBytes(dim)
	var vals []int8
	switch {
	case !r.codes: // read and checked, not kept
		if cap(r.scratch) < nb {
			r.scratch = make([]int8, nb)
		}
		vals = r.scratch[:nb]
	default:
		if len(r.arena) < nb {
			r.arena = make([]int8, max(nb, 1<<20)) // codes share blocks: fewer objects for the GC
		}
		vals = r.arena[:nb:nb]
		r.arena = r.arena[nb:]
	}
	if _, err := io.ReadFull(r.br, unsafeBytes(vals)); err != nil {
		return fmt.Errorf("doc %q: %w", d.id, err)
	}
	code, err := ann.CodeFrom(dim, math.Float32frombits(binary.LittleEndian.Uint32(sc[:])), vals)
	if err != nil {
		return fmt.Errorf("doc %q: %w", d.id, err)
	}
	if r.codes {
		d.code = code
	}
	return nil
}

// find returns the saved doc of id (a copy) when the file has one; the
// scan is in id order, so the docs before it are deleted products and
// are passed over.
func (r *kwReader) find(id string) *savedDoc {
	if r == nil {
		return nil
	}
	for r.have || r.next() {
		switch {
		case r.cur.id < id:
			r.have = false // in the file, no longer in the catalogue
			r.skipped++
		case r.cur.id == id:
			r.have = false
			d := r.cur
			return &d
		default:
			return nil // new since the save (or a scan in another order)
		}
	}
	return nil
}

// term maps a file term id to the index's, interning it on first use in
// doc order as a build would. Caller holds the write lock.
func (r *kwReader) term(ix *Index, fid uint32) uint32 {
	if id := r.termMap[fid]; id != 0 {
		return id - 1
	}
	id := ix.termID(r.terms[fid])
	r.termMap[fid] = id + 1
	return id
}

// word maps a file word id to the index's. Caller holds the write lock.
func (r *kwReader) word(ix *Index, fid uint32) int {
	if id := r.wordMap[fid]; id != 0 {
		return int(id - 1)
	}
	id := ix.wordIDOf(r.words[fid])
	r.wordMap[fid] = uint32(id + 1)
	return id
}

// close ends the join; a file that failed to decode is removed.
func (r *kwReader) close() {
	if r == nil {
		return
	}
	r.f.Close()
	if r.failed != nil {
		r.ix.dropKeyword(r.path, r.failed)
	}
}

// kwWriter counts and hashes what it writes.
type kwWriter struct {
	w   *bufio.Writer
	h   hash.Hash
	n   int64
	err error
	buf []byte
}

func (w *kwWriter) write(b []byte) {
	if w.err != nil {
		return
	}
	w.h.Write(b)
	_, w.err = w.w.Write(b)
	w.n += int64(len(b))
}

func (w *kwWriter) uvarint(x uint64) {
	w.buf = binary.AppendUvarint(w.buf[:0], x)
	w.write(w.buf)
}

func (w *kwWriter) str(s string) {
	w.uvarint(uint64(len(s)))
	w.write([]byte(s))
}

// saveKeywordLater saves the keyword index in the background (after a
// Load that analysed products); Close stops it.
func (ix *Index) saveKeywordLater() {
	if ix.semDir == "" {
		return
	}
	ix.kw.wg.Go(func() {
		ix.logSaveErr(ix.SaveKeyword())
	})
}

// kwCodesShare: embedding that went idle saves the keyword index for the
// codes it attached when they are at least 1/kwCodesShare of the products
// (saveKeywordForCodes).
const kwCodesShare = 20

// saveKeywordForCodes saves the keyword index in the background when
// embedding went idle after attaching vectors to at least a twentieth of
// the products since the last save (a first start's embedding of the
// catalogue). Not for a product changed now and then: a save analyses the
// whole catalogue again (minutes at 1M), for one code a restart would
// read from the vector store; the next start analyses it again and saves
// the file, or the next save that many new vectors call for. Close stops
// it.
func (ix *Index) saveKeywordForCodes() {
	if ix.semDir == "" {
		return
	}
	ix.kw.wg.Go(func() {
		ix.mu.RLock()
		live := int64(ix.nLive)
		ix.mu.RUnlock()
		if ix.kw.coded.Load()*kwCodesShare < live {
			return
		}
		ix.logSaveErr(ix.SaveKeyword())
	})
}

// saveChunk is the products analysed and written at a time by a save.
const saveChunk = 4096

// SaveKeyword writes the keyword index to Options.IndexDir (a no-op
// without one, or when the file on disk covers every change). The
// products are read in chunks under the read lock, so searches and
// writes go on; a product added during the save is left to the next.
// It analyses the products whose texts are not as in the file on disk
// (every product when there is none: minutes at 1M) and takes the
// others' analysis from that file. After Close began it
// returns errKwClosing without writing (a save under way stops at its
// next chunk and removes its temporary file).
func (ix *Index) SaveKeyword() error {
	if ix.semDir == "" {
		return nil
	}
	ix.kw.mu.Lock()
	defer ix.kw.mu.Unlock()
	changes := ix.kw.changes.Load()
	if !ix.kw.loaded.Load() || ix.kw.saved.Load() == changes {
		return nil
	}
	if ix.kw.closing.Load() {
		return errKwClosing
	}
	start := time.Now()
	analysedAt, copiedAt := ix.kw.analysed.Load(), ix.kw.copied.Load()
	ix.kw.coded.Store(0) // the codes attached from now on are the next save's
	ix.mu.RLock()
	ids := make([]string, 0, ix.nLive)
	for id := range ix.byID {
		ids = append(ids, id)
	}
	ix.mu.RUnlock()
	slices.Sort(ids)
	if err := os.MkdirAll(ix.semDir, 0o700); err != nil {
		return fmt.Errorf("save keyword index: %w", err)
	}
	// a save cut short by a kill leaves its temporary file (the store's
	// lock keeps a second server off this directory: none is being written)
	if old, err := filepath.Glob(filepath.Join(ix.semDir, keywordFile+".tmp-*")); err == nil {
		for _, p := range old {
			os.Remove(p)
		}
	}
	f, err := os.CreateTemp(ix.semDir, keywordFile+".tmp-*")
	if err != nil {
		return fmt.Errorf("save keyword index: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename there is nothing to remove
	w := &kwWriter{w: bufio.NewWriterSize(f, 1<<20), h: sha256.New()}
	w.write([]byte(kwMagic))
	w.write(binary.LittleEndian.AppendUint16(nil, kwVersion))
	w.str(ix.keywordTag())
	space := ""
	if ix.emb != nil && !ix.floatVecs {
		space = ix.VectorSpace()
	}
	w.str(space)

	termIDs, wordIDs := map[string]uint32{}, map[string]uint32{}
	var terms, words []string
	intern := func(m map[string]uint32, tab *[]string, s string) uint32 {
		id, ok := m[s]
		if !ok {
			id = uint32(len(*tab))
			m[s] = id
			*tab = append(*tab, s)
		}
		return id
	}
	// the file being replaced: a product whose texts hash as saved there
	// keeps its analysis (its ids mapped to this file's tables, interned
	// in the same order as analysing would, so the file is the same
	// bytes), the rest are analysed; the codes are always the index's
	old := ix.openForCopy()
	defer func() {
		if old != nil {
			old.f.Close()
		}
	}()
	mapID := func(cache []uint32, tab []string, m map[string]uint32, out *[]string, fid uint32) uint32 {
		if id := cache[fid]; id != 0 {
			return id - 1
		}
		id := intern(m, out, tab[fid])
		cache[fid] = id + 1
		return id
	}
	type entry struct {
		item  catalog.Item
		code  ann.Code
		vhash [32]byte
		ok    bool
		an    analysed
		print [32]byte
		saved *savedDoc // the file's record, when its print is the item's
	}
	chunk := make([]entry, saveChunk)
	workers := runtime.GOMAXPROCS(0)
	var ndocs uint64
	var rec []byte
	var fids [numFields][]uint32 // a doc's file term ids per field
	var post postingsWriter      // the docs' postings, by file term id
	for lo := 0; lo < len(ids) && w.err == nil; lo += saveChunk {
		if ix.kw.closing.Load() {
			return errKwClosing // the deferred Remove drops the temporary file
		}
		if ix.kw.chunkHook != nil {
			ix.kw.chunkHook()
		}
		part := ids[lo:min(lo+saveChunk, len(ids))]
		ix.mu.RLock()
		for i, id := range part {
			e := &chunk[i]
			*e = entry{}
			if d, ok := ix.byID[id]; ok && ix.docs[d].live {
				dc := &ix.docs[d]
				e.item, e.code, e.vhash, e.ok = dc.item, dc.vec, dc.vhash, true
			}
		}
		ix.mu.RUnlock()
		if old != nil {
			for i, id := range part {
				if chunk[i].ok {
					chunk[i].saved = old.find(id) // in id order, as the file
				}
			}
		}
		var analysedN, copiedN atomic.Int64
		var wg sync.WaitGroup
		for k := range workers {
			wg.Go(func() {
				h := sha256.New()
				for i := k; i < len(part); i += workers {
					e := &chunk[i]
					if !e.ok {
						continue
					}
					e.print = itemPrint(h, &e.item)
					if e.saved != nil && e.saved.print == e.print {
						copiedN.Add(1)
						continue
					}
					e.saved = nil
					ft := fieldTexts(&e.item)
					for f := range ft {
						e.an.fields[f] = ix.an.Terms(ft[f])
					}
					e.an.words = uniq(ix.raw.Terms(e.item.Title))
					analysedN.Add(1)
				}
			})
		}
		wg.Wait()
		ix.kw.analysed.Add(analysedN.Load())
		ix.kw.copied.Add(copiedN.Load())
		for i := range part {
			e := &chunk[i]
			if !e.ok {
				continue // deleted since the ids were listed
			}
			rec = binary.AppendUvarint(rec[:0], uint64(len(e.item.ID)))
			rec = append(rec, e.item.ID...)
			rec = append(rec, e.print[:]...)
			for f := range fids {
				fids[f] = fids[f][:0]
				if s := e.saved; s != nil {
					for _, fid := range s.fields[f] {
						fids[f] = append(fids[f], mapID(old.termMap, old.terms, termIDs, &terms, fid))
					}
				} else {
					for _, t := range e.an.fields[f] {
						fids[f] = append(fids[f], intern(termIDs, &terms, t))
					}
				}
				rec = binary.AppendUvarint(rec, uint64(len(fids[f])))
				for _, id := range fids[f] {
					rec = binary.AppendUvarint(rec, uint64(id))
				}
			}
			post.add(uint32(ndocs), &fids)
			if s := e.saved; s != nil {
				rec = binary.AppendUvarint(rec, uint64(len(s.words)))
				for _, fid := range s.words {
					rec = binary.AppendUvarint(rec, uint64(mapID(old.wordMap, old.words, wordIDs, &words, fid)))
				}
			} else {
				rec = binary.AppendUvarint(rec, uint64(len(e.an.words)))
				for _, t := range e.an.words {
					rec = binary.AppendUvarint(rec, uint64(intern(wordIDs, &words, t)))
				}
			}
			if space == "" || e.code.Len() == 0 {
				rec = binary.AppendUvarint(rec, 0)
			} else {
				rec = binary.AppendUvarint(rec, uint64(e.code.Len()))
				rec = append(rec, e.vhash[:]...)
				rec = e.code.AppendBinary(rec)
			}
			w.write(rec)
			ndocs++
		}
	}
	tables := w.n
	for _, tab := range [][]string{terms, words} {
		w.uvarint(uint64(len(tab)))
		for _, s := range tab {
			w.str(s)
		}
	}
	postAt := w.n
	post.write(w, len(terms))
	w.write(binary.LittleEndian.AppendUint64(nil, uint64(tables)))
	w.write(binary.LittleEndian.AppendUint64(nil, uint64(postAt)))
	w.write(binary.LittleEndian.AppendUint64(nil, ndocs))
	sum := w.h.Sum(nil)
	if w.err == nil {
		_, w.err = w.w.Write(sum)
	}
	if w.err == nil {
		w.err = w.w.Flush()
	}
	if w.err == nil {
		w.err = f.Sync()
	}
	if err := errors.Join(w.err, f.Close()); err != nil {
		return fmt.Errorf("save keyword index %s: %w", tmp, err)
	}
	path := filepath.Join(ix.semDir, keywordFile)
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save keyword index: %w", err)
	}
	if err := syncDir(ix.semDir); err != nil {
		return fmt.Errorf("save keyword index: %w", err)
	}
	ix.kw.saved.Store(changes)
	ix.kw.saves.Add(1)
	ix.log.Info("search: keyword index saved", "path", path, "products", ndocs, "terms", len(terms),
		"analysed", ix.kw.analysed.Load()-analysedAt, "copied", ix.kw.copied.Load()-copiedAt,
		"bytes", w.n+sha256.Size, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// savedOf returns, for a batch being loaded, the saved doc of each item
// when the file has one (nil otherwise).
func (r *kwReader) savedOf(items []catalog.Item) []*savedDoc {
	if r == nil {
		return nil
	}
	out := make([]*savedDoc, len(items))
	for i := range items {
		if items[i].Available {
			out[i] = r.find(items[i].ID)
		}
	}
	return out
}

// wordIDOf returns the id of a title word for suggestions, adding it when
// new; shared by the build and the load from a saved file. Caller holds
// the write lock.
func (ix *Index) wordIDOf(w string) int {
	id, ok := ix.wordID[w]
	if !ok {
		id = len(ix.wordDF)
		ix.wordID[w] = id
		ix.wordDF = append(ix.wordDF, 0)
		ix.words.add(w, uint32(id))
	}
	return id
}

// unsafeBytes is the memory of an int8 slice as bytes, to read codes into.
func unsafeBytes(s []int8) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s))
}
