package search

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/aisle-dev/aisle/ann"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/search/analysis"
	"github.com/aisle-dev/aisle/store"
)

// Options are the collaborators of an Index.
type Options struct {
	// Embedder enables semantic and hybrid search; nil means keyword only.
	// Item vectors are computed in the background (see WaitVectors).
	Embedder Embedder
	// QueryEmbedder, when set, embeds queries instead of Embedder (e.g. the
	// same model behind a cache of repeated queries). It must produce
	// vectors of the same space.
	QueryEmbedder Embedder
	// Vectors, when set, keeps item vectors across restarts: Upsert takes
	// the stored vector of an item whose embedded text is unchanged instead
	// of embedding it again, and new vectors are written there.
	Vectors store.Vectors
	// VectorSpace names the embedder's vector space in Vectors; "" means
	// the embedder's Name and Dim ("use-lite-en/512").
	VectorSpace string
	// Float32Vectors keeps every item vector in float32 beside its int8
	// code, and semantic search scores the float32 ones: 4× the memory,
	// kept to re-run the comparison with int8 (docs/vectors.md).
	Float32Vectors bool
	// ExactSemantic makes semantic search scan every product's int8 vector
	// instead of probing the semantic index's lists (semindex.go).
	ExactSemantic bool
	// SemanticIVFMin is the number of products with vectors from which
	// semantic search probes lists; 0 means SemanticIVFMin.
	SemanticIVFMin int
	// IndexDir, when set, is where the semantic index's lists are saved
	// after a build (semantic.lists) and loaded from instead of building
	// when their tag matches (semsave.go), and where the keyword index is
	// saved (keyword.index) for a first Load to take each unchanged
	// product's analysis and vector code from (kwsave.go); "" never saves.
	IndexDir string
	// EmbedWorkers bounds the goroutines embedding items in the background
	// (0: GOMAXPROCS); EmbedBatch is the texts per Embed call (0: 64).
	EmbedWorkers int
	EmbedBatch   int
	// EmbedRetry is the wait before a batch is tried again after the
	// embedder failed it and a probe (e.g. a remote model server down or
	// restarting); it doubles up to 5 min and retries go on until the
	// index is closed. A batch that fails while the probe works is split
	// to find the item the embedder rejects; that item is skipped until
	// it changes. 0 means 30 s; negative never retries nor splits.
	EmbedRetry time.Duration
	// Registry provides the analyzers; nil means analysis.NewRegistry with
	// the bundled Chinese dictionary (loaded on first Chinese text).
	Registry *analysis.Registry
	// Logger receives index maintenance messages; nil discards them.
	Logger *slog.Logger
}

// doc is one indexed item version. A doc id is never reused: an update
// appends a new doc and marks the old one dead; compaction renumbers.
type doc struct {
	item     catalog.Item
	live     bool
	lens     [numFields]uint16
	title    []uint32 // analysed title terms in order, for proximity
	price    float64
	hasPrice bool
	created  int64
	cats     []uint32  // category facet values (each path and its ancestors)
	brand    int32     // brand facet value, -1 when none
	vec      ann.Code  // unit-length embedding as int8 (Len 0: none yet)
	vecf     []float32 // the float32 embedding, kept only with Options.Float32Vectors
	vhash    [32]byte  // SHA-256 of the embedded text (see embedText)
}

// docHot is the part of a doc that scoring and filtering read for every
// posting, kept in its own compact array for the CPU cache.
type docHot struct {
	price    float64
	lens     [numFields]uint16
	live     bool
	hasPrice bool
	brand    int32 // brand facet value, -1 when none
	created  int64 // for the newest-first order
}

// Index is an in-memory product search index. It is safe for concurrent
// searches while one goroutine writes (Upsert, Delete).
type Index struct {
	cfg  Config
	an   *analysis.Analyzer
	raw  *analysis.Analyzer // unstemmed, for suggestions
	emb  Embedder
	log  *slog.Logger
	syns map[string][]string
	negs map[string]bool

	vstore    store.Vectors
	space     string
	floatVecs bool // Options.Float32Vectors
	noSemIVF  bool // Options.Float32Vectors or ExactSemantic: never build semantic lists
	sem       semState
	semMin    int         // Options.SemanticIVFMin
	semDir    string      // Options.IndexDir
	vec       *vectorizer // background embedding; nil without an embedder
	qemb      Embedder    // embeds queries: Options.QueryEmbedder or emb

	mu     sync.RWMutex
	docs   []doc
	hot    []docHot // parallel to docs
	catVal []uint32 // category facet values of every doc, in doc order
	catEnd []uint32 // parallel to docs: end of the doc's values in catVal
	byID   map[string]uint32
	live   *roaring.Bitmap
	nLive  int
	nDead  int
	lenSum [numFields]float64
	ref    bm25 // scoring constants of the postings' block summaries (postBlockMax.tmax)

	termIDs map[string]uint32
	terms   []string
	post    []postings
	dict    sortedList // analysed terms → term id

	cats   facetValues
	brands facetValues
	prices []*roaring.Bitmap // one per Config.PriceRanges

	titles sortedList     // lowercased titles → doc id
	words  sortedList     // unstemmed title words → word id
	wordDF []int          // title documents per word id
	wordID map[string]int // word → id

	queries *pastQueries // past queries for Suggest; its own lock

	occ     []uint64 // scratch of add, under the write lock
	loading int      // Loads running: the sorted lists are merged when the last ends

	scratch scratchPool // per-search arrays; its own lock
	pmasks  priceMasks  // masks of the price ranges asked again (pricemask.go); atomic

	rank ranking // learned ranking (ranker.go); its own lock

	kw kwState // the saved keyword index (kwsave.go)
	// listed, during a first Load from a saved keyword index, is the docs
	// whose postings are read from the file instead of built (kwpostings.go)
	listed *kwListed
}

// NewIndex returns an empty index.
func NewIndex(cfg Config, opt Options) (*Index, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("search config: %w", err)
	}
	reg := opt.Registry
	if reg == nil {
		reg = analysis.NewRegistry(analysis.Options{})
	}
	an, err := reg.Analyzer(cfg.Analyzer)
	if err != nil {
		return nil, fmt.Errorf("search config: %w", err)
	}
	raw, err := reg.Analyzer(analysis.AnalyzerStandard)
	if err != nil {
		return nil, fmt.Errorf("search config: %w", err)
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ix := &Index{
		cfg: cfg, an: an, raw: raw, emb: opt.Embedder, log: log,
		vstore: opt.Vectors, space: opt.VectorSpace, floatVecs: opt.Float32Vectors, noSemIVF: opt.Float32Vectors || opt.ExactSemantic,
		semMin:  cmp.Or(opt.SemanticIVFMin, SemanticIVFMin),
		semDir:  opt.IndexDir,
		syns:    map[string][]string{},
		byID:    map[string]uint32{},
		live:    roaring.New(),
		termIDs: map[string]uint32{},
		cats:    newFacetValues(),
		brands:  newFacetValues(),
		wordID:  map[string]int{},
		queries: newPastQueries(&cfg),
	}
	ix.ref = ix.batchRef(nil, nil)
	ix.titles.rank = titleRank
	ix.words.rank = func(_ string, id uint32) int32 { return -int32(min(ix.wordDF[id], math.MaxInt32)) }
	for range cfg.PriceRanges {
		ix.prices = append(ix.prices, roaring.New())
	}
	if ix.emb != nil {
		ix.vec = newVectorizer(opt)
		ix.qemb = opt.QueryEmbedder
		if ix.qemb == nil {
			ix.qemb = ix.emb
		}
	}
	if ix.syns, err = compileSynonyms(an, cfg.Synonyms); err != nil {
		return nil, fmt.Errorf("search config: %w", err)
	}
	ix.negs = compileNegations(an, cfg.NegationWords)
	return ix, nil
}

// loadBatch is the items Load indexes at a time.
const loadBatch = 10_000

// Load indexes a whole catalogue, as a server's start does: scan calls its
// function once for every item; n is the number of items expected (0:
// unknown), for which room is made at once. The sorted dictionaries (terms,
// titles, title words) are merged once at the end rather than after every
// batch: merging each batch into ever longer lists made the build
// quadratic, 14 % of a million products' build. Searches while it runs
// are answered from what is indexed so far, more slowly, except that
// products whose postings are read from the saved file (kwpostings.go)
// are found by keyword only once the load ends. At its end the
// semantic lists are loaded or built in the background (semindex.go).
//
// The first Load into an empty index joins the scan (in id order) with
// the saved keyword index under Options.IndexDir: a product whose texts
// hash as saved takes its saved analysis and vector code, any other is
// analysed as in a build. When the file did not hold exactly this
// catalogue, it is written again in the background (kwsave.go).
func (ix *Index) Load(ctx context.Context, n int, scan func(func(catalog.Item) error) error) error {
	ix.reserve(n)
	ix.mu.Lock()
	first := len(ix.docs) == 0 && ix.loading == 0
	ix.loading++
	ix.mu.Unlock()
	// a first Load takes what it can from the saved keyword index
	var kr *kwReader
	if first {
		kr = ix.openKeyword()
		ix.mu.Lock()
		ix.startListing(kr)
		ix.mu.Unlock()
	}
	var fresh atomic.Int64 // products analysed (or vectors looked up) here
	defer func() {
		ix.mu.Lock()
		if ix.loading--; ix.loading == 0 {
			ix.dict.merge()
			ix.titles.merge()
			ix.words.merge()
			// the semantic lists load (or build) now, in the background,
			// rather than at the first semantic search
			ix.maybeBuildSemantic()
		}
		ix.mu.Unlock()
	}()
	batch := make([]catalog.Item, 0, loadBatch)
	err := scan(func(it catalog.Item) error {
		batch = append(batch, it)
		if len(batch) < loadBatch {
			return nil
		}
		err := ix.upsert(ctx, batch, kr, &fresh)
		batch = batch[:0]
		return err
	})
	if err == nil && len(batch) > 0 {
		err = ix.upsert(ctx, batch, kr, &fresh)
	}
	if !first {
		return err
	}
	ix.mu.Lock()
	ix.endListing()
	ix.mu.Unlock()
	current := false // the saved file holds exactly this catalogue
	if kr != nil {
		gone := kr.skipped > 0 || kr.have || kr.left > 0
		current = err == nil && kr.failed == nil && fresh.Load() == 0 && !gone
		ix.kw.loads.Add(1)
		ix.kw.reused.Store(kr.used.Load())
		ix.kw.stale.Store(kr.stale.Load())
		ix.log.Info("search: keyword index loaded", "path", kr.path, "reused", kr.used.Load(), "changed", kr.stale.Load(),
			"analysed", fresh.Load(), "postings_read", ix.kw.listed.Load(), "deleted_since", gone)
		kr.close()
	}
	if err != nil {
		return err
	}
	ix.kw.loaded.Store(true)
	if current {
		ix.kw.saved.Store(ix.kw.changes.Load())
	} else {
		ix.saveKeywordLater()
	}
	return nil
}

// reserve makes room for n more documents, so that indexing a whole
// catalogue does not copy the document arrays and rehash the id map as
// they grow.
func (ix *Index) reserve(n int) {
	if n <= 0 {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.docs = slices.Grow(ix.docs, n)
	ix.hot = slices.Grow(ix.hot, n)
	ix.catEnd = slices.Grow(ix.catEnd, n)
	if len(ix.byID) == 0 {
		ix.byID = make(map[string]uint32, n)
	}
}

// Logger returns the logger of the index's maintenance messages
// (Options.Logger).
func (ix *Index) Logger() *slog.Logger { return ix.log }

// Len returns the number of searchable (live) items.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.nLive
}

// Upsert adds or replaces items. Items not Available are removed from the
// index. Items are keyword-searchable when it returns; with an Embedder,
// the vectors of unchanged items are kept (or read from Options.Vectors)
// and the others are computed in the background (see WaitVectors).
func (ix *Index) Upsert(ctx context.Context, items ...catalog.Item) error {
	return ix.upsert(ctx, items, nil, nil)
}

// upsert is Upsert; in a Load from a saved keyword index (kr), an item
// whose texts hash as saved takes its saved analysis and vector code, and
// fresh counts the items that did not.
func (ix *Index) upsert(ctx context.Context, items []catalog.Item, kr *kwReader, fresh *atomic.Int64) error {
	for i := range items {
		if items[i].ID == "" {
			return fmt.Errorf("upsert: item %d has no id", i)
		}
	}
	an := make([]analysed, len(items))
	saved := kr.savedOf(items)
	workers := min(runtime.GOMAXPROCS(0), max(1, len(items)/256))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var h hash.Hash
			for i := w; i < len(items); i += workers {
				if !items[i].Available {
					continue
				}
				if saved != nil {
					if h == nil {
						h = sha256.New()
					}
					if s := saved[i]; s != nil && itemPrint(h, &items[i]) == s.print {
						an[i].saved, an[i].from = s, kr
						kr.used.Add(1)
						if s.code.Len() > 0 {
							an[i].code, an[i].vhash = s.code, s.vhash
						} else if ix.emb != nil {
							fresh.Add(1) // its vector is looked up as in a build
						}
						continue
					}
					fresh.Add(1)
					if saved[i] != nil {
						kr.stale.Add(1)
					}
				}
				ft := fieldTexts(&items[i])
				for f := range ft {
					an[i].fields[f] = ix.an.Terms(ft[f])
				}
				an[i].words = ix.raw.Terms(items[i].Title)
			}
		}(w)
	}
	wg.Wait()
	var jobs []vecJob
	if ix.emb != nil {
		jobs = ix.prepareVectors(ctx, items, an)
	}
	ix.mu.Lock()
	if len(ix.docs) == 0 {
		ix.ref = ix.batchRef(items, an)
	}
	for i := range items {
		ix.remove(items[i].ID)
		if items[i].Available {
			ix.add(&items[i], &an[i])
		}
	}
	if ix.loading == 0 {
		ix.dict.tidy()
		ix.titles.tidy()
		ix.words.tidy()
	}
	ix.maybeCompact()
	ix.kw.changes.Add(1)
	ix.mu.Unlock()
	ix.enqueue(jobs)
	return nil
}

// batchRef returns the scoring constants with the average field lengths of
// a batch: the reference of the block summaries of an empty index's first
// batch (it is refreshed at each compaction).
func (ix *Index) batchRef(items []catalog.Item, an []analysed) bm25 {
	ref := bm25{k1: ix.cfg.K1, w: ix.cfg.FieldWeights, b: ix.cfg.FieldB}
	var sum [numFields]float64
	n := 0
	for i := range items {
		if !items[i].Available {
			continue
		}
		n++
		for f := range sum {
			sum[f] += float64(min(an[i].nterms(Field(f)), math.MaxUint16))
		}
	}
	for f := range ref.avg {
		ref.avg[f] = 1
		if n > 0 && sum[f] > 0 {
			ref.avg[f] = sum[f] / float64(n)
		}
	}
	return ref
}

func normalized(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	if s == 0 {
		return out
	}
	inv := float32(1 / math.Sqrt(s))
	for i, x := range v {
		out[i] = x * inv
	}
	return out
}

// Delete removes items by id; unknown ids are ignored.
func (ix *Index) Delete(ids ...string) {
	ix.mu.Lock()
	for _, id := range ids {
		ix.remove(id)
	}
	ix.maybeCompact()
	ix.kw.changes.Add(1)
	ix.mu.Unlock()
	if v := ix.vec; v != nil { // items given up on are forgotten with them
		v.mu.Lock()
		for _, id := range ids {
			delete(v.skipped, id)
		}
		v.mu.Unlock()
	}
}

// remove marks the live doc of id dead. Caller holds the write lock.
func (ix *Index) remove(id string) {
	d, ok := ix.byID[id]
	if !ok {
		return
	}
	ix.endListing() // a listed doc's postings and words are in place before it goes
	delete(ix.byID, id)
	dc := &ix.docs[d]
	dc.live = false
	ix.hot[d].live = false
	ix.live.Remove(d)
	ix.nLive--
	ix.nDead++
	for f := range dc.lens {
		ix.lenSum[f] -= float64(dc.lens[f])
	}
	for _, w := range uniq(ix.raw.Terms(dc.item.Title)) {
		if id, ok := ix.wordID[w]; ok {
			ix.wordDF[id]--
		}
	}
	dc.item = catalog.Item{ID: dc.item.ID}
	dc.vec, dc.vecf = ann.Code{}, nil
	dc.title = nil
}

func uniq(s []string) []string {
	if len(s) <= 16 { // titles: fewer comparisons than hashing into a map
		out := s[:0:0]
		for i, x := range s {
			if !slices.Contains(s[:i], x) {
				out = append(out, x)
			}
		}
		return out
	}
	seen := make(map[string]struct{}, len(s))
	out := s[:0:0]
	for _, x := range s {
		if _, ok := seen[x]; !ok {
			seen[x] = struct{}{}
			out = append(out, x)
		}
	}
	return out
}

// add appends a live doc. Caller holds the write lock.
func (ix *Index) add(it *catalog.Item, a *analysed) {
	d := uint32(len(ix.docs))
	dc := doc{item: *it, live: true, brand: -1, vhash: a.vhash, created: it.CreatedAt.UnixNano()}
	if a.code.Len() > 0 {
		dc.vec = a.code // saved, bit for bit
	} else {
		ix.setVec(&dc, a.vec)
	}
	if it.Price != nil && !math.IsNaN(*it.Price) {
		dc.price, dc.hasPrice = *it.Price, true
		for r, pr := range ix.cfg.PriceRanges {
			if dc.price >= pr.Min && (pr.Max <= 0 || dc.price < pr.Max) {
				ix.prices[r].Add(d)
			}
		}
	}
	// every (term, field) occurrence as term<<8|field, sorted to count the
	// term frequencies without a map per document; a listed doc's
	// postings come from the saved file (kwpostings.go)
	listed := ix.listDoc(a)
	occ := ix.occ[:0]
	for f := Field(0); f < numFields; f++ {
		dc.lens[f] = uint16(min(a.nterms(f), math.MaxUint16))
		ix.lenSum[f] += float64(dc.lens[f])
		if listed {
			if f == FieldTitle {
				dc.title = append(dc.title, a.saved.fields[f]...) // the file's ids are the index's
			}
			continue
		}
		note := func(id uint32) {
			occ = append(occ, uint64(id)<<8|uint64(f))
			if f == FieldTitle {
				dc.title = append(dc.title, id)
			}
		}
		if s := a.saved; s != nil {
			for _, fid := range s.fields[f] {
				note(a.from.term(ix, fid))
			}
			continue
		}
		for _, t := range a.fields[f] {
			note(ix.termID(t))
		}
	}
	slices.Sort(occ)
	for k := 0; k < len(occ); {
		id := uint32(occ[k] >> 8)
		var tf [numFields]uint8
		for ; k < len(occ) && uint32(occ[k]>>8) == id; k++ {
			if f := occ[k] & 0xff; tf[f] < math.MaxUint8 {
				tf[f]++
			}
		}
		ix.post[id].appendPosting(d, &tf, &dc.lens, &ix.ref)
	}
	ix.occ = occ
	for _, c := range it.Categories {
		c = strings.Trim(c, "/")
		for {
			if id, ok := ix.cats.ids[c]; c != "" && (!ok || !slices.Contains(dc.cats, id)) {
				dc.cats = append(dc.cats, ix.cats.add(c, c, d))
			}
			k := strings.LastIndexByte(c, '/')
			if k < 0 {
				break
			}
			c = c[:k]
		}
	}
	if b := strings.TrimSpace(it.Brand); b != "" {
		dc.brand = int32(ix.brands.add(strings.ToLower(b), b, d))
	}
	ix.docs = append(ix.docs, dc)
	if dc.vec.Len() > 0 {
		ix.vecAttached(d)
	}
	ix.hot = append(ix.hot, docHot{price: dc.price, lens: dc.lens, live: true, hasPrice: dc.hasPrice, brand: dc.brand, created: dc.created})
	ix.catVal = append(ix.catVal, dc.cats...)
	ix.catEnd = append(ix.catEnd, uint32(len(ix.catVal)))
	ix.byID[it.ID] = d
	ix.live.Add(d)
	ix.nLive++
	if t := strings.ToLower(strings.Join(strings.Fields(it.Title), " ")); t != "" {
		ix.titles.add(t, d)
	}
	if listed {
		return // its words are counted by the listing
	}
	if s := a.saved; s != nil {
		for _, fw := range s.words {
			ix.wordDF[a.from.word(ix, fw)]++
		}
		return
	}
	for _, w := range uniq(a.words) {
		ix.wordDF[ix.wordIDOf(w)]++
	}
}

func (ix *Index) termID(t string) uint32 {
	if id, ok := ix.termIDs[t]; ok {
		return id
	}
	id := uint32(len(ix.terms))
	ix.termIDs[t] = id
	ix.terms = append(ix.terms, t)
	ix.post = append(ix.post, postings{})
	ix.dict.add(t, id)
	return id
}

// SetConfig replaces the ranking settings of a live index (weights, BM25
// parameters, typo and prefix rules, synonyms, fusion, boosts). Settings
// that shape the index itself (Analyzer, PriceRanges) must stay the same.
func (ix *Index) SetConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("search config: %w", err)
	}
	if cfg.Analyzer != ix.cfg.Analyzer || !slices.Equal(cfg.PriceRanges, ix.cfg.PriceRanges) {
		return fmt.Errorf("search config: analyzer and price ranges cannot change on a built index")
	}
	syns, err := compileSynonyms(ix.an, cfg.Synonyms)
	if err != nil {
		return fmt.Errorf("search config: %w", err)
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.cfg, ix.syns, ix.negs = cfg, syns, compileNegations(ix.an, cfg.NegationWords)
	ix.queries.configure(&cfg)
	if ix.ref.w != cfg.FieldWeights || ix.ref.b != cfg.FieldB {
		ix.setRef()
	}
	return nil
}
