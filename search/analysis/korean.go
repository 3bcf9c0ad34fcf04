package analysis

import (
	"strings"
	"unicode/utf8"
)

// KoreanSegmenter turns one Korean word (an eojeol: the text between spaces)
// into index terms without a dictionary:
//
//  1. it strips one trailing particle (josa) or copula ending when at least
//     two syllables remain: 이어폰을 → 이어폰, 삼성전자의 → 삼성전자,
//     매장에서 → 매장, 케이스입니다 → 케이스;
//  2. it emits the overlapping syllable bigrams of what remains
//     (무선이어폰 → 무선/선이/이어/어폰); a one-syllable word is kept whole.
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
// not match inside longer words (책 does not find 책장). The zero value is
// ready to use and safe for concurrent use.
type KoreanSegmenter struct{}

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

// Segment implements the steps above on one word of Hangul syllables.
func (KoreanSegmenter) Segment(word string) []string {
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
