package analysis

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/ikawaha/kagome-dict/dict"
	"golang.org/x/text/unicode/norm"
)

// cjkRegistry is shared by the tests of this file: loading the Chinese and
// Japanese dictionaries takes about a second each.
var cjkRegistry = sync.OnceValue(func() *Registry { return NewRegistry(Options{}) })

// analyzer returns a built-in analyzer of the shared registry. Its first
// CJK text loads the dictionaries (~1 s, ~20 s under the race detector), so
// tests using it are skipped with -short.
func analyzer(t *testing.T, name string) *Analyzer {
	t.Helper()
	skipShort(t)
	a, err := cjkRegistry().Analyzer(name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func skipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("loads the CJK dictionaries: skipped with -short")
	}
}

// needJapanese skips a test in -short mode and in a binary built without
// the Japanese dictionary.
func needJapanese(t *testing.T) {
	t.Helper()
	skipShort(t)
	if _, err := NewJapaneseSegmenter(nil).Load(); err != nil {
		t.Skipf("binary without the Japanese dictionary: %v", err)
	}
}

func TestJapaneseAnalyzer(t *testing.T) {
	needJapanese(t)
	en := analyzer(t, AnalyzerEnglish)
	tests := []struct {
		in   string
		want []string
	}{
		// compounds split in search mode, brackets dropped
		{"「ワイヤレスイヤホン」", []string{"ワイヤレス", "イヤ", "ホン"}},
		{"ワイヤレス イヤホン", []string{"ワイヤレス", "イヤ", "ホン"}},
		{"ノイズキャンセリング", []string{"ノイズ", "キャンセリング"}},
		{"ランニングシューズ", []string{"ランニング", "シューズ"}},
		// width folding: half-width katakana, voiced marks, full-width ASCII
		{"ｶﾀｶﾅ", []string{"カタカナ"}},
		{"ｶﾞｰﾃﾞﾝ", []string{"ガーデン"}},
		{"ｉＰｈｏｎｅ１５ ｹｰｽ", []string{"iphon", "15", "iphone15", "ケース"}},
		// particles and auxiliary verbs dropped; kanji words also get the
		// Chinese segmenter's pieces at the same position
		{"ステンレス製の水筒", []string{"ステンレス", "製", "水筒", "水", "筒"}},
		{"水筒です", []string{"水筒", "水", "筒"}},
		{"手帳型ケース", []string{"手帳", "手", "帳", "型", "ケース"}},
		// mixed scripts
		{"Apple iPhone 15 ケース 手帳型", []string{"appl", "iphon", "15", "ケース", "手帳", "手", "帳", "型"}},
		{"USB-C 充電ケーブル 2m", []string{"usb", "c", "usbc", "充電", "充", "電", "ケーブル", "2", "m", "2m"}},
		// kanji-only text is Chinese unless kana appear
		{"水筒", []string{"水", "筒"}},
		// katakana compounds kagome keeps whole because a part is unknown
		// also get their parts, at the same position
		{"ゲーミングマウス", []string{"ゲーミングマウス", "ゲーミング", "マウス"}},
		{"ゲーミング マウス", []string{"ゲーミング", "マウス"}},
		{"ゲーミングヘッドセット", []string{"ゲーミングヘッドセット", "ゲーミング", "ヘッド", "セット"}},
		// but not into rare words or short leftovers, nor when two splits tie
		{"プレイステーション", []string{"プレイステーション"}},
		{"キャンセリング", []string{"キャンセリング"}},
		{"ネックストラップ", []string{"ネックストラップ"}},
	}
	for _, tc := range tests {
		if got := en.Terms(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("en(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestJapaneseHanOption(t *testing.T) {
	needJapanese(t)
	r := NewRegistry(Options{CJK: NewBigramSegmenter(), JapaneseHan: true})
	std, _ := r.Analyzer(AnalyzerStandard)
	tests := []struct {
		in   string
		want []string
	}{
		{"水筒", []string{"水筒"}},
		{"ステンレス製の水筒", []string{"ステンレス", "製", "水筒"}},
		{"関西国際空港", []string{"関西", "国際", "空港"}},
	}
	for _, tc := range tests {
		if got := std.Terms(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("standard(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestKoreanAnalyzer(t *testing.T) {
	if koreanDict() != nil {
		t.Skip("built with aisle_kodict: see TestKoreanDictAnalyzer")
	}
	en := analyzer(t, AnalyzerEnglish)
	tests := []struct {
		in   string
		want []string
	}{
		{"무선이어폰", []string{"무선", "선이", "이어", "어폰"}},
		{"무선 이어폰", []string{"무선", "이어", "어폰"}},
		{"이어폰을", []string{"이어", "어폰"}},                        // object particle
		{"삼성전자의 갤럭시", []string{"삼성", "성전", "전자", "갤럭", "럭시"}}, // genitive particle
		{"매장에서", []string{"매장"}},                              // locative particle, 2 syllables left
		{"케이스입니다", []string{"케이", "이스"}},                      // copula
		{"고양이", []string{"고양", "양이"}},                         // 이 is not stripped: it ends nouns
		{"가을", []string{"가을"}},                                // a particle is never stripped below 2 syllables
		{"책", []string{"책"}},
		{"갤럭시 S24 케이스", []string{"갤럭", "럭시", "s", "24", "s24", "케이", "이스"}},
		// decomposed (NFD) hangul is composed first
		{"\u1106\u116e\u1109\u1165\u11ab", []string{"무선"}},
	}
	for _, tc := range tests {
		if got := en.Terms(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("en(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestCJKQueryFindsTitle checks the property search relies on: every term of
// the query is a term of the title, for spellings with and without spaces,
// with particles, and in half-width or full-width forms.
func TestCJKQueryFindsTitle(t *testing.T) {
	en := analyzer(t, AnalyzerEnglish)
	skipShort(t)
	_, jaErr := NewJapaneseSegmenter(nil).Load()
	tests := []struct {
		query, title string
		japanese     bool
	}{
		{"苹果手机壳", "苹果 手机壳", false},
		{"苹果 手机壳", "苹果手机壳", false},
		{"ワイヤレスイヤホン", "ワイヤレス イヤホン Bluetooth", true},
		{"ワイヤレス イヤホン", "ノイズキャンセリング機能付きワイヤレスイヤホン", true},
		{"ｲﾔﾎﾝ", "ワイヤレスイヤホン", true},
		{"手帳型 ケース", "iPhone 15 手帳型ケース", true},
		{"水筒", "ステンレス製の水筒 500ml", true},
		{"ｉＰｈｏｎｅ　ケース", "Apple iPhone 15 ケース 手帳型", true},
		{"ゲーミング マウス", "ロジクール ゲーミングマウス 有線", true},
		{"무선 이어폰", "삼성 무선이어폰 블루투스", false},
		{"이어폰", "블루투스 이어폰을 위한 케이스", false},
		{"갤럭시 케이스", "삼성전자의 갤럭시 S24 케이스", false},
	}
	for _, tc := range tests {
		if tc.japanese && jaErr != nil {
			continue
		}
		have := map[string]bool{}
		for _, w := range en.Terms(tc.title) {
			have[w] = true
		}
		q := en.Terms(tc.query)
		if len(q) == 0 {
			t.Errorf("query %q has no terms", tc.query)
		}
		for _, w := range q {
			if !have[w] {
				t.Errorf("query %q: term %q (of %q) is not a term of %q (%q)", tc.query, w, q, tc.title, en.Terms(tc.title))
			}
		}
	}
}

func TestCJKOffsetsAndPositions(t *testing.T) {
	en := analyzer(t, AnalyzerEnglish)
	for _, text := range []string{
		"ノイズキャンセリング機能付きワイヤレスイヤホン",
		"Apple iPhone 15 ケース 手帳型",
		"삼성전자의 갤럭시 S24 케이스",
		"新款苹果手机壳防摔",
		"ｶﾞｰﾃﾞﾝ用ﾎｰｽ",
		"ワイヤレスイヤホン", // イヤ occurs inside ワイヤレス too
		"하하하하 이어폰이어폰",
		"手机手机壳",
	} {
		prev := -1
		for _, tok := range en.Analyze(text) {
			if tok.Start < 0 || tok.End > len(text) || tok.Start >= tok.End {
				t.Fatalf("%q: bad offsets %+v", text, tok)
			}
			if tok.Pos < prev {
				t.Errorf("%q: positions decrease at %+v", text, tok)
			}
			prev = tok.Pos
			// Unless a filter changed the term (width folding, stemming), the
			// offsets point at it.
			if src := text[tok.Start:tok.End]; src != tok.Term && norm.NFKC.IsNormalString(src) && tok.Kind != Word && tok.Kind != Number {
				t.Errorf("%q: offsets of %+v point at %q", text, tok, src)
			}
		}
	}
}

func TestKoreanSegmenter(t *testing.T) {
	if koreanDict() != nil {
		t.Skip("built with aisle_kodict: see TestKoreanDictAnalyzer")
	}
	var ko KoreanSegmenter
	tests := []struct {
		in   string
		want []string
	}{
		{"스마트폰", []string{"스마", "마트", "트폰"}},
		{"스마트폰으로", []string{"스마", "마트", "트폰"}},
		{"서울에서는", []string{"서울"}},
		{"폰", []string{"폰"}},
		{"폰을", []string{"폰을"}},
	}
	for _, tc := range tests {
		if got := ko.Segment(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Segment(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestJapaneseFallbackWithoutDictionary(t *testing.T) {
	seg := NewJapaneseSegmenter(bundledJapaneseDictMissing)
	if _, err := seg.Load(); err == nil {
		t.Fatal("Load: no error for a missing dictionary")
	}
	if got, want := seg.Segment("イヤホン"), []string{"イヤ", "ヤホ", "ホン"}; !reflect.DeepEqual(got, want) {
		t.Errorf("fallback = %q, want %q", got, want)
	}
	if got, want := seg.Segment("水"), []string{"水"}; !reflect.DeepEqual(got, want) {
		t.Errorf("fallback = %q, want %q", got, want)
	}
}

// FuzzAnalyzeCJK runs the English analyzer, with the real Chinese and
// Japanese dictionaries, on arbitrary text.
func FuzzAnalyzeCJK(f *testing.F) {
	skipShort(f)
	for _, s := range []string{"ワイヤレスイヤホン", "ｶﾞｰﾃﾞﾝ", "무선이어폰을", "Apple iPhone 15 ケース 手帳型", "ステンレス製の水筒",
		"\u1106\u116e", "ﷺ", "ｉＰｈｏｎｅ１５", "苹果手机壳", "ー", "\u3099", "々", "İstanbul ケース"} {
		f.Add(s)
	}
	en, _ := cjkRegistry().Analyzer(AnalyzerEnglish)
	f.Fuzz(func(t *testing.T, s string) {
		prev := -1
		for _, tok := range en.Analyze(s) {
			if tok.Start < 0 || tok.End > len(s) || tok.Start > tok.End {
				t.Fatalf("offsets out of range: %+v in %q", tok, s)
			}
			if tok.Pos < prev {
				t.Fatalf("positions decrease: %+v in %q", tok, s)
			}
			prev = tok.Pos
			if tok.Term == "" {
				t.Fatalf("empty term in %q", s)
			}
			if utf8.ValidString(s) && !utf8.ValidString(tok.Term) {
				t.Fatalf("invalid term %q from valid input %q", tok.Term, s)
			}
		}
	})
}

func bundledJapaneseDictMissing() (*dict.Dict, error) { return nil, errors.New("no such dictionary") }

func TestJapaneseCut(t *testing.T) {
	long := strings.Repeat("ア", 1000)
	tests := []struct {
		run  string
		want string // the first piece
	}{
		{"ワイヤレスイヤホン", "ワイヤレスイヤホン"},
		{strings.Repeat("ア", 64), strings.Repeat("ア", 64)},
		{long, strings.Repeat("ア", 64)},
		// a cut where kanji follows hiragana beats one between katakana and kanji
		{strings.Repeat("ア", 30) + "電池" + strings.Repeat("の", 10) + "充電" + strings.Repeat("イ", 40),
			strings.Repeat("ア", 30) + "電池" + strings.Repeat("の", 10)},
		// no hiragana: the last change of script
		{strings.Repeat("ア", 30) + strings.Repeat("電", 20) + strings.Repeat("イ", 40),
			strings.Repeat("ア", 30) + strings.Repeat("電", 20)},
	}
	for _, tc := range tests {
		if got := tc.run[:japaneseCut(tc.run)]; got != tc.want {
			t.Errorf("first piece of %q = %q, want %q", tc.run, got, tc.want)
		}
	}
	skipShort(t)
	seg := NewJapaneseSegmenter(nil)
	if _, err := seg.Load(); err != nil {
		t.Skipf("binary without the Japanese dictionary: %v", err)
	}
	// A long run is segmented in pieces; no character is lost.
	if got := strings.Join(seg.Segment(long), ""); got != long {
		t.Errorf("segments of a long katakana run join to %d bytes, want %d", len(got), len(long))
	}
}

func TestCJKFilterWithoutJapaneseSegmenter(t *testing.T) {
	f := CJKFilter{Zh: NewBigramSegmenter()}
	var got []string
	for _, tok := range f.Filter(UnicodeTokenizer{}.Tokenize("手帳型ケース 무선이어폰")) {
		got = append(got, tok.Term)
	}
	// kanji go to the Chinese segmenter, kana stay whole, hangul (no Ko) too
	if want := []string{"手帳", "帳型", "ケース", "무선이어폰"}; !reflect.DeepEqual(got, want) {
		t.Errorf("terms = %q, want %q", got, want)
	}
}

// TestCJKConcurrent analyses CJK text from several goroutines, as the index
// does for big batches; run it with -race (it needs the dictionaries, so
// it is skipped with -short).
func TestCJKConcurrent(t *testing.T) {
	skipShort(t)
	// a fresh registry, so that the lazy loads race too
	en, _ := NewRegistry(Options{}).Analyzer(AnalyzerEnglish)
	texts := []string{"ワイヤレスイヤホン 手帳型ケース", "ゲーミングマウス", "무선이어폰을", "苹果手机壳", "ステンレス製の水筒"}
	want := make([][]string, len(texts))
	var wg sync.WaitGroup
	got := make([][][]string, 4)
	for g := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, s := range texts {
				got[g] = append(got[g], en.Terms(s))
			}
		}()
	}
	wg.Wait()
	for i, s := range texts {
		want[i] = en.Terms(s)
	}
	for g := range got {
		if !reflect.DeepEqual(got[g], want) {
			t.Errorf("goroutine %d: %q, want %q", g, got[g], want)
		}
	}
}
