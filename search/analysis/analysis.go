// Package analysis turns product and query text into index terms: a
// tokenizer splits text into tokens, token filters rewrite or drop them
// (width folding, lowercase, stop words, stemming, segmentation of Chinese,
// Japanese and Korean), and
// an Analyzer chains one tokenizer with its filters. Parts are looked up by
// name in a Registry, so a configuration can name the analyzer it wants.
package analysis

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Kind tells what sort of text a token came from.
type Kind uint8

// Token kinds.
const (
	Word   Kind = iota // letters (and digits) of a space-separated script
	Number             // digits only, possibly with one decimal point
	Han                // a run of Chinese characters (kanji), before or after segmentation
	Kana               // a run of hiragana or katakana
	Hangul             // a run of Korean syllables
)

// Token is one term and where it came from in the original text.
type Token struct {
	Term  string
	Start int // byte offset of the token's first byte in the analysed text
	End   int // byte offset just past the token
	Pos   int // position of the token in the token stream (0-based)
	Kind  Kind
	// Joined reports that the token was glued to the previous one by a
	// hyphen or slash in the text ("t-shirt"); CompoundFilter uses it.
	Joined bool
}

// Tokenizer splits text into tokens. It must be safe for concurrent use.
type Tokenizer interface {
	Tokenize(text string) []Token
}

// TokenFilter rewrites a token stream: it may change, drop or add tokens.
// It may reuse the input slice. It must be safe for concurrent use.
type TokenFilter interface {
	Filter(tokens []Token) []Token
}

// Analyzer is a tokenizer followed by token filters.
type Analyzer struct {
	Name      string
	Tokenizer Tokenizer
	Filters   []TokenFilter
}

// Analyze runs the tokenizer and every filter in order.
func (a *Analyzer) Analyze(text string) []Token {
	toks := a.Tokenizer.Tokenize(text)
	for _, f := range a.Filters {
		toks = f.Filter(toks)
	}
	return toks
}

// Terms returns only the terms of Analyze(text).
func (a *Analyzer) Terms(text string) []string {
	toks := a.Analyze(text)
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = t.Term
	}
	return out
}

// Registry holds tokenizers, token filters and analyzers by name. The zero
// value is not usable; create one with NewRegistry. A Registry is safe for
// concurrent lookups once it is no longer being modified.
type Registry struct {
	tokenizers map[string]Tokenizer
	filters    map[string]TokenFilter
	analyzers  map[string]*Analyzer
}

// Options configure the built-in parts of a registry.
type Options struct {
	// CJK segments Chinese text with a dictionary. When nil, NewRegistry
	// creates one that loads the bundled dictionary on first use.
	CJK *Segmenter
	// Japanese segments Japanese text (any text with kana). When nil,
	// NewRegistry creates one that loads the bundled IPA dictionary on first
	// use.
	Japanese *JapaneseSegmenter
	// JapaneseHan treats text written in kanji only as Japanese instead of
	// Chinese: set it for a Japanese catalogue, so that a query such as 水筒
	// is segmented like the titles it should find.
	JapaneseHan bool
}

// Built-in names.
const (
	TokenizerUnicode = "unicode"

	FilterNFKC       = "nfkc"
	FilterLowercase  = "lowercase"
	FilterPossessive = "possessive_en"
	FilterStopEN     = "stop_en"
	FilterStemEN     = "stem_en"
	FilterCJK        = "cjk"
	FilterCompound   = "compound"

	AnalyzerStandard = "standard" // unicode, nfkc, lowercase, cjk
	AnalyzerEnglish  = "en"       // unicode, nfkc, lowercase, compound, possessive_en, stop_en, stem_en, cjk
	AnalyzerKeyword  = "keyword"  // the whole text, lowercased and trimmed, as one token
)

// NewRegistry returns a registry with the built-in parts registered.
func NewRegistry(opt Options) *Registry {
	r := &Registry{
		tokenizers: map[string]Tokenizer{},
		filters:    map[string]TokenFilter{},
		analyzers:  map[string]*Analyzer{},
	}
	seg := opt.CJK
	if seg == nil {
		seg = NewSegmenter(nil)
	}
	ja := opt.Japanese
	if ja == nil {
		ja = NewJapaneseSegmenter(nil)
	}
	r.tokenizers[TokenizerUnicode] = UnicodeTokenizer{}
	r.tokenizers["whole"] = wholeTokenizer{}
	r.filters[FilterLowercase] = LowercaseFilter{}
	r.filters[FilterPossessive] = PossessiveFilter{}
	r.filters[FilterStopEN] = NewStopFilter(EnglishStopWords)
	r.filters[FilterStemEN] = NewEnglishStemFilter()
	r.filters[FilterNFKC] = NFKCFilter{}
	r.filters[FilterCJK] = CJKFilter{Zh: seg, Ja: ja, Ko: &KoreanSegmenter{}, JapaneseHan: opt.JapaneseHan}
	r.filters[FilterCompound] = CompoundFilter{}
	must := func(a *Analyzer, err error) {
		if err != nil {
			panic(err) // built-in names are constants above: a failure is a programming error
		}
	}
	must(r.Build(AnalyzerStandard, TokenizerUnicode, FilterNFKC, FilterLowercase, FilterCJK))
	must(r.Build(AnalyzerEnglish, TokenizerUnicode, FilterNFKC, FilterLowercase, FilterCompound, FilterPossessive, FilterStopEN, FilterStemEN, FilterCJK))
	must(r.Build(AnalyzerKeyword, "whole", FilterLowercase))
	return r
}

// Build creates an analyzer from named parts and registers it under name.
func (r *Registry) Build(name, tokenizer string, filters ...string) (*Analyzer, error) {
	t, ok := r.tokenizers[tokenizer]
	if !ok {
		return nil, fmt.Errorf("analyzer %q: unknown tokenizer %q (have %s)", name, tokenizer, keys(r.tokenizers))
	}
	a := &Analyzer{Name: name, Tokenizer: t}
	for _, fn := range filters {
		f, ok := r.filters[fn]
		if !ok {
			return nil, fmt.Errorf("analyzer %q: unknown token filter %q (have %s)", name, fn, keys(r.filters))
		}
		a.Filters = append(a.Filters, f)
	}
	r.analyzers[name] = a
	return a, nil
}

// Analyzer returns the analyzer registered under name.
func (r *Registry) Analyzer(name string) (*Analyzer, error) {
	a, ok := r.analyzers[name]
	if !ok {
		return nil, fmt.Errorf("unknown analyzer %q (have %s)", name, keys(r.analyzers))
	}
	return a, nil
}

func keys[V any](m map[string]V) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

// Truncate cuts s to at most maxBytes bytes without splitting a character
// (a cut inside a multi-byte character of Chinese, Japanese or Korean text
// would leave invalid UTF-8).
func Truncate(s string, maxBytes int) string {
	if len(s) <= maxBytes {
		return s
	}
	if maxBytes <= 0 {
		return ""
	}
	for maxBytes > 0 && !utf8.RuneStart(s[maxBytes]) {
		maxBytes--
	}
	return s[:maxBytes]
}
