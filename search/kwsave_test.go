package search

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
)

// kwCatalogue is a catalogue kept like a store: a start scans it in id
// order.
type kwCatalogue map[string]catalog.Item

func kwItem(i int, tag string) catalog.Item {
	colours := []string{"red", "blue", "green", "black"}
	nouns := []string{"kettle", "wallet", "lamp", "notebook", "backpack"}
	price := float64(5 + i%40)
	return catalog.Item{
		ID:          fmt.Sprintf("p%04d", i),
		Title:       fmt.Sprintf("%s %s %s model%d c%d", colours[i%4], tag, nouns[i%5], i, i%6),
		Brand:       []string{"Acme", "Borealis", "Cobalt"}[i%3],
		Categories:  []string{fmt.Sprintf("Home/%s", nouns[i%5])},
		Attributes:  map[string]any{"material": []string{"steel", "leather", "bamboo"}[i%3], "size": float64(i % 7)},
		Description: fmt.Sprintf("A %s %s for every day, line %d. Running shoes not included.", colours[i%4], nouns[i%5], i%11),
		Price:       &price,
		CreatedAt:   time.Date(2026, 1, 1+i%28, 0, 0, 0, 0, time.UTC),
		Available:   true,
	}
}

func (c kwCatalogue) scan(fn func(catalog.Item) error) error {
	ids := make([]string, 0, len(c))
	for id := range c {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := fn(c[id]); err != nil {
			return err
		}
	}
	return nil
}

// kwOpen starts an index on the catalogue as a server does (Load), with
// the keyword index saved in dir ("" for none), and waits for the item
// vectors and for the save a Load starts.
func kwOpen(t *testing.T, cat kwCatalogue, dir string, cfg Config, opt Options) *Index {
	t.Helper()
	ctx := context.Background()
	opt.Registry, opt.IndexDir = sharedRegistry(), dir
	ix, err := NewIndex(cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Load(ctx, len(cat), cat.scan); err != nil {
		t.Fatal(err)
	}
	if err := ix.WaitVectors(ctx); err != nil {
		t.Fatal(err)
	}
	ix.kw.wg.Wait()
	return ix
}

// kwAnswers is every answer the comparisons look at, as JSON: searches in
// each mode with filters, facets and orders, suggestions, and the stored
// vector codes of each product.
func kwAnswers(t *testing.T, ix *Index) string {
	t.Helper()
	ctx := context.Background()
	var out []any
	lo, hi := 10.0, 30.0
	for _, q := range []string{"", "kettle", "red wallet", "blu lamp", "notebok", "model12", "backp", "acme steel", "running", "c3 green", "gold", "model2"} {
		for _, mode := range []Mode{ModeKeyword, ModeSemantic, ModeHybrid} {
			for _, req := range []Request{
				{Query: q, Mode: mode, N: 20, Facets: []string{"category", "brand", "price"}},
				{Query: q, Mode: mode, N: 5, Offset: 3, Brands: []string{"acme"}, MinPrice: &lo, MaxPrice: &hi, Sort: SortPriceAsc},
				{Query: q, Mode: mode, N: 10, Categories: []string{"Home/lamp"}, Sort: SortNewest},
			} {
				res, err := ix.Search(ctx, req)
				if err != nil {
					t.Fatalf("search %+v: %v", req, err)
				}
				res.TookMS = 0
				out = append(out, req.Query, req.Mode, res)
			}
		}
	}
	for _, p := range []string{"r", "bl", "mod", "wal", "acm"} {
		out = append(out, ix.Suggest(p, 8))
	}
	ix.mu.RLock()
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range ix.byID {
			if !yield(id) {
				return
			}
		}
	}) {
		dc := &ix.docs[ix.byID[id]]
		out = append(out, id, dc.vec.Checksum(), dc.vec.Len(), dc.vhash, dc.lens, dc.price)
	}
	ix.mu.RUnlock()
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func kwSame(t *testing.T, what string, got, want *Index) {
	t.Helper()
	if g, w := kwAnswers(t, got), kwAnswers(t, want); g != w {
		i := 0
		for i < min(len(g), len(w)) && g[i] == w[i] {
			i++
		}
		t.Fatalf("%s: answers differ from a fresh build at byte %d:\n got  …%s…\n want …%s…", what, i, g[max(0, i-200):min(len(g), i+200)], w[max(0, i-200):min(len(w), i+200)])
	}
}

// TestKeywordIndexSavedRestart: a start from the saved keyword index
// answers exactly as a fresh build of the same catalogue (searches in
// every mode, facets, orders, suggestions, vector codes), with products
// added, changed (texts, or the price only) and deleted both while the
// server ran after the save (and it stopped without saving: a crash) and
// while it was stopped. A deleted product never comes back; a product
// whose texts changed is analysed again; the file is written after a Load
// that analysed anything, never at Close (a clean stop after a change
// analyses nothing: the next start analyses the changed product and
// answers as a fresh build), and a start that finds it current writes
// nothing.
func TestKeywordIndexSavedRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	emb := newClusterEmbedder(16, 6)
	cat := kwCatalogue{}
	for i := range 400 {
		cat[kwItem(i, "").ID] = kwItem(i, "")
	}
	opt := Options{Embedder: emb}
	a := kwOpen(t, cat, dir, DefaultConfig(), opt)
	if saves, loads, _, _ := a.KeywordIndexStats(); saves < 1 || loads != 0 {
		t.Fatalf("first start: %d saves, %d loads; want the file written after the build", saves, loads)
	}
	if _, err := os.Stat(filepath.Join(dir, keywordFile)); err != nil {
		t.Fatal(err)
	}

	// while it runs, after the save: changed, deleted, added
	up := func(it catalog.Item) {
		cat[it.ID] = it
		if err := a.Upsert(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	up(kwItem(1, "gold"))
	delete(cat, "p0002")
	a.Delete("p0002")
	up(kwItem(900, "new"))
	a.closeVectors() // a crash: no save at Close

	// while stopped
	cat["p0003"] = kwItem(3, "gold")
	p4 := cat["p0004"]
	price := 99.5
	p4.Price = &price // the texts are the same: the saved analysis is kept
	cat["p0004"] = p4
	delete(cat, "p0005")
	cat["p0901"] = kwItem(901, "newer")
	p6 := cat["p0006"]
	p6.Available = false
	cat["p0006"] = p6

	// a save the crash cut short left its temporary file: the next save
	// removes it
	left := filepath.Join(dir, keywordFile+".tmp-42")
	if err := os.WriteFile(left, []byte("half a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := kwOpen(t, cat, dir, DefaultConfig(), opt)
	if _, err := os.Stat(left); err == nil {
		t.Fatal("the temporary file of a save cut short is still there after a save")
	}
	fresh := kwOpen(t, cat, "", DefaultConfig(), opt)
	saves, loads, reused, changed := b.KeywordIndexStats()
	// 400 saved: p0002, p0005 deleted, p0006 unavailable, p0001 and
	// p0003 changed; p0900 and p0901 are not in the file
	if loads != 1 || reused != 395 || changed != 2 || saves < 1 {
		t.Fatalf("restart: loads %d reused %d changed %d saves %d; want 1, 395, 2 and a save (the file was behind)", loads, reused, changed, saves)
	}
	kwSame(t, "restart after changes", b, fresh)
	for _, q := range []string{"model2", "model5", "model6"} {
		res, err := b.Search(ctx, Request{Query: q, Mode: ModeKeyword, N: 50})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range res.Items {
			if h.ID == "p0002" || h.ID == "p0005" || h.ID == "p0006" {
				t.Fatalf("query %q found %s, deleted or unavailable before the restart", q, h.ID)
			}
		}
	}
	if res, _ := b.Search(ctx, Request{Query: "gold", Mode: ModeKeyword}); res.Total != 2 {
		t.Fatalf("gold: %d found, want the 2 products changed to it", res.Total)
	}

	// shoppers' searches (the suggestion list) are not catalogue: the
	// file never holds them, so forgetting a shopper has nothing to
	// remove from it
	for range 3 {
		b.RecordSearch("zanzibar secretquery", "shopper-1")
		b.RecordQuery("zanzibar secretquery")
	}
	// a change at run time, then a clean stop: Close writes nothing and
	// analyses nothing (a save would analyse the whole catalogue again:
	// minutes at 1M); the next start analyses the changed product
	cat["p0007"] = kwItem(7, "silver")
	if err := b.Upsert(ctx, cat["p0007"]); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitVectors(ctx); err != nil {
		t.Fatal(err)
	}
	b.kw.wg.Wait()
	before, _, _, _ := b.KeywordIndexStats()
	analysedBefore := b.kw.analysed.Load()
	onDisk, err := os.ReadFile(filepath.Join(dir, keywordFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if saves, _, _, _ := b.KeywordIndexStats(); saves != before || b.kw.analysed.Load() != analysedBefore {
		t.Fatalf("Close after a change: %d saves (want %d), %d products analysed by it; want none", saves, before, b.kw.analysed.Load()-analysedBefore)
	}
	if now, err := os.ReadFile(filepath.Join(dir, keywordFile)); err != nil || !bytes.Equal(now, onDisk) {
		t.Fatalf("Close changed the saved keyword index (%v)", err)
	}
	c := kwOpen(t, cat, dir, DefaultConfig(), opt)
	saves, loads, reused, changed = c.KeywordIndexStats()
	// p0006 is unavailable, p0007 changed
	if loads != 1 || reused != int64(len(cat)-2) || changed != 1 || saves != 1 {
		t.Fatalf("start after a clean stop with a change: loads %d reused %d changed %d saves %d; want 1, %d, 1, 1", loads, reused, changed, saves, len(cat)-2)
	}
	fresh1 := kwOpen(t, cat, "", DefaultConfig(), opt)
	kwSame(t, "restart after a clean stop with a change", c, fresh1)
	file, err := os.ReadFile(filepath.Join(dir, keywordFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"zanzibar", "secretquery", "shopper-1"} {
		if bytes.Contains(file, []byte(s)) {
			t.Fatalf("the saved keyword index holds %q, which only a shopper's search had", s)
		}
	}
	// terms are saved length-prefixed: "\x06model7" is the term model7
	// (p0007's), not model70…model79
	if !bytes.Contains(file, []byte("silver")) || !bytes.Contains(file, []byte("\x06model7")) {
		t.Fatal("the keyword index saved by the next start lacks a product changed at run time")
	}
	if bytes.Contains(file, []byte("\x06model5")) || bytes.Contains(file, []byte("\x06model2")) {
		t.Fatal("the saved keyword index holds the words of a deleted product")
	}
	// the start's save runs beside the embedding of the changed product,
	// so it may have written p0007 without its vector code (the next start
	// then saves again); a save now covers the code, so that the file is
	// current
	if err := c.SaveKeyword(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	d := kwOpen(t, cat, dir, DefaultConfig(), opt)
	saves, loads, reused, changed = d.KeywordIndexStats()
	if loads != 1 || reused != int64(len(cat)-1) || changed != 0 || saves != 0 {
		t.Fatalf("start on a current file: loads %d reused %d changed %d saves %d; want 1, %d, 0, 0", loads, reused, changed, saves, len(cat)-1)
	}
	if err := d.Close(); err != nil { // nothing changed: nothing written
		t.Fatal(err)
	}
	if saves, _, _, _ := d.KeywordIndexStats(); saves != 0 {
		t.Fatalf("Close without a change wrote the file (%d saves)", saves)
	}
	kwSame(t, "restart on a current file", d, fresh1)
}

// TestKeywordIndexIgnored: a damaged, truncated or foreign file, one
// written by another analysis, or a file from another vector space is not
// trusted: the first three are logged, removed and the catalogue is
// analysed (then saved again); the codes of another vector space are not
// used but the analysis is.
func TestKeywordIndexIgnored(t *testing.T) {
	dir := t.TempDir()
	emb := newClusterEmbedder(16, 6)
	cat := kwCatalogue{}
	for i := range 300 {
		cat[kwItem(i, "").ID] = kwItem(i, "")
	}
	opt := Options{Embedder: emb}
	kwOpen(t, cat, dir, DefaultConfig(), opt) // writes the file
	path := filepath.Join(dir, keywordFile)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fresh := kwOpen(t, cat, "", DefaultConfig(), opt)
	flip := func(at int) []byte {
		b := slices.Clone(good)
		b[at] ^= 0x10
		return b
	}
	for _, tc := range []struct {
		name string
		file []byte
	}{
		{"a byte changed in a product", flip(len(good) / 2)},
		{"a byte changed in the tables", flip(len(good) - kwFooter - 3)},
		{"a byte changed in the checksum", flip(len(good) - 1)},
		{"truncated", good[:len(good)-100]},
		{"another file", []byte("AISLESNP not a keyword index, but long enough to be read as one 0123456789")},
		{"empty", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, tc.file, 0o600); err != nil {
				t.Fatal(err)
			}
			ix := kwOpen(t, cat, dir, DefaultConfig(), opt)
			saves, loads, reused, _ := ix.KeywordIndexStats()
			if loads != 0 || reused != 0 || saves < 1 {
				t.Fatalf("loads %d reused %d saves %d; want the file ignored and written again", loads, reused, saves)
			}
			kwSame(t, tc.name, ix, fresh)
			if b, err := os.ReadFile(path); err != nil || len(b) != len(good) {
				t.Fatalf("the file was not written again (%d bytes, %v)", len(b), err)
			}
		})
	}

	t.Run("another analyzer", func(t *testing.T) {
		if err := os.WriteFile(path, good, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.Analyzer = "standard" // no stemming: the saved terms are of "en"
		ix := kwOpen(t, cat, dir, cfg, opt)
		if saves, loads, reused, _ := ix.KeywordIndexStats(); loads != 0 || reused != 0 || saves < 1 {
			t.Fatalf("loads %d reused %d saves %d; want the file ignored and written again", loads, reused, saves)
		}
		kwSame(t, "another analyzer", ix, kwOpen(t, cat, "", cfg, opt))
	})

	t.Run("another vector space", func(t *testing.T) {
		if err := os.WriteFile(path, good, 0o600); err != nil {
			t.Fatal(err)
		}
		other := Options{Embedder: newClusterEmbedder(8, 6)}
		ix := kwOpen(t, cat, dir, DefaultConfig(), other)
		saves, loads, reused, _ := ix.KeywordIndexStats()
		if loads != 1 || reused != int64(len(cat)) || saves < 1 {
			t.Fatalf("loads %d reused %d saves %d; want the analysis reused and the file written with the new codes", loads, reused, saves)
		}
		kwSame(t, "another vector space", ix, kwOpen(t, cat, "", DefaultConfig(), other))
	})
}

// A product changed at run time, whose new vector is embedded in the
// background, does not make the index write the whole keyword file
// again when embedding goes idle: a save analyses every product of the
// catalogue once more (minutes at 1M), and a shop changing a product
// every few minutes would keep the server doing it. The change reaches
// the file with the next start (which analyses the few products the file
// does not hold current, then saves), or the next save that enough new
// vectors call for; Close writes nothing.
func TestKeywordIndexNotRewrittenForEachEmbeddedChange(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cat := kwCatalogue{}
	for i := range 400 {
		cat[kwItem(i, "").ID] = kwItem(i, "")
	}
	ix := kwOpen(t, cat, dir, DefaultConfig(), Options{Embedder: newClusterEmbedder(16, 6)})
	before, _, _, _ := ix.KeywordIndexStats()
	for i := range 3 {
		if err := ix.Upsert(ctx, kwItem(i, fmt.Sprintf("changed%d", i))); err != nil {
			t.Fatal(err)
		}
		if err := ix.WaitVectors(ctx); err != nil {
			t.Fatal(err)
		}
		ix.kw.wg.Wait()
	}
	if after, _, _, _ := ix.KeywordIndexStats(); after != before {
		t.Fatalf("%d saves of the whole keyword index for 3 products changed one by one", after-before)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if after, _, _, _ := ix.KeywordIndexStats(); after != before {
		t.Fatalf("Close wrote the changed index %d times, want none", after-before)
	}
}

// TestKeywordIndexCloseStopsASave: Close during a background save (a
// start that analysed products writes the file again: minutes at 1M)
// stops it at its next chunk instead of waiting for it: the file on disk
// is left as it was, no temporary file stays, and the next start answers
// as a fresh build.
func TestKeywordIndexCloseStopsASave(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cat := kwCatalogue{}
	n := saveChunk + 300 // two chunks
	for i := range n {
		cat[kwItem(i, "").ID] = kwItem(i, "")
	}
	opt := Options{Embedder: newClusterEmbedder(16, 6)}
	a := kwOpen(t, cat, dir, DefaultConfig(), opt)
	path := filepath.Join(dir, keywordFile)
	onDisk, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cat["p0001"] = kwItem(1, "gold")
	if err := a.Upsert(ctx, cat["p0001"]); err != nil {
		t.Fatal(err)
	}
	before, _, _, _ := a.KeywordIndexStats()
	analysedBefore, copiedBefore := a.kw.analysed.Load(), a.kw.copied.Load()
	started := make(chan struct{})
	calls := 0
	a.kw.chunkHook = func() { // runs in the save's goroutine
		if calls++; calls == 1 {
			close(started)
			// let Close begin while the save is under way (bounded: a Close
			// that waits for the save instead fails the test, not hangs it)
			for end := time.Now().Add(10 * time.Second); !a.kw.closing.Load() && time.Now().Before(end); {
				time.Sleep(time.Millisecond)
			}
		}
	}
	a.saveKeywordLater()
	<-started
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if after, _, _, _ := a.KeywordIndexStats(); after != before {
		t.Fatalf("the save under way at Close completed (%d saves); want it stopped", after-before)
	}
	if got := a.kw.analysed.Load() + a.kw.copied.Load() - analysedBefore - copiedBefore; got != saveChunk {
		t.Fatalf("the save analysed or copied %d products; want it stopped after its first chunk of %d", got, saveChunk)
	}
	if now, err := os.ReadFile(path); err != nil || !bytes.Equal(now, onDisk) {
		t.Fatalf("the stopped save changed the file (%v)", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, keywordFile+".tmp-*")); len(left) != 0 {
		t.Fatalf("the stopped save left %v", left)
	}
	b := kwOpen(t, cat, dir, DefaultConfig(), opt)
	if _, loads, reused, changed := b.KeywordIndexStats(); loads != 1 || changed != 1 || reused != int64(n-1) {
		t.Fatalf("next start: loads %d reused %d changed %d; want 1, %d, 1", loads, reused, changed, n-1)
	}
	kwSame(t, "start after a stopped save", b, kwOpen(t, cat, "", DefaultConfig(), opt))
}

// TestKeywordIndexSaveCopiesUnchanged: a save takes the analysis of the
// products whose texts are as in the file it replaces from that file and
// analyses only the others (changed or new), and writes the same bytes
// as a save that analysed every product; a start from it answers as a
// fresh build.
func TestKeywordIndexSaveCopiesUnchanged(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cat := kwCatalogue{}
	n := saveChunk + 200 // two chunks
	for i := range n {
		cat[kwItem(i, "").ID] = kwItem(i, "")
	}
	opt := Options{Embedder: newClusterEmbedder(16, 6)}
	a := kwOpen(t, cat, dir, DefaultConfig(), opt)
	up := func(it catalog.Item) {
		cat[it.ID] = it
		if err := a.Upsert(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	up(kwItem(1, "gold"))        // texts changed
	up(kwItem(4100, "brandnew")) // texts changed, in the second chunk
	up(kwItem(n+5, "added"))     // new
	p7 := cat["p0007"]           // the price only: copied
	price := 1234.5
	p7.Price = &price
	up(p7)
	delete(cat, "p0009")
	a.Delete("p0009")
	if err := a.WaitVectors(ctx); err != nil {
		t.Fatal(err)
	}
	a.kw.wg.Wait()
	path := filepath.Join(dir, keywordFile)
	var copiedFile []byte
	for _, c := range []struct {
		name           string
		removeFirst    bool
		analysed, copy int64
	}{
		{"save over the file", false, 3, int64(n - 3)},
		{"save with no file", true, int64(n), 0},
	} {
		if c.removeFirst {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}
		an0, cp0 := a.kw.analysed.Load(), a.kw.copied.Load()
		a.kw.saved.Store(-1) // due
		if err := a.SaveKeyword(); err != nil {
			t.Fatal(err)
		}
		if an, cp := a.kw.analysed.Load()-an0, a.kw.copied.Load()-cp0; an != c.analysed || cp != c.copy {
			t.Fatalf("%s: analysed %d, copied %d; want %d, %d", c.name, an, cp, c.analysed, c.copy)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if c.removeFirst {
			if !bytes.Equal(b, copiedFile) {
				t.Fatalf("the save that copied wrote %d bytes, the one that analysed %d: not the same file", len(copiedFile), len(b))
			}
		} else {
			copiedFile = b
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := kwOpen(t, cat, dir, DefaultConfig(), opt)
	if _, loads, reused, changed := b.KeywordIndexStats(); loads != 1 || reused != int64(len(cat)) || changed != 0 {
		t.Fatalf("start from the saved file: loads %d reused %d changed %d; want 1, %d, 0", loads, reused, changed, len(cat))
	}
	kwSame(t, "start from a save that copied", b, kwOpen(t, cat, "", DefaultConfig(), opt))
}

// TestKeywordIndexListedPostings: a start reads the postings of the saved
// docs it finds in the file's order with their saved texts, up to the
// first doc that is not (changed, new, deleted or unavailable while
// stopped), and builds the rest; in every case it answers exactly as a
// fresh build of the same catalogue (searches in every mode with filters,
// facets and orders, suggestions).
func TestKeywordIndexListedPostings(t *testing.T) {
	price := 77.0
	opt := Options{Embedder: newClusterEmbedder(16, 6)}
	for _, tc := range []struct {
		name   string
		n      int
		change func(kwCatalogue)
		listed int64
	}{
		{"current", 400, func(kwCatalogue) {}, 400},
		{"price only", 400, func(c kwCatalogue) { it := c["p0100"]; it.Price = &price; c["p0100"] = it }, 400},
		{"text changed", 400, func(c kwCatalogue) { c["p0200"] = kwItem(200, "gold") }, 200},
		{"deleted", 400, func(c kwCatalogue) { delete(c, "p0300") }, 300},
		{"first deleted", 400, func(c kwCatalogue) { delete(c, "p0000") }, 0},
		{"unavailable", 400, func(c kwCatalogue) { it := c["p0150"]; it.Available = false; c["p0150"] = it }, 150},
		{"added last", 400, func(c kwCatalogue) { c["p0999"] = kwItem(999, "new") }, 400},
		{"added between", 400, func(c kwCatalogue) { c["p0042x"] = kwItem(4242, "new") }, 43},
		{"several batches, one changed", loadBatch + 500, func(c kwCatalogue) { c["p10200"] = kwItem(10200, "gold") }, 10200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cat := kwCatalogue{}
			for i := range tc.n {
				it := kwItem(i, "")
				cat[it.ID] = it
			}
			if tc.n > 10000 { // ids past p9999 sort by their digits
				for i := range tc.n {
					it := kwItem(i, "")
					delete(cat, it.ID)
					it.ID = fmt.Sprintf("p%05d", i)
					cat[it.ID] = it
				}
			}
			a := kwOpen(t, cat, dir, DefaultConfig(), opt)
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			tc.change(cat)
			b := kwOpen(t, cat, dir, DefaultConfig(), opt)
			if got := b.kw.listed.Load(); got != tc.listed {
				t.Fatalf("postings read for %d docs, want %d", got, tc.listed)
			}
			kwSame(t, tc.name, b, kwOpen(t, cat, "", DefaultConfig(), opt))
		})
	}
}
