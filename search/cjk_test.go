package search_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/embed"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/search/analysis"
	"github.com/aisle-dev/aisle/search/searcheval"
)

// cjkCatalog mixes Japanese, Korean, Chinese and English titles, with
// distractors that share one word with the right answer.
var cjkCatalog = []catalog.Item{
	{ID: "ja-earbuds", Title: "ワイヤレスイヤホン Bluetooth 5.3 ノイズキャンセリング"},
	{ID: "ja-mouse", Title: "ワイヤレス マウス 静音"},
	{ID: "ja-wired", Title: "有線イヤホン 3.5mm"},
	{ID: "ja-bottle", Title: "ステンレス製の水筒 500ml"},
	{ID: "ja-case", Title: "Apple iPhone 15 ケース 手帳型"},
	{ID: "ja-film", Title: "iPhone 15 ガラスフィルム"},
	{ID: "ja-shoes", Title: "ランニングシューズ メンズ"},
	{ID: "ko-earbuds", Title: "삼성 무선 이어폰 블루투스"},
	{ID: "ko-wired", Title: "유선 이어폰 3.5mm"},
	{ID: "ko-mouse", Title: "무선 마우스"},
	{ID: "ko-case", Title: "갤럭시 S24 스마트폰 케이스"},
	{ID: "ko-shoes", Title: "남성용 운동화"},
	{ID: "zh-case", Title: "苹果手机壳 防摔"},
	{ID: "zh-shoes", Title: "红色跑鞋 男款"},
	{ID: "en-earbuds", Title: "Wireless earbuds Bluetooth"},
}

// cjkRegistry is shared by the tests of this file: each registry loads its
// own Chinese dictionary.
var cjkRegistry = sync.OnceValue(func() *analysis.Registry { return analysis.NewRegistry(analysis.Options{}) })

// needJapanese skips a test in -short mode (the dictionaries take ~1 s to
// load, ~20 s under the race detector) and in a binary built without the
// Japanese dictionary.
func needJapanese(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("loads the CJK dictionaries: skipped with -short")
	}
	if _, err := analysis.NewJapaneseSegmenter(nil).Load(); err != nil {
		t.Skipf("binary without the Japanese dictionary: %v", err)
	}
}

func TestCJKSearch(t *testing.T) {
	needJapanese(t)
	ctx := context.Background()
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{Registry: cjkRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	items := slices.Clone(cjkCatalog)
	for i := range items {
		items[i].Available = true
	}
	if err := ix.Upsert(ctx, items...); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		query string
		first string   // the expected best hit
		only  []string // when set, exactly these items match
	}{
		// Japanese: compound and spaced spellings find each other
		{query: "ワイヤレス イヤホン", first: "ja-earbuds"},
		{query: "ワイヤレスイヤホン", first: "ja-earbuds"},
		{query: "「ワイヤレスイヤホン」", first: "ja-earbuds"},
		// half-width katakana query
		{query: "ｲﾔﾎﾝ ﾜｲﾔﾚｽ", first: "ja-earbuds"},
		// a kanji-only query is analysed as Chinese but still finds the Japanese title
		{query: "水筒", first: "ja-bottle", only: []string{"ja-bottle"}},
		{query: "手帳型ケース iPhone", first: "ja-case"},
		// full-width letters and an ideographic space
		{query: "ｉＰｈｏｎｅ\u3000ケース", first: "ja-case"},
		{query: "ランニング シューズ", first: "ja-shoes", only: []string{"ja-shoes"}},
		// Korean: compound query against a spaced title, particles
		{query: "무선이어폰", first: "ko-earbuds"},
		{query: "무선 이어폰", first: "ko-earbuds"},
		{query: "이어폰을", first: "", only: []string{"ko-earbuds", "ko-wired"}},
		{query: "갤럭시 케이스", first: "ko-case", only: []string{"ko-case"}},
		{query: "운동화", first: "ko-shoes", only: []string{"ko-shoes"}},
		// Chinese, unchanged
		{query: "苹果 手机壳", first: "zh-case", only: []string{"zh-case"}},
	}
	for _, tc := range tests {
		res, err := ix.Search(ctx, search.Request{Query: tc.query, N: 20})
		if err != nil {
			t.Fatalf("%q: %v", tc.query, err)
		}
		var got []string
		for _, h := range res.Items {
			got = append(got, h.ID)
		}
		if len(got) == 0 {
			t.Errorf("%q: no results", tc.query)
			continue
		}
		if tc.first != "" && got[0] != tc.first {
			t.Errorf("%q: first hit %s, want %s (all: %v)", tc.query, got[0], tc.first, got)
		}
		if tc.only != nil {
			g, w := slices.Clone(got), slices.Clone(tc.only)
			slices.Sort(g)
			slices.Sort(w)
			if !slices.Equal(g, w) {
				t.Errorf("%q: matched %v, want exactly %v", tc.query, got, tc.only)
			}
		}
		for _, id := range got {
			// a Japanese query must not match Korean items and vice versa
			q := tc.query
			if strings.HasPrefix(id, "ko-") && !strings.ContainsFunc(q, isHangul) || strings.HasPrefix(id, "ja-") && strings.ContainsFunc(q, isHangul) {
				t.Errorf("%q: matched %s from the other language (all: %v)", tc.query, id, got)
			}
		}
	}

	// The highlight marks the matched Japanese words in the original text.
	res, err := ix.Search(ctx, search.Request{Query: "ワイヤレス イヤホン"})
	if err != nil {
		t.Fatal(err)
	}
	if h := res.Items[0].Highlights["title"]; !strings.HasPrefix(h, "<em>ワイヤレスイヤホン</em>") {
		t.Errorf("highlight = %q, want it to start with <em>ワイヤレスイヤホン</em>", h)
	}
}

func isHangul(r rune) bool { return r >= 0xAC00 && r <= 0xD7A3 }

// TestCJKEvalSet runs the small hand-judged Chinese/Japanese/Korean set
// (analysis/testdata/cjkeval, see its README) and guards the per-language
// keyword nDCG@10 measured when segmentation was added (ja 0.849, zh 0.651,
// ko 0.950; before: ja 0.733, ko 0.724), with a margin, and that hybrid
// search with the hashing embedder is not worse than keyword alone.
func TestCJKEvalSet(t *testing.T) {
	needJapanese(t)
	ctx := context.Background()
	ds, err := searcheval.LoadQrels("analysis/testdata/cjkeval/items.jsonl", "analysis/testdata/cjkeval/qrels.tsv")
	if err != nil {
		t.Fatal(err)
	}
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{Registry: cjkRegistry(), Embedder: embed.NewHashing(512)})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert(ctx, ds.Items...); err != nil {
		t.Fatal(err)
	}
	lang := func(q string) string {
		switch {
		case strings.ContainsFunc(q, isHangul):
			return "ko"
		case strings.ContainsFunc(q, func(r rune) bool { return r >= 0x3040 && r <= 0x30FF }):
			return "ja"
		}
		// kanji-only Japanese queries are told apart by the items they judge
		return ""
	}
	byLang := func(rep *searcheval.Report) map[string]float64 {
		sum, n := map[string]float64{}, map[string]int{}
		for i, q := range rep.PerQuery {
			l := lang(q.Query)
			if l == "" {
				for id := range ds.Queries[i].Gains {
					l = map[byte]string{'j': "ja", 'c': "zh", 'k': "ko"}[id[0]]
				}
			}
			sum[l] += q.NDCG
			n[l]++
		}
		for l := range sum {
			sum[l] /= float64(n[l])
		}
		return sum
	}
	kw, err := searcheval.Evaluate(ctx, ix, ds, search.ModeKeyword, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := byLang(kw)
	for l, min := range map[string]float64{"ja": 0.80, "zh": 0.60, "ko": 0.90} {
		if got[l] < min {
			t.Errorf("keyword nDCG@10 %s = %.3f, want >= %.2f", l, got[l], min)
		}
	}
	hy, err := searcheval.Evaluate(ctx, ix, ds, search.ModeHybrid, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := hy.Metrics["all"].NDCG, kw.Metrics["all"].NDCG; a < b {
		t.Errorf("hybrid (hashing) nDCG@10 %.3f < keyword %.3f", a, b)
	}
	t.Logf("keyword %v by language %v; hybrid with hashing %v", kw.Metrics["all"], got, hy.Metrics["all"])
}
