package analysis

import (
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/kljensen/snowball/english"
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

// CJKFilter splits Han tokens into words with a dictionary Segmenter
// ("苹果手机壳" → 苹果, 手机, 壳). Kana and hangul runs are kept whole.
// Positions after a split token are shifted so they stay increasing.
type CJKFilter struct{ Seg *Segmenter }

// Filter implements TokenFilter.
func (f CJKFilter) Filter(toks []Token) []Token {
	has := false
	for _, t := range toks {
		if t.Kind == Han {
			has = true
			break
		}
	}
	if !has {
		return toks
	}
	out := make([]Token, 0, len(toks)*2)
	shift := 0
	for _, t := range toks {
		t.Pos += shift
		if t.Kind != Han {
			out = append(out, t)
			continue
		}
		words := f.Seg.Segment(t.Term)
		cur := 0
		for k, w := range words {
			idx := strings.Index(t.Term[cur:], w)
			if idx < 0 { // cannot happen for a segmenter that returns substrings in order
				idx = 0
			}
			off := cur + idx
			out = append(out, Token{Term: w, Start: t.Start + off, End: t.Start + off + len(w), Pos: t.Pos + k, Kind: Han})
			_, first := utf8.DecodeRuneInString(w)
			cur = off + first
		}
		if len(words) > 1 {
			shift += len(words) - 1
		}
	}
	return out
}
