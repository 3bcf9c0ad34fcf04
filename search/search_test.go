package search

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/search/analysis"
)

func price(p float64) *float64 { return &p }

func fixture() []catalog.Item {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return []catalog.Item{
		{ID: "1", Title: "Sharpie Permanent Marker, Fine Point, Black", Brand: "Sharpie", Categories: []string{"Office/Writing/Markers"}, Price: price(5), Available: true, CreatedAt: t0},
		{ID: "2", Title: "HP 64 Black Ink Cartridge for Printer", Brand: "HP", Categories: []string{"Office/Printer Supplies/Ink"}, Price: price(30), Available: true, CreatedAt: t0.Add(time.Hour)},
		{ID: "3", Title: "Running Shoes for Men, Red", Brand: "Nike", Categories: []string{"Sports/Shoes/Running"}, Price: price(80), Attributes: map[string]any{"color": "red"}, Available: true, CreatedAt: t0.Add(2 * time.Hour)},
		{ID: "4", Title: "红色跑鞋 男款", Brand: "李宁", Categories: []string{"Sports/Shoes/Running"}, Price: price(60), Available: true, CreatedAt: t0.Add(3 * time.Hour)},
		{ID: "5", Title: "苹果 手机壳 防摔", Brand: "Generic", Categories: []string{"Electronics/Phone Accessories/Cases"}, Price: price(10), Available: true, CreatedAt: t0.Add(4 * time.Hour)},
		{ID: "6", Title: "Spiral Notebook, College Ruled", Brand: "Mead", Categories: []string{"Office/Paper/Notebooks"}, Price: price(3), Description: "A notebook with 70 sheets of college ruled paper, great for school and office notes.", Available: true, CreatedAt: t0.Add(5 * time.Hour)},
		{ID: "7", Title: "Printer Paper, 500 Sheets", Brand: "HP", Categories: []string{"Office/Paper/Printer Paper"}, Price: price(9), Available: true, CreatedAt: t0.Add(6 * time.Hour)},
		{ID: "8", Title: "Trail Running Shoes for Women", Brand: "Salomon", Categories: []string{"Sports/Shoes/Running"}, Available: true, CreatedAt: t0.Add(7 * time.Hour)},
		{ID: "9", Title: "Discontinued Marker Set", Brand: "Sharpie", Categories: []string{"Office/Writing/Markers"}, Price: price(12), Available: false, CreatedAt: t0},
	}
}

// The registry (and its Chinese dictionary, ~0.5 s to load) is shared by the tests.
var (
	testRegOnce sync.Once
	testReg     *analysis.Registry
)

func sharedRegistry() *analysis.Registry {
	testRegOnce.Do(func() { testReg = analysis.NewRegistry(analysis.Options{}) })
	return testReg
}

func newTestIndex(t testing.TB, cfg Config, emb Embedder, items []catalog.Item) *Index {
	t.Helper()
	ix, err := NewIndex(cfg, Options{Embedder: emb, Registry: sharedRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert(context.Background(), items...); err != nil {
		t.Fatal(err)
	}
	if err := ix.WaitVectors(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ix
}

func ids(r *Result) []string {
	out := make([]string, len(r.Items))
	for i, h := range r.Items {
		out[i] = h.ID
	}
	return out
}

func search(t testing.TB, ix *Index, req Request) *Result {
	t.Helper()
	r, err := ix.Search(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestKeywordQueries(t *testing.T) {
	ix := newTestIndex(t, DefaultConfig(), nil, fixture())
	tests := []struct {
		q     string
		first string
		none  bool
	}{
		{q: "sharpie marker", first: "1"},
		{q: "sharpie markr", first: "1"},      // typo: 5 letters, one edit
		{q: "ink for my printer", first: "2"}, // stop words dropped, both words in the title
		{q: "running shoe", first: "3"},
		{q: "苹果手机壳", first: "5"}, // segmentation on both sides
		{q: "红色跑鞋", first: "4"},
		{q: "noteb", first: "6"}, // prefix of the last word
		{q: "discontinued", none: true},
		{q: "zzzz", none: true},
	}
	for _, tc := range tests {
		r := search(t, ix, Request{Query: tc.q})
		if tc.none {
			if len(r.Items) != 0 || r.Total != 0 {
				t.Errorf("%q: got %v (total %d), want nothing", tc.q, ids(r), r.Total)
			}
			continue
		}
		if len(r.Items) == 0 || r.Items[0].ID != tc.first {
			t.Errorf("%q: got %v, want %s first", tc.q, ids(r), tc.first)
		}
	}
}

func TestTypoTolerance(t *testing.T) {
	items := []catalog.Item{
		{ID: "a", Title: "cord", Available: true},
		{ID: "b", Title: "lamp wire", Available: true},
		{ID: "c", Title: "blanket", Available: true},
		{ID: "d", Title: "headphones", Available: true},
	}
	cfg := DefaultConfig()
	cfg.Analyzer = analysis.AnalyzerStandard // no stemming: edit distances are on the words as written
	cfg.PrefixWeight = 0
	ix := newTestIndex(t, cfg, nil, items)
	tests := []struct {
		q    string
		want string // "" = no match
	}{
		{"cord", "a"},
		{"cort", ""},       // 4 letters: no typo allowed
		{"blankt", "c"},    // 6 letters, 1 edit
		{"blnkt", ""},      // 5 letters, 2 edits
		{"headphnes", "d"}, // 9 letters, 1 edit
		{"hedphnes", ""},   // 8 letters, 2 edits
		{"heaphonez", "d"}, // 9 letters, 2 edits
		{"lamp", "b"},
	}
	for _, tc := range tests {
		r := search(t, ix, Request{Query: tc.q + " "})
		got := ""
		if len(r.Items) > 0 {
			got = r.Items[0].ID
		}
		if got != tc.want {
			t.Errorf("%q: got %q (%v), want %q", tc.q, got, ids(r), tc.want)
		}
	}
}

func TestFuzzyMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var l sortedList
	var words []string
	for i := 0; i < 3000; i++ {
		n := 1 + rng.IntN(8)
		b := make([]byte, n)
		for k := range b {
			b[k] = "abcde"[rng.IntN(5)]
		}
		words = append(words, string(b))
		l.add(string(b), uint32(i))
		if i == 2000 {
			l.merge() // leave the last 999 in the tail
		}
	}
	for trial := 0; trial < 50; trial++ {
		q := words[rng.IntN(len(words))]
		if trial%2 == 0 {
			q += "a"
		}
		for edits := 0; edits <= 2; edits++ {
			got := map[uint32]int{}
			l.fuzzy(q, edits, func(_ string, v uint32, e int) { got[v] = e })
			want := map[uint32]int{}
			for i, w := range words {
				if e := levenshtein(q, w, edits); e <= edits {
					want[uint32(i)] = e
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("fuzzy(%q, %d): %d matches, brute force %d", q, edits, len(got), len(want))
			}
		}
	}
}

// randomCatalog makes n items over a small vocabulary, with categories,
// brands and prices, some unavailable.
func randomCatalog(rng *rand.Rand, n int) []catalog.Item {
	vocab := []string{"red", "blue", "shoe", "marker", "paper", "ink", "lamp", "cable", "phone", "case", "bag", "desk"}
	cats := []string{"A/B/C", "A/B/D", "A/E", "F/G", "F/H/I"}
	brands := []string{"Acme", "Bolt", "Cora", "acme"}
	var out []catalog.Item
	for i := 0; i < n; i++ {
		w := make([]string, 2+rng.IntN(4))
		for k := range w {
			w[k] = vocab[rng.IntN(len(vocab))]
		}
		it := catalog.Item{
			ID:         fmt.Sprintf("i%d", i),
			Title:      strings.Join(w, " "),
			Brand:      brands[rng.IntN(len(brands))],
			Categories: []string{cats[rng.IntN(len(cats))]},
			Available:  rng.IntN(10) > 0,
			CreatedAt:  time.Unix(int64(rng.IntN(1000)), 0),
		}
		if rng.IntN(5) > 0 {
			it.Price = price(float64(rng.IntN(300)))
		}
		out = append(out, it)
	}
	return out
}

func TestFacetsAndFiltersAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	items := randomCatalog(rng, 400)
	cfg := DefaultConfig()
	cfg.FacetSize = 0
	cfg.TypoWeight, cfg.PrefixWeight = 0, 0
	ix := newTestIndex(t, cfg, nil, items)
	byID := map[string]catalog.Item{}
	for _, it := range items {
		byID[it.ID] = it
	}
	for trial := 0; trial < 40; trial++ {
		req := Request{Query: []string{"red", "blue shoe", "ink lamp", "desk", ""}[trial%5] + " ", N: 1000,
			Facets: []string{FacetCategory, FacetBrand, FacetPrice}}
		if trial%3 == 1 {
			req.Categories = []string{"A/B"}
		}
		if trial%4 == 2 {
			req.Brands = []string{"ACME"}
		}
		if trial%5 == 3 {
			req.MinPrice, req.MaxPrice = price(50), price(150)
		}
		r := search(t, ix, req)
		if r.Total != len(r.Items) {
			t.Fatalf("trial %d: total %d but %d items with N=1000", trial, r.Total, len(r.Items))
		}
		// Every hit matches the query words (any) and the filters; every
		// available item that does is a hit.
		words := strings.Fields(req.Query)
		got := map[string]bool{}
		for _, id := range ids(r) {
			got[id] = true
		}
		for _, it := range items {
			match := it.Available && (len(words) == 0 || slices.ContainsFunc(words, func(w string) bool { return slices.Contains(strings.Fields(it.Title), w) }))
			if len(req.Categories) > 0 && !it.HasCategoryPrefix(req.Categories[0]) {
				match = false
			}
			if len(req.Brands) > 0 && !strings.EqualFold(it.Brand, req.Brands[0]) {
				match = false
			}
			if req.MinPrice != nil && (it.Price == nil || *it.Price < *req.MinPrice || *it.Price > *req.MaxPrice) {
				match = false
			}
			if match != got[it.ID] {
				t.Fatalf("trial %d (%+v): item %s %q matched=%v, in results=%v", trial, req, it.ID, it.Title, match, got[it.ID])
			}
		}
		// facets against counts over the hits
		cat, brand := map[string]int{}, map[string]int{}
		prices := make([]int, len(cfg.PriceRanges))
		brandName := map[string]string{}
		for id := range got {
			it := byID[id]
			c := it.Categories[0]
			for {
				cat[c]++
				k := strings.LastIndexByte(c, '/')
				if k < 0 {
					break
				}
				c = c[:k]
			}
			key := strings.ToLower(it.Brand)
			brand[key]++
			brandName[key] = it.Brand
			if it.Price != nil {
				for i, pr := range cfg.PriceRanges {
					if *it.Price >= pr.Min && (pr.Max <= 0 || *it.Price < pr.Max) {
						prices[i]++
					}
				}
			}
		}
		gotCat := map[string]int{}
		for _, fv := range r.Facets.Category {
			gotCat[fv.Value] = fv.Count
		}
		if !reflect.DeepEqual(gotCat, cat) && !(len(cat) == 0 && len(gotCat) == 0) {
			t.Fatalf("trial %d: category facet %v, brute force %v", trial, gotCat, cat)
		}
		gotBrand := map[string]int{}
		for _, fv := range r.Facets.Brand {
			gotBrand[strings.ToLower(fv.Value)] = fv.Count
		}
		if !reflect.DeepEqual(gotBrand, brand) && !(len(brand) == 0 && len(gotBrand) == 0) {
			t.Fatalf("trial %d: brand facet %v, brute force %v", trial, gotBrand, brand)
		}
		for i, rc := range r.Facets.Price {
			if rc.Count != prices[i] || rc.Range != cfg.PriceRanges[i].Label() {
				t.Fatalf("trial %d: price facet %v, brute force %v", trial, r.Facets.Price, prices)
			}
		}
	}
}

func TestPagination(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	ix := newTestIndex(t, DefaultConfig(), nil, randomCatalog(rng, 300))
	for _, s := range []Sort{SortRelevance, SortPriceAsc, SortPriceDesc, SortNewest} {
		all := search(t, ix, Request{Query: "red shoe ", N: 60, Sort: s, NoHighlights: true})
		var paged []string
		for off := 0; off < 60; off += 7 {
			r := search(t, ix, Request{Query: "red shoe ", N: 7, Offset: off, Sort: s, NoHighlights: true})
			if r.Total != all.Total {
				t.Fatalf("%s offset %d: total %d, want %d", s, off, r.Total, all.Total)
			}
			paged = append(paged, ids(r)...)
		}
		paged = paged[:min(60, len(paged))]
		if !slices.Equal(paged, ids(all)) {
			t.Errorf("%s: pages %v\n differ from one page %v", s, paged, ids(all))
		}
	}
	r := search(t, ix, Request{Query: "red", Offset: 100000})
	if len(r.Items) != 0 || r.Total == 0 {
		t.Errorf("offset past the end: %d items, total %d", len(r.Items), r.Total)
	}
	if _, err := ix.Search(context.Background(), Request{Query: "red", Offset: -1}); err == nil {
		t.Error("negative offset: no error")
	}
}

func TestSortOrders(t *testing.T) {
	ix := newTestIndex(t, DefaultConfig(), nil, fixture())
	r := search(t, ix, Request{Query: "", N: 20, Sort: SortPriceAsc})
	want := []string{"6", "1", "7", "5", "2", "4", "3", "8"} // 8 has no price: last
	if !slices.Equal(ids(r), want) {
		t.Errorf("price_asc = %v, want %v", ids(r), want)
	}
	r = search(t, ix, Request{Query: "", N: 3, Sort: SortPriceDesc})
	if !slices.Equal(ids(r), []string{"3", "4", "2"}) {
		t.Errorf("price_desc = %v", ids(r))
	}
	r = search(t, ix, Request{Query: "running shoes", Sort: SortNewest}) // 4 matches by its category
	if !slices.Equal(ids(r), []string{"8", "4", "3"}) {
		t.Errorf("newest = %v", ids(r))
	}
	if _, err := ix.Search(context.Background(), Request{Sort: "cheapest"}); err == nil {
		t.Error("unknown sort: no error")
	}
}

func TestDeleteAndUnavailableDisappearAtOnce(t *testing.T) {
	ix := newTestIndex(t, DefaultConfig(), nil, fixture())
	ctx := context.Background()
	if r := search(t, ix, Request{Query: "printer", Facets: []string{FacetBrand}}); !slices.Contains(ids(r), "7") {
		t.Fatalf("before: %v", ids(r))
	}
	ix.Delete("7")
	r := search(t, ix, Request{Query: "printer", Facets: []string{FacetBrand}})
	if slices.Contains(ids(r), "7") || r.Total != 1 {
		t.Errorf("after delete: %v total %d", ids(r), r.Total)
	}
	if r.Facets.Brand[0].Count != 1 {
		t.Errorf("brand facet still counts the deleted item: %v", r.Facets.Brand)
	}
	it := fixture()[1]
	it.Available = false
	if err := ix.Upsert(ctx, it); err != nil {
		t.Fatal(err)
	}
	if r := search(t, ix, Request{Query: "printer"}); len(r.Items) != 0 {
		t.Errorf("after unavailable: %v", ids(r))
	}
	for _, s := range ix.Suggest("hp 64", 5) {
		t.Errorf("suggestion for an unavailable item: %+v", s)
	}
	// an update replaces the old text
	it = fixture()[0]
	it.Title = "Highlighter, Yellow"
	if err := ix.Upsert(ctx, it); err != nil {
		t.Fatal(err)
	}
	if r := search(t, ix, Request{Query: "sharpie permanent"}); slices.Contains(ids(r), "1") && r.Items[0].Highlights["title"] != "" {
		t.Errorf("old title still matches: %+v", r.Items)
	}
	if r := search(t, ix, Request{Query: "highlighter"}); !slices.Equal(ids(r), []string{"1"}) {
		t.Errorf("new title: %v", ids(r))
	}
	if ix.Len() != 6 {
		t.Errorf("Len = %d, want 6", ix.Len())
	}
}

func TestManyUpdatesCompact(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	items := randomCatalog(rng, 200)
	for i := range items {
		items[i].Available = true
	}
	ix := newTestIndex(t, DefaultConfig(), nil, items)
	ctx := context.Background()
	for round := 0; round < 15; round++ {
		for i := range items {
			tag := strings.Repeat(string(rune('a'+round)), 2) // letters only: "even14" would also match "14"
			items[i].Title = fmt.Sprintf("round%s %s", tag, items[i].Title)
			if i%2 == 0 {
				items[i].Title = "even" + tag
			}
		}
		if err := ix.Upsert(ctx, items...); err != nil {
			t.Fatal(err)
		}
	}
	r := search(t, ix, Request{Query: "evenoo", N: 500, Facets: []string{FacetCategory}})
	if r.Total != 100 {
		t.Errorf("evenoo (last round): total %d, want 100", r.Total)
	}
	r = search(t, ix, Request{Query: "evennn", N: 500})
	if r.Total != 0 {
		t.Errorf("evennn (replaced): total %d, want 0", r.Total)
	}
	if ix.nDead >= 1024 && ix.nDead >= ix.nLive/3 {
		t.Errorf("not compacted: %d dead, %d live", ix.nDead, ix.nLive)
	}
	if len(ix.docs) > 2*1024+200 {
		t.Errorf("%d docs kept for 200 items", len(ix.docs))
	}
}

func TestHighlights(t *testing.T) {
	ix := newTestIndex(t, DefaultConfig(), nil, fixture())
	r := search(t, ix, Request{Query: "college notebooks"})
	if len(r.Items) == 0 || r.Items[0].ID != "6" {
		t.Fatalf("got %v", ids(r))
	}
	h := r.Items[0].Highlights
	if h["title"] != "Spiral <em>Notebook</em>, <em>College</em> Ruled" {
		t.Errorf("title highlight %q", h["title"])
	}
	if _, ok := h["description"]; ok {
		t.Errorf("description snippet although the title matched: %q", h["description"])
	}
	r = search(t, ix, Request{Query: "school notes"})
	if len(r.Items) == 0 || r.Items[0].ID != "6" || !strings.Contains(r.Items[0].Highlights["description"], "<em>school</em>") {
		t.Errorf("description snippet: %+v", r.Items)
	}
	if _, ok := h["brand"]; ok {
		t.Errorf("brand highlighted without a match: %q", h["brand"])
	}
}

// hashEmbedder is a deterministic test embedder: a bag of character
// trigrams hashed into dim buckets.
type hashEmbedder struct {
	dim   int
	calls int
	mu    sync.Mutex
}

func (h *hashEmbedder) Dim() int { return h.dim }
func (h *hashEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	h.mu.Lock()
	h.calls++
	h.mu.Unlock()
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, h.dim)
		s := " " + strings.ToLower(t) + " "
		r := []rune(s)
		for k := 0; k+3 <= len(r); k++ {
			f := fnv.New32a()
			f.Write([]byte(string(r[k : k+3])))
			v[f.Sum32()%uint32(h.dim)]++
		}
		out[i] = v
	}
	return out, nil
}

func TestSemanticAndHybrid(t *testing.T) {
	emb := &hashEmbedder{dim: 256}
	ix := newTestIndex(t, DefaultConfig(), emb, fixture())
	// "sneakers running" shares trigrams with the running shoes even where the words differ
	r := search(t, ix, Request{Query: "runing shoos", Mode: ModeSemantic, N: 3})
	if len(r.Items) == 0 || (r.Items[0].ID != "3" && r.Items[0].ID != "8") {
		t.Errorf("semantic: %v", ids(r))
	}
	if r.Mode != ModeSemantic {
		t.Errorf("mode = %s", r.Mode)
	}
	// hybrid keeps the exact keyword match first
	for _, method := range []string{"convex", "rrf"} {
		r = search(t, ix, Request{Query: "printer paper", Mode: ModeHybrid, Fusion: &Fusion{Method: method, Alpha: 0.1, RRFK: 60, Depth: 50}})
		if len(r.Items) == 0 || r.Items[0].ID != "7" {
			t.Errorf("hybrid %s: %v, want 7 first", method, ids(r))
		}
	}
	// filters apply to the semantic list too
	r = search(t, ix, Request{Query: "shoes", Mode: ModeSemantic, Brands: []string{"salomon"}})
	if !slices.Equal(ids(r), []string{"8"}) {
		t.Errorf("semantic with brand filter: %v", ids(r))
	}
	// keyword-only index refuses semantic modes
	kw := newTestIndex(t, DefaultConfig(), nil, fixture())
	if _, err := kw.Search(context.Background(), Request{Query: "x", Mode: ModeHybrid}); err == nil {
		t.Error("hybrid without embedder: no error")
	}
}

func TestFusionEdgeCases(t *testing.T) {
	kw := []scored{{doc: 1, score: 9, exact: true}, {doc: 2, score: 5}, {doc: 3, score: 1}}
	sem := []scored{{doc: 4, score: 0.9}, {doc: 3, score: 0.8}, {doc: 5, score: 0.1}}
	for _, m := range []string{"convex", "rrf"} {
		f := Fusion{Method: m, Alpha: 0.5, RRFK: 60}
		if got := fuse(nil, sem, f); !reflect.DeepEqual(got, sem) {
			t.Errorf("%s: empty keyword list: %v", m, got)
		}
		if got := fuse(kw, nil, f); !reflect.DeepEqual(got, kw) {
			t.Errorf("%s: empty semantic list: %v", m, got)
		}
		if got := fuse(nil, nil, f); len(got) != 0 {
			t.Errorf("%s: both empty: %v", m, got)
		}
		got := fuse(kw, sem, f)
		if len(got) != 5 {
			t.Fatalf("%s: %d fused, want 5 distinct", m, len(got))
		}
		if got[0].doc != 1 {
			t.Errorf("%s: exact keyword match not first: %v", m, got)
		}
		for i := 1; i < len(got); i++ {
			if got[i].score > got[i-1].score {
				t.Errorf("%s: scores increase at %d: %v", m, i, got)
			}
		}
		// with all the weight on semantic, doc 3 (in both lists) and 4 lead, but 1 stays first
		f.Alpha = 0
		got = fuse(kw, sem, f)
		if got[0].doc != 1 {
			t.Errorf("%s alpha 0: exact match buried: %v", m, got)
		}
	}
	// convex with equal scores in a list does not divide by zero
	got := fuse([]scored{{doc: 1, score: 2}, {doc: 2, score: 2}}, []scored{{doc: 2, score: 1}}, Fusion{Method: "convex", Alpha: 0.5})
	for _, s := range got {
		if math.IsNaN(s.score) {
			t.Fatalf("NaN score: %v", got)
		}
	}
}

func TestGuardExactProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for trial := 0; trial < 200; trial++ {
		n := 1 + rng.IntN(20)
		var kw, sem []scored
		for i := 0; i < n; i++ {
			kw = append(kw, scored{doc: uint32(rng.IntN(40)), score: float64(n - i), exact: rng.IntN(3) == 0})
			sem = append(sem, scored{doc: uint32(rng.IntN(40)), score: float64(n-i) / 10})
		}
		kw = dedupe(kw)
		sem = dedupe(sem)
		got := fuse(kw, sem, Fusion{Method: []string{"rrf", "convex"}[trial%2], Alpha: rng.Float64(), RRFK: 60})
		pos := map[uint32]int{}
		for i, s := range got {
			if _, dup := pos[s.doc]; dup {
				t.Fatalf("doc %d twice", s.doc)
			}
			pos[s.doc] = i
		}
		for r, s := range kw {
			if s.exact && pos[s.doc] > r {
				t.Fatalf("exact doc %d at keyword rank %d fused to %d", s.doc, r, pos[s.doc])
			}
		}
	}
}

func dedupe(s []scored) []scored {
	seen := map[uint32]bool{}
	out := s[:0]
	for _, x := range s {
		if !seen[x.doc] {
			seen[x.doc] = true
			out = append(out, x)
		}
	}
	return out
}

func TestBoostIsBounded(t *testing.T) {
	ix := newTestIndex(t, DefaultConfig(), nil, fixture())
	plain := search(t, ix, Request{Query: "running shoes", NoHighlights: true})
	// boosting the second result to the maximum may swap it only when the
	// scores are within the bound
	second := plain.Items[1]
	boosted := search(t, ix, Request{Query: "running shoes", NoHighlights: true, Boost: func(id string) float64 {
		if id == second.ID {
			return 7 // clamped to 1
		}
		return 0
	}})
	var got float64
	for _, h := range boosted.Items {
		if h.ID == second.ID {
			got = h.Score
		}
	}
	if want := second.Score * (1 + DefaultConfig().BoostWeight); math.Abs(got-want) > 1e-9 {
		t.Errorf("boosted score %g, want %g", got, want)
	}
	if plain.Items[0].Score > got && boosted.Items[0].ID != plain.Items[0].ID {
		t.Errorf("order changed although the boosted score is lower: %v", ids(boosted))
	}
}

func TestSuggest(t *testing.T) {
	ix := newTestIndex(t, DefaultConfig(), nil, fixture())
	ix.RecordQuery("printer ink")
	ix.RecordQuery("Printer  Ink")
	ix.RecordQuery("printer paper")
	got := ix.Suggest("Print", 10)
	if len(got) < 3 || got[0].Text != "printer ink" || got[0].Kind != "query" || got[0].Score != 2 || got[1].Text != "printer paper" {
		t.Fatalf("suggest: %+v", got)
	}
	var kinds []string
	for _, s := range got {
		kinds = append(kinds, s.Kind+":"+s.Text)
	}
	if !slices.Contains(kinds, "title:printer paper, 500 sheets") {
		t.Errorf("no title suggestion: %v", kinds)
	}
	got = ix.Suggest("sharpie perm", 3)
	if len(got) == 0 || got[0].Text != "sharpie permanent marker, fine point, black" {
		t.Errorf("title completion: %+v", got)
	}
	got = ix.Suggest("red sh", 5)
	if len(got) == 0 || got[0].Text != "red shoes" || got[0].Kind != "word" {
		t.Errorf("word completion: %+v", got)
	}
	if got := ix.Suggest("   ", 5); len(got) != 0 {
		t.Errorf("blank prefix: %+v", got)
	}
}

func TestConcurrentReadersAndWriter(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	items := randomCatalog(rng, 300)
	ix := newTestIndex(t, DefaultConfig(), nil, items)
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			hits := make([]Hit, 0, 10) // each reader's own storage
			maxPrice := price(float64(50 + 50*(g%2)))
			for i := 0; i < 50; i++ {
				// two price ranges asked again and again: their masks are
				// built and used while the writer changes the index
				if _, err := ix.Search(ctx, Request{Query: "red shoe", Facets: []string{FacetCategory, FacetBrand, FacetPrice}, MaxPrice: maxPrice, Hits: hits}); err != nil {
					t.Error(err)
					return
				}
				ix.Suggest("re", 5)
				ix.RecordQuery(fmt.Sprintf("q%d", g))
			}
		}(g)
	}
	for i := 0; i < 100; i++ {
		it := items[i]
		it.Title += " updated"
		if err := ix.Upsert(ctx, it); err != nil {
			t.Fatal(err)
		}
		ix.Delete(items[i+100].ID)
	}
	wg.Wait()
}

func TestConfigValidation(t *testing.T) {
	bad := []func(*Config){
		func(c *Config) { c.K1 = 0 },
		func(c *Config) { c.FieldB[0] = 2 },
		func(c *Config) { c.FieldWeights[1] = -1 },
		func(c *Config) { c.BoostWeight = 3 },
		func(c *Config) { c.Fusion.Method = "max" },
		func(c *Config) { c.DefaultMode = "magic" },
		func(c *Config) { c.Analyzer = "klingon" },
		func(c *Config) { c.Synonyms = [][]string{{"tee", "t shirt"}} },
		func(c *Config) { c.PriceRanges = []PriceRange{{10, 5}} },
	}
	for i, mod := range bad {
		c := DefaultConfig()
		mod(&c)
		if _, err := NewIndex(c, Options{}); err == nil {
			t.Errorf("bad config %d accepted", i)
		}
	}
}

func TestSynonyms(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Synonyms = [][]string{{"sneakers", "trainers", "shoes"}}
	ix := newTestIndex(t, cfg, nil, fixture())
	r := search(t, ix, Request{Query: "trainers "})
	got := ids(r)
	sort.Strings(got)
	if !slices.Equal(got, []string{"3", "4", "8"}) { // 4 by its category "Shoes"
		t.Errorf("synonym search: %v", got)
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{`"red shoes" -kids size 10`, `"unterminated`, `-`, `--x`, `a"b"c`, "苹果 -壳", ""} {
		f.Add(s)
	}
	ix, err := NewIndex(DefaultConfig(), Options{Registry: analysis.NewRegistry(analysis.Options{CJK: analysis.NewBigramSegmenter()})})
	if err != nil {
		f.Fatal(err)
	}
	if err := ix.Upsert(context.Background(), fixture()...); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q string) {
		p := parseQuery(q)
		for _, ph := range p.phrases {
			if !strings.Contains(q, ph) {
				t.Fatalf("phrase %q not in %q", ph, q)
			}
		}
		for _, w := range p.excluded {
			if !strings.Contains(q, "-"+w) {
				t.Fatalf("excluded %q not in %q", w, q)
			}
		}
		r, err := ix.Search(context.Background(), Request{Query: q, Facets: []string{FacetCategory}})
		if len(q) > MaxQueryBytes {
			// refused whole, whatever it holds (issue 12: bounded work)
			if err == nil {
				t.Fatalf("a %d-byte query was searched, limit %d", len(q), MaxQueryBytes)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Items) > r.Total {
			t.Fatalf("%d items > total %d", len(r.Items), r.Total)
		}
	})
}

func TestNegationDropsNextWord(t *testing.T) {
	items := []catalog.Item{
		{ID: "straw", Title: "kids water bottle with straw", Available: true},
		{ID: "plain", Title: "kids water bottle", Available: true},
	}
	ix := newTestIndex(t, DefaultConfig(), nil, items)
	r := search(t, ix, Request{Query: "kids water bottle without straw"})
	if len(r.Items) != 2 || r.Items[0].ID != "plain" {
		t.Errorf("got %v, want plain first (straw not counted)", ids(r))
	}
	cfg := DefaultConfig()
	cfg.NegationWords = nil
	ix = newTestIndex(t, cfg, nil, items)
	if r := search(t, ix, Request{Query: "kids water bottle without straw"}); r.Items[0].ID != "straw" {
		t.Errorf("without negation words: got %v, want straw first", ids(r))
	}
}

// The typo budget follows the word as typed: "calculater" (10 letters, two
// edits allowed) stems to "calculat", two edits from "calculator"'s stem.
func TestTypoBudgetFromTypedWord(t *testing.T) {
	ix := newTestIndex(t, DefaultConfig(), nil, []catalog.Item{
		{ID: "c", Title: "Scientific Calculator, Solar", Available: true},
		{ID: "s", Title: "Stapler", Available: true},
	})
	for _, q := range []string{"calculater", "calcuator", "scientfic"} {
		if r := search(t, ix, Request{Query: q}); len(r.Items) == 0 || r.Items[0].ID != "c" {
			t.Errorf("%q: got %v", q, ids(r))
		}
	}
}
