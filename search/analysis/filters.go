package analysis

import (
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/kljensen/snowball/english"
	"golang.org/x/text/unicode/norm"
)

// LowercaseFilter lowercases every term (Unicode-aware).
type LowercaseFilter struct{}

// Filter implements TokenFilter.
func (LowercaseFilter) Filter(toks []Token) []Token {
	for i := range toks {
		toks[i].Term = strings.ToLower(toks[i].Term)
	}
	return toks
}

// PossessiveFilter strips an English possessive ("men's" → "men") and
// normalises the typographic apostrophe to ASCII.
type PossessiveFilter struct{}

// Filter implements TokenFilter.
func (PossessiveFilter) Filter(toks []Token) []Token {
	for i := range toks {
		t := strings.ReplaceAll(toks[i].Term, "’", "'")
		if strings.HasSuffix(t, "'s") || strings.HasSuffix(t, "'S") {
			t = t[:len(t)-2]
		}
		toks[i].Term = strings.Trim(t, "'")
	}
	return toks
}

// EnglishStopWords are the words StopFilter drops by default: Lucene's
// English set plus personal pronouns that shoppers type ("ink for my printer").
var EnglishStopWords = []string{
	"a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
	"no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
	"they", "this", "to", "was", "will", "with",
	"i", "me", "my", "we", "our", "you", "your", "he", "his", "she", "her", "its",
}

// StopFilter drops Word tokens whose term is in its set. Positions of the
// remaining tokens are kept, so phrase distance still counts the gap.
type StopFilter struct{ set map[string]struct{} }

// NewStopFilter returns a filter dropping the given (lowercase) words.
func NewStopFilter(words []string) StopFilter {
	m := make(map[string]struct{}, len(words))
	for _, w := range words {
		m[w] = struct{}{}
	}
	return StopFilter{set: m}
}

// Filter implements TokenFilter.
func (f StopFilter) Filter(toks []Token) []Token {
	out := toks[:0]
	for _, t := range toks {
		if t.Kind == Word {
			if _, stop := f.set[t.Term]; stop {
				continue
			}
		}
		out = append(out, t)
	}
	return out
}

// EnglishStemFilter reduces Word tokens to their Snowball (Porter2) English
// stem: "running" → "run", "batteries" → "batteri". Stems are cached (up to
// stemCacheSize words) because stemming dominates indexing time.
type EnglishStemFilter struct {
	cache *sync.Map
	n     *atomic.Int64
}

const stemCacheSize = 1 << 18

// NewEnglishStemFilter returns a stemming filter with its own cache.
func NewEnglishStemFilter() EnglishStemFilter {
	return EnglishStemFilter{cache: &sync.Map{}, n: &atomic.Int64{}}
}

// Filter implements TokenFilter.
func (f EnglishStemFilter) Filter(toks []Token) []Token {
	for i := range toks {
		if toks[i].Kind != Word || len(toks[i].Term) <= 2 {
			continue
		}
		w := toks[i].Term
		if f.cache != nil {
			if s, ok := f.cache.Load(w); ok {
				toks[i].Term = s.(string)
				continue
			}
		}
		s := english.Stem(w, true)
		toks[i].Term = s
		if f.cache != nil && f.n.Load() < stemCacheSize {
			f.n.Add(1)
			f.cache.Store(strings.Clone(w), s)
		}
	}
	return toks
}

// CompoundFilter adds the concatenation of words joined by a hyphen or slash
// ("t-shirt" → t, shirt, tshirt) so that a query typed without the hyphen
// still matches. The added token takes the position of the compound's last part.
type CompoundFilter struct{}

// Filter implements TokenFilter.
func (CompoundFilter) Filter(toks []Token) []Token {
	has := false
	for _, t := range toks {
		if t.Joined {
			has = true
			break
		}
	}
	if !has {
		return toks
	}
	out := make([]Token, 0, len(toks)+2)
	for i := 0; i < len(toks); {
		j := i + 1
		for j < len(toks) && toks[j].Joined {
			j++
		}
		out = append(out, toks[i:j]...)
		if j-i > 1 && j-i <= 4 {
			var b strings.Builder
			for k := i; k < j; k++ {
				b.WriteString(toks[k].Term)
			}
			out = append(out, Token{Term: b.String(), Start: toks[i].Start, End: toks[j-1].End, Pos: toks[j-1].Pos, Kind: Word})
		}
		i = j
	}
	return out
}

// NFKCFilter normalises each term to Unicode NFKC: full-width ASCII
// becomes ASCII (ｉＰｈｏｎｅ → iPhone), half-width katakana becomes
// full-width (ｶﾀｶﾅ → カタカナ, ｶﾞ → ガ), decomposed Hangul is composed, and
// ligatures are split (ﬁ → fi). Characters that NFKC turns into something
// other than letters, digits or marks (the spaces inside ﷺ) are removed, and
// a term left empty is dropped. Offsets keep pointing at the original text.
type NFKCFilter struct{}

// Filter implements TokenFilter.
func (NFKCFilter) Filter(toks []Token) []Token {
	out := toks[:0]
	for _, t := range toks {
		if !isASCII(t.Term) && !norm.NFKC.IsNormalString(t.Term) {
			t.Term = norm.NFKC.String(t.Term)
			if strings.IndexFunc(t.Term, notTermRune) >= 0 {
				t.Term = strings.Map(func(r rune) rune {
					if notTermRune(r) {
						return -1
					}
					return r
				}, t.Term)
			}
			if t.Term == "" {
				continue
			}
		}
		out = append(out, t)
	}
	return out
}

// isASCII reports whether s is ASCII only (and so already in NFKC); the
// check saves the allocations of norm's quick check on English text.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func notTermRune(r rune) bool {
	return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) && r != '.' && r != '\''
}

// CJKFilter segments Chinese, Japanese and Korean tokens into words, the
// same way for items and queries:
//
//   - Japanese: when the text contains kana (or JapaneseHan is set), every run
//     of kanji and kana written without a break goes to Ja as one string
//     (ワイヤレスイヤホン → ワイヤレス/イヤ/ホン, 手帳型ケース → 手帳/型/ケース);
//   - Chinese: otherwise Han tokens go to Zh (苹果手机壳 → 苹果/手机/壳);
//   - Korean: each hangul word goes to Ko (무선이어폰 → 무선/선이/이어/어폰).
//
// Some Japanese words also get alternates at their own position: the
// Chinese segmenter's pieces of a kanji word (水筒 → 水, 筒), so that a
// kanji-only query, analysed as Chinese, still matches; and the dictionary
// parts of a katakana compound that kagome keeps whole (ゲーミングマウス →
// ゲーミング, マウス). A nil segmenter leaves its tokens whole (kanji of
// Japanese text then go to Zh). Positions after a split token are shifted
// so they stay increasing; offsets point into the original text.
type CJKFilter struct {
	Zh *Segmenter         // Chinese
	Ja *JapaneseSegmenter // Japanese
	Ko *KoreanSegmenter   // Korean
	// JapaneseHan makes text without kana Japanese too, for a shop whose
	// catalogue is Japanese: a query of kanji only (水筒) is then segmented
	// like the titles it should find.
	JapaneseHan bool
}

// Filter implements TokenFilter.
func (f CJKFilter) Filter(toks []Token) []Token {
	has, japanese := false, f.JapaneseHan
	for _, t := range toks {
		switch t.Kind {
		case Kana:
			japanese, has = true, true
		case Han, Hangul:
			has = true
		}
	}
	if !has {
		return toks
	}
	out := make([]Token, 0, len(toks)*2)
	shift := 0 // added to the positions of the tokens still to come
	// emit appends the words of run, the concatenated terms of src, and
	// moves the following positions by the change in the number of tokens.
	// Words of a dictionary segmenter follow each other; bigrams overlap.
	emit := func(run string, words []string, src []Token, kind Kind, alsoZh bool, overlapping func() bool) {
		pos := src[0].Pos + shift
		cur := 0
		overlap := len(words) > 1 && overlapping()
		for k, w := range words {
			idx := strings.Index(run[cur:], w)
			if idx < 0 { // cannot happen for a segmenter that returns substrings in order
				idx = 0
			}
			off := cur + idx
			start, end := mapOffsets(src, off, off+len(w))
			wk := kind
			if kind != Hangul && !strings.ContainsFunc(w, isHan) {
				wk = Kana
			}
			out = append(out, Token{Term: w, Start: start, End: end, Pos: pos + k, Kind: wk})
			if alsoZh && wk == Han {
				out = f.appendChineseAlternates(out, w, start, end, pos+k)
			}
			if kind == Han && wk == Kana && f.Ja != nil { // a Japanese word in kana
				out = appendAlternates(out, w, f.Ja.katakanaPieces(w), start, end, pos+k, false)
			}
			if overlap {
				_, first := utf8.DecodeRuneInString(w)
				cur = off + first
			} else {
				cur = off + len(w)
			}
		}
		shift += len(words) - len(src)
	}
	for i := 0; i < len(toks); {
		t := toks[i]
		switch {
		case japanese && f.Ja != nil && (t.Kind == Han || t.Kind == Kana):
			j := i + 1
			for j < len(toks) && (toks[j].Kind == Han || toks[j].Kind == Kana) && toks[j].Start == toks[j-1].End {
				j++
			}
			run := t.Term
			if j > i+1 {
				var b strings.Builder
				for _, s := range toks[i:j] {
					b.WriteString(s.Term)
				}
				run = b.String()
			}
			emit(run, f.Ja.Segment(run), toks[i:j], Han, !f.JapaneseHan && f.Zh != nil, func() bool { return !f.Ja.loaded() })
			i = j
			continue
		case t.Kind == Han && f.Zh != nil: // Chinese text, or Japanese text without a Japanese segmenter
			emit(t.Term, f.Zh.Segment(t.Term), toks[i:i+1], Han, false, func() bool { return !f.Zh.loaded() })
		case t.Kind == Hangul && f.Ko != nil:
			emit(t.Term, f.Ko.Segment(t.Term), toks[i:i+1], Hangul, false, f.Ko.overlapping)
		default:
			t.Pos += shift
			out = append(out, t)
		}
		i++
	}
	return out
}

// appendChineseAlternates adds, at the same position as the Japanese word w
// (all kanji), the words the Chinese segmenter makes of it when they differ
// (水筒 → 水, 筒). Text written in kanji only is analysed as Chinese unless
// JapaneseHan is set, so a query 水筒 becomes 水/筒: the alternates let it
// find ステンレス製の水筒, while a Japanese query still prefers items with
// the whole word.
func (f CJKFilter) appendChineseAlternates(out []Token, w string, start, end, pos int) []Token {
	if utf8.RuneCountInString(w) < 2 || !isAllHan(w) {
		return out
	}
	pieces := f.Zh.Segment(w)
	if len(pieces) == 1 && pieces[0] == w {
		return out
	}
	return appendAlternates(out, w, pieces, start, end, pos, !f.Zh.loaded())
}

// appendAlternates adds pieces of the word w (spanning start:end of the
// text) as extra tokens at w's position. Their offsets are those of w when
// an earlier filter changed w (its length differs from the text's).
func appendAlternates(out []Token, w string, pieces []string, start, end, pos int, overlap bool) []Token {
	same := end-start == len(w)
	cur := 0
	for _, p := range pieces {
		idx := strings.Index(w[cur:], p)
		if idx < 0 {
			idx = 0
		}
		off := cur + idx
		ps, pe := start, end
		if same {
			ps, pe = start+off, start+off+len(p)
		}
		kind := Kana
		if strings.ContainsFunc(p, isHan) {
			kind = Han
		}
		out = append(out, Token{Term: p, Start: ps, End: pe, Pos: pos, Kind: kind})
		if overlap {
			_, first := utf8.DecodeRuneInString(p)
			cur = off + first
		} else {
			cur = off + len(p)
		}
	}
	return out
}

func isAllHan(s string) bool {
	for _, r := range s {
		if !isHan(r) {
			return false
		}
	}
	return true
}

func isHan(r rune) bool { return unicode.Is(unicode.Han, r) }

// mapOffsets maps the byte range [from, to) of the concatenated terms of src
// back to offsets in the original text. Inside a term that a filter changed
// (its length differs from the text it came from) it snaps to the term's ends.
func mapOffsets(src []Token, from, to int) (start, end int) {
	start, end = src[0].Start, src[len(src)-1].End
	base := 0
	for _, t := range src {
		n := len(t.Term)
		same := n == t.End-t.Start
		if from >= base && from < base+n {
			start = t.Start
			if same {
				start += from - base
			}
		}
		if to > base && to <= base+n {
			end = t.End
			if same {
				end = t.Start + to - base
			}
		}
		base += n
	}
	return start, end
}
