package analysis

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEnglishAnalyzer(t *testing.T) {
	r := NewRegistry(Options{})
	en, err := r.Analyzer(AnalyzerEnglish)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   string
		want []string
	}{
		{"Running Shoes", []string{"run", "shoe"}},
		{"ink for my printer", []string{"ink", "printer"}},
		{"Batteries AA", []string{"batteri", "aa"}},
		{"men's wallets", []string{"men", "wallet"}},
		{"Men’s Wallet", []string{"men", "wallet"}},
		{"1.75 leather belts", []string{"1.75", "leather", "belt"}},
		{"t-shirt", []string{"t", "shirt", "tshirt"}},
		{"1/2 inch binder", []string{"1", "2", "12", "inch", "binder"}},
		{"  ", nil},
		{"Café crème", []string{"café", "crème"}},
		{"ua vital woven pants", []string{"ua", "vital", "woven", "pant"}},
		{"32oz bottle", []string{"32", "oz", "32oz", "bottl"}},
		{"w af1 shadow", []string{"w", "af", "1", "af1", "shadow"}},
	}
	for _, tc := range tests {
		got := en.Terms(tc.in)
		if len(got) == 0 && len(tc.want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("en(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTokenOffsets(t *testing.T) {
	r := NewRegistry(Options{})
	en, _ := r.Analyzer(AnalyzerEnglish)
	text := "Red RUNNING shoes, size 10"
	for _, tok := range en.Analyze(text) {
		if tok.Start < 0 || tok.End > len(text) || tok.Start >= tok.End {
			t.Fatalf("bad offsets %+v", tok)
		}
	}
	toks := en.Analyze(text)
	if got := text[toks[1].Start:toks[1].End]; got != "RUNNING" {
		t.Errorf("offset of second token = %q, want RUNNING", got)
	}
}

func TestCJKSegmentation(t *testing.T) {
	seg := NewSegmenter(nil)
	d, err := seg.Load()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dictionary loaded in %v", d)
	r := NewRegistry(Options{CJK: seg})
	std, _ := r.Analyzer(AnalyzerStandard)
	tests := []struct {
		in   string
		want []string
	}{
		{"苹果手机壳", []string{"苹果", "手机", "壳"}},
		{"苹果 手机壳", []string{"苹果", "手机", "壳"}},
		{"红色跑鞋", []string{"红色", "跑鞋"}},
		{"iPhone手机壳", []string{"iphone", "手机", "壳"}},
	}
	for _, tc := range tests {
		got := std.Terms(tc.in)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("standard(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// Positions increase and offsets point at the term.
	text := "新款苹果手机壳防摔"
	prev := -1
	for _, tok := range std.Analyze(text) {
		if tok.Pos <= prev {
			t.Errorf("positions not increasing at %+v", tok)
		}
		prev = tok.Pos
		if text[tok.Start:tok.End] != tok.Term {
			t.Errorf("offsets of %+v point at %q", tok, text[tok.Start:tok.End])
		}
	}
}

func TestBigramFallback(t *testing.T) {
	r := NewRegistry(Options{CJK: NewBigramSegmenter()})
	std, _ := r.Analyzer(AnalyzerStandard)
	if got, want := std.Terms("手机壳"), []string{"手机", "机壳"}; !reflect.DeepEqual(got, want) {
		t.Errorf("bigrams = %q, want %q", got, want)
	}
}

func TestRegistryErrors(t *testing.T) {
	r := NewRegistry(Options{CJK: NewBigramSegmenter()})
	if _, err := r.Build("x", "nope"); err == nil || !strings.Contains(err.Error(), "unknown tokenizer") {
		t.Errorf("unknown tokenizer: err = %v", err)
	}
	if _, err := r.Build("x", TokenizerUnicode, "nope"); err == nil || !strings.Contains(err.Error(), "unknown token filter") {
		t.Errorf("unknown filter: err = %v", err)
	}
	if _, err := r.Analyzer("nope"); err == nil {
		t.Error("unknown analyzer: no error")
	}
	a, err := r.Build("lower", TokenizerUnicode, FilterLowercase)
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Terms("Hello World"); !reflect.DeepEqual(got, []string{"hello", "world"}) {
		t.Errorf("custom analyzer = %q", got)
	}
}

func FuzzAnalyze(f *testing.F) {
	for _, s := range []string{"sharpie markr", "红色跑鞋", "t-shirt 1/2", "men's 1.75", "ü'", "a-", "-b", "''", "9.", ".9"} {
		f.Add(s)
	}
	r := NewRegistry(Options{CJK: NewBigramSegmenter()})
	en, _ := r.Analyzer(AnalyzerEnglish)
	f.Fuzz(func(t *testing.T, s string) {
		prev := -1
		for _, tok := range en.Analyze(s) {
			if tok.Start < 0 || tok.End > len(s) || tok.Start > tok.End {
				t.Fatalf("offsets out of range: %+v in %q", tok, s)
			}
			if tok.Pos < prev {
				t.Fatalf("positions decrease: %+v", tok)
			}
			prev = tok.Pos
			if utf8.ValidString(s) && !utf8.ValidString(tok.Term) {
				t.Fatalf("invalid term %q from valid input", tok.Term)
			}
		}
	})
}

func TestTruncate(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"hello", 10, "hello"}, {"hello", 5, "hello"}, {"hello", 3, "hel"}, {"hello", 0, ""},
		{"무선이어폰", 4, "무"}, // 3-byte characters: never half of one
		{"무선이어폰", 6, "무선"},
		{"a무", 2, "a"},
		{"", 3, ""},
	} {
		got := Truncate(c.in, c.max)
		if got != c.want || !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}
