package search_test

// Relevance regression cases, in the style of bleve's data-driven search
// tests: every directory under testdata/cases is one small catalogue
// (items.jsonl, one catalogue item per line as the import API takes it), an
// optional config.json (search.Config fields over DefaultConfig) and
// queries.yaml (queries with what their results must be). They need no
// shared data, so search behaviour is pinned on a fresh clone:
//
//	go test ./search -run TestCases            # all sets
//	go test ./search -run 'TestCases/typos'    # one set
//
// A query whose current answer is known to be wrong carries known_failure
// with the reason: it is skipped (listed by go test -v with what is still
// wrong), not pinned; once it passes the test fails until the mark is
// removed, so a fix is noticed and then protected.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/search"
)

const casesDir = "testdata/cases"

// caseSet is one queries.yaml.
type caseSet struct {
	// About says what the set pins.
	About string `yaml:"about"`
	// Dictionaries marks a set that needs the CJK dictionaries (slow to
	// load): skipped with -short or in a binary built without them.
	Dictionaries bool        `yaml:"dictionaries"`
	Queries      []caseQuery `yaml:"queries"`
}

// caseQuery is one search and what its answer must be.
type caseQuery struct {
	Name  string `yaml:"name"`
	Query string `yaml:"query"`
	// Repeat, when > 1, searches Query repeated this many times (very long
	// queries without a very long line in the file).
	Repeat     int      `yaml:"repeat"`
	N          int      `yaml:"n"`
	Categories []string `yaml:"categories"`
	Brands     []string `yaml:"brands"`
	MinPrice   *float64 `yaml:"min_price"`
	MaxPrice   *float64 `yaml:"max_price"`
	Sort       string   `yaml:"sort"`
	Facets     []string `yaml:"facets"`
	// KnownFailure, when set, is why the current answer is wrong: the
	// query is skipped with that reason instead of pinning a wrong answer.
	KnownFailure string     `yaml:"known_failure"`
	Expect       caseExpect `yaml:"expect"`
}

// caseExpect lists the assertions on one answer; every id, pair, count and
// facet value named is one assertion.
type caseExpect struct {
	// First: the page starts with exactly these ids, in this order.
	First []string `yaml:"first"`
	// InTop: each of IDs is among the first K results.
	InTop *struct {
		K   int      `yaml:"k"`
		IDs []string `yaml:"ids"`
	} `yaml:"in_top"`
	// Absent: none of these ids is on the page.
	Absent []string `yaml:"absent"`
	// Before: in each pair, the first id is on the page above the second
	// (or the second is not on the page at all).
	Before [][2]string `yaml:"before"`
	// Total, when set, is the number of matched items.
	Total *int `yaml:"total"`
	// Empty: no result at all.
	Empty bool `yaml:"empty"`
	// Facets: facet name → value (a category path, a brand or a price
	// range label) → count.
	Facets map[string]map[string]int `yaml:"facets"`
	// Error: the search is refused with an error containing this text.
	Error string `yaml:"error"`
}

// count is the number of assertions e makes.
func (e *caseExpect) count() int {
	n := len(e.First) + len(e.Absent) + len(e.Before)
	if e.InTop != nil {
		n += len(e.InTop.IDs)
	}
	if e.Total != nil {
		n++
	}
	if e.Empty {
		n++
	}
	for _, vs := range e.Facets {
		n += len(vs)
	}
	if e.Error != "" {
		n++
	}
	return n
}

func TestCases(t *testing.T) {
	dirs, err := os.ReadDir(casesDir)
	if err != nil {
		t.Fatalf("read the case sets: %v", err)
	}
	total := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		dir := filepath.Join(casesDir, d.Name())
		set, items, cfg := loadCaseSet(t, dir)
		for _, q := range set.Queries {
			total += q.Expect.count()
		}
		t.Run(d.Name(), func(t *testing.T) {
			if set.Dictionaries {
				needJapanese(t)
			}
			runCaseSet(t, set, items, cfg)
		})
	}
	// The sets are the regression net of issue 11: they must not shrink
	// unnoticed.
	if total < 60 {
		t.Errorf("the case sets make %d assertions, want at least 60", total)
	}
	t.Logf("%d case sets, %d assertions", len(dirs), total)
}

// loadCaseSet reads one directory, failing on any unknown field so a typo in
// a case file cannot silently assert nothing.
func loadCaseSet(t *testing.T, dir string) (caseSet, []catalog.Item, search.Config) {
	t.Helper()
	var set caseSet
	raw, err := os.ReadFile(filepath.Join(dir, "queries.yaml"))
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&set); err != nil {
		t.Fatalf("%s/queries.yaml: %v", dir, err)
	}
	if len(set.Queries) == 0 {
		t.Fatalf("%s/queries.yaml has no queries", dir)
	}
	for i, q := range set.Queries {
		if q.Name == "" {
			t.Fatalf("%s/queries.yaml: query %d has no name", dir, i+1)
		}
		if q.Expect.count() == 0 {
			t.Fatalf("%s/queries.yaml: %q asserts nothing", dir, q.Name)
		}
	}

	f, err := os.Open(filepath.Join(dir, "items.jsonl"))
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	defer f.Close()
	var items []catalog.Item
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		it, err := catalog.DecodeItem(sc.Bytes())
		if err != nil {
			t.Fatalf("%s/items.jsonl:%d: %v", dir, line, err)
		}
		items = append(items, it)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s/items.jsonl: %v", dir, err)
	}

	cfg := search.DefaultConfig()
	if raw, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.DisallowUnknownFields()
		if err := d.Decode(&cfg); err != nil {
			t.Fatalf("%s/config.json: %v", dir, err)
		}
	} else if !os.IsNotExist(err) {
		t.Fatalf("%s: %v", dir, err)
	}
	return set, items, cfg
}

func runCaseSet(t *testing.T, set caseSet, items []catalog.Item, cfg search.Config) {
	ctx := context.Background()
	opt := search.Options{}
	if set.Dictionaries {
		opt.Registry = cjkRegistry()
	}
	ix, err := search.NewIndex(cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert(ctx, items...); err != nil {
		t.Fatal(err)
	}
	for _, q := range set.Queries {
		t.Run(q.Name, func(t *testing.T) {
			problems, page := checkCase(ix, q)
			reason := strings.TrimSpace(q.KnownFailure)
			switch {
			case reason != "" && len(problems) == 0:
				t.Fatalf("marked as a known failure (%s) but it now passes: delete its known_failure", reason)
			case reason != "":
				t.Skipf("known failure: %s\n(%s)", reason, strings.Join(problems, "; "))
			}
			for _, p := range problems {
				t.Error(p)
			}
			if len(problems) > 0 {
				t.Log(page)
			}
		})
	}
}

// checkCase runs one query and returns what is wrong with its answer, and
// the answer in brief.
func checkCase(ix *search.Index, q caseQuery) (problems []string, page string) {
	req := search.Request{Query: q.Query, N: q.N, Categories: q.Categories, Brands: q.Brands,
		MinPrice: q.MinPrice, MaxPrice: q.MaxPrice, Facets: q.Facets, NoHighlights: true}
	if q.Repeat > 1 {
		req.Query = strings.Repeat(q.Query, q.Repeat)
	}
	if req.N == 0 {
		req.N = 20
	}
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if q.Sort != "" {
		s, err := search.ParseSort(q.Sort)
		if err != nil {
			fail("%v", err)
			return problems, ""
		}
		req.Sort = s
	}
	res, err := ix.Search(context.Background(), req)
	e := q.Expect
	if e.Error != "" {
		if err == nil || !strings.Contains(err.Error(), e.Error) {
			fail("error = %v, want one containing %q", err, e.Error)
		}
		return problems, ""
	}
	if err != nil {
		fail("search %q: %v", req.Query, err)
		return problems, ""
	}
	ids := make([]string, len(res.Items))
	for i, h := range res.Items {
		ids[i] = h.ID
	}
	page = fmt.Sprintf("query %q → %d matched, page %v", req.Query, res.Total, ids)

	if e.Empty && len(ids) > 0 {
		fail("want no result, got %v", ids)
	}
	if len(e.First) > 0 && !slices.Equal(ids[:min(len(ids), len(e.First))], e.First) {
		fail("page starts %v, want %v", ids[:min(len(ids), len(e.First))], e.First)
	}
	if e.InTop != nil {
		top := ids[:min(len(ids), e.InTop.K)]
		for _, id := range e.InTop.IDs {
			if !slices.Contains(top, id) {
				fail("%s is not in the top %d", id, e.InTop.K)
			}
		}
	}
	for _, id := range e.Absent {
		if slices.Contains(ids, id) {
			fail("%s is on the page at %d, want it absent", id, slices.Index(ids, id)+1)
		}
	}
	for _, p := range e.Before {
		a, b := slices.Index(ids, p[0]), slices.Index(ids, p[1])
		if a < 0 || (b >= 0 && b < a) {
			fail("%s (at %d) does not rank above %s (at %d; 0 = absent)", p[0], a+1, p[1], b+1)
		}
	}
	if e.Total != nil && res.Total != *e.Total {
		fail("total = %d, want %d", res.Total, *e.Total)
	}
	for name, want := range e.Facets {
		got := facetCounts(res.Facets, name)
		if got == nil {
			fail("facet %q missing from the answer", name)
			continue
		}
		for v, n := range want {
			if got[v] != n {
				fail("facet %s[%q] = %d, want %d (all: %v)", name, v, got[v], n, got)
			}
		}
	}
	return problems, page
}

// facetCounts returns one facet of the answer as value → count, or nil when
// it was not computed.
func facetCounts(f *search.Facets, name string) map[string]int {
	if f == nil {
		return nil
	}
	out := map[string]int{}
	switch name {
	case search.FacetCategory:
		for _, v := range f.Category {
			out[v.Value] = v.Count
		}
	case search.FacetBrand:
		for _, v := range f.Brand {
			out[v.Value] = v.Count
		}
	case search.FacetPrice:
		for _, v := range f.Price {
			out[v.Range] = v.Count
		}
	default:
		panic(fmt.Sprintf("unknown facet %q in a case file", name))
	}
	return out
}

// TestCheckCaseFails proves the case runner can fail: every kind of
// assertion, made wrong on purpose, is reported.
func TestCheckCaseFails(t *testing.T) {
	ctx := context.Background()
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := 5.0
	if err := ix.Upsert(ctx,
		catalog.Item{ID: "x", Title: "Red Pen", Brand: "Bic", Categories: []string{"Office"}, Price: &p, Available: true},
		catalog.Item{ID: "y", Title: "Blue Pen", Brand: "Bic", Categories: []string{"Office"}, Price: &p, Available: true},
	); err != nil {
		t.Fatal(err)
	}
	two, wrongTotal := 2, 3
	q := caseQuery{Query: "red pen", Facets: []string{search.FacetBrand}}
	q.Expect.First = []string{"y"}
	q.Expect.InTop = &struct {
		K   int      `yaml:"k"`
		IDs []string `yaml:"ids"`
	}{1, []string{"y"}}
	q.Expect.Absent = []string{"x"}
	q.Expect.Before = [][2]string{{"y", "x"}}
	q.Expect.Total = &wrongTotal
	q.Expect.Empty = true
	q.Expect.Facets = map[string]map[string]int{search.FacetBrand: {"Bic": 1}}
	problems, _ := checkCase(ix, q)
	if len(problems) != 7 {
		t.Errorf("got %d problems, want 7 (one per wrong assertion): %q", len(problems), problems)
	}

	q.Expect = caseExpect{First: []string{"x", "y"}, Total: &two, Facets: map[string]map[string]int{search.FacetBrand: {"Bic": 2}}}
	if problems, page := checkCase(ix, q); len(problems) != 0 {
		t.Errorf("right expectations reported %q (%s)", problems, page)
	}
	q = caseQuery{Query: "pen", Expect: caseExpect{Error: "longer than"}}
	if problems, _ := checkCase(ix, q); len(problems) != 1 {
		t.Errorf("an expected error that does not come: %q, want one problem", problems)
	}
}
