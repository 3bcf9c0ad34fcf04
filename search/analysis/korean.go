package analysis

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/ikawaha/kagome/v2/tokenizer"
)

// KoreanSegmenter turns one Korean word (an eojeol: the text between spaces)
// into index terms. By default it needs no dictionary:
//
//  1. it strips one trailing particle (josa) or copula ending when at least
//     two syllables remain: 이어폰을 → 이어폰, 삼성전자의 → 삼성전자,
//     매장에서 → 매장, 케이스입니다 → 케이스;
//  2. it emits the overlapping syllable bigrams of what remains
//     (무선이어폰 → 무선/선이/이어/어폰); a one- or two-syllable word is kept whole.
//
// Bigrams make a compound written as one word and the same compound written
// as two words share terms, so the query 무선 이어폰 matches every term of
// 무선이어폰, and the query 무선이어폰 matches three of its four terms in
// 무선 이어폰 (all but the bigram across the space). Items and queries go
// through the same steps.
//
// Particles that are also common last syllables of nouns (이, 가, 도, 로, 만,
// 와, 과: 고양이, 평가, 온도, 도로, 사과) are not stripped; verbs and adjectives
// are not conjugated back to their dictionary form; single-syllable words do
// not match inside longer words (책 does not find 책장).
//
// A binary built with the tag aisle_kodict instead segments with kagome and
// mecab-ko-dic (+25 MB of binary, 1.5 s and ~77 MB on first use), keeping
// content morphemes and dropping particles, endings and symbols.
//
// The zero value is ready to use and safe for concurrent use.
type KoreanSegmenter struct {
	once sync.Once
	tok  *tokenizer.Tokenizer // nil: rule-based
}

// koreanSuffixes are stripped from the end of a word, longest first.
var koreanSuffixes = []string{
	// copula and polite endings seen in titles and queries
	"입니다", "이에요", "예요", "이다",
	// multi-syllable particles
	"에서는", "에서도", "으로는", "으로도", "에게서", "에서", "에게", "한테", "으로", "까지", "부터", "처럼",
	"보다", "마다", "에는", "에도", "이나", "이랑", "하고", "과의", "와의", "만의",
	// one-syllable particles that rarely end a noun
	"을", "를", "은", "는", "의", "에",
}

// Segment splits one word of Hangul syllables as described above.
func (s *KoreanSegmenter) Segment(word string) []string {
	s.once.Do(func() {
		if d := koreanDict(); d != nil {
			s.tok, _ = tokenizer.New(d, tokenizer.OmitBosEos()) // only fails for a nil dictionary
		}
	})
	if s.tok != nil {
		return s.segmentDict(word)
	}
	word = stripKoreanSuffix(word)
	if utf8.RuneCountInString(word) <= 2 {
		return []string{word}
	}
	return bigrams(word)
}

func stripKoreanSuffix(word string) string {
	n := utf8.RuneCountInString(word)
	best := ""
	for _, suf := range koreanSuffixes {
		if len(suf) > len(best) && strings.HasSuffix(word, suf) && n-utf8.RuneCountInString(suf) >= 2 {
			best = suf
		}
	}
	return word[:len(word)-len(best)]
}

// Overlapping reports whether the words of Segment may overlap (bigrams).
func (s *KoreanSegmenter) overlapping() bool { return s.tok == nil }

// segmentDict keeps the content morphemes of word: nouns, verb and adjective
// stems, adverbs, roots, foreign words and numbers; it drops particles (J…),
// endings (E…), copulas, suffixes (XS…) and symbols.
func (s *KoreanSegmenter) segmentDict(word string) []string {
	var out []string
	for _, t := range s.tok.Analyze(word, tokenizer.Normal) {
		if t.Surface == "" {
			continue
		}
		pos := ""
		if f := t.POS(); len(f) > 0 {
			pos, _, _ = strings.Cut(f[0], "+")
		}
		switch {
		case strings.HasPrefix(pos, "J"), strings.HasPrefix(pos, "E"), strings.HasPrefix(pos, "VC"),
			strings.HasPrefix(pos, "XS"), pos == "SF", pos == "SP", pos == "SS", pos == "SE", pos == "SO", pos == "SW", pos == "SC", pos == "SY":
			continue
		}
		out = append(out, t.Surface)
	}
	if len(out) == 0 {
		return []string{word}
	}
	return out
}
