package analysis

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// UnicodeTokenizer splits text at anything that is not a letter, digit or
// combining mark. Runs of Chinese characters, kana and hangul become their
// own tokens (Kind Han, Kana, Hangul) for the CJK filter to segment.
// Inside a word it keeps an apostrophe followed by a letter ("men's") and a
// decimal point between digits ("1.75"). A token directly joined to the
// previous one by a hyphen or slash ("t-shirt", "1/2") has Joined set.
type UnicodeTokenizer struct{}

type runeClass uint8

const (
	clsOther runeClass = iota
	clsAlnum
	clsHan
	clsKana
	clsHangul
)

func classify(r rune) runeClass {
	r = foldWidth(r)
	if r < 0x80 {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return clsAlnum
		}
		return clsOther
	}
	switch {
	case unicode.Is(unicode.Han, r):
		return clsHan
	case unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r) || isKanaMark(r):
		return clsKana
	case unicode.Is(unicode.Hangul, r):
		return clsHangul
	case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
		return clsAlnum
	}
	return clsOther
}

// Tokenize implements Tokenizer.
func (UnicodeTokenizer) Tokenize(text string) []Token {
	toks := make([]Token, 0, len(text)/6+1)
	i := 0
	for i < len(text) {
		r, size := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		c := classify(r)
		if c == clsOther {
			i += size
			continue
		}
		start := i
		i += size
		for i < len(text) {
			r2, s2 := rune(text[i]), 1
			if r2 >= utf8.RuneSelf {
				r2, s2 = utf8.DecodeRuneInString(text[i:])
			}
			c2 := classify(r2)
			if c2 == c {
				if c == clsAlnum && digitLetterBoundary(text[:i], r2) {
					break // "32oz" → 32, oz (CompoundFilter adds 32oz back)
				}
				i += s2
				continue
			}
			if c == clsAlnum && (r2 == '\'' || r2 == '’' || r2 == '.') && i+s2 < len(text) {
				next, ns := utf8.DecodeRuneInString(text[i+s2:])
				prev, _ := utf8.DecodeLastRuneInString(text[:i])
				if r2 == '.' && unicode.IsDigit(prev) && unicode.IsDigit(next) {
					i += s2 + ns
					continue
				}
				if r2 != '.' && unicode.IsLetter(prev) && unicode.IsLetter(next) {
					i += s2 + ns
					continue
				}
			}
			break
		}
		t := Token{Term: text[start:i], Start: start, End: i, Pos: len(toks)}
		switch c {
		case clsHan:
			t.Kind = Han
		case clsKana:
			t.Kind = Kana
		case clsHangul:
			t.Kind = Hangul
		default:
			t.Kind = Word
			if isNumber(t.Term) {
				t.Kind = Number
			}
		}
		if c == clsAlnum && len(toks) > 0 && start > 0 {
			p := toks[len(toks)-1]
			if p.End == start || p.End == start-1 && p.Kind <= Number && (text[start-1] == '-' || text[start-1] == '/') {
				t.Joined = true
			}
		}
		toks = append(toks, t)
	}
	return toks
}

func isNumber(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9') && r != '.' && !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// wholeTokenizer returns the whole trimmed text as one token.
type wholeTokenizer struct{}

func (wholeTokenizer) Tokenize(text string) []Token {
	s := strings.TrimSpace(text)
	if s == "" {
		return nil
	}
	start := strings.Index(text, s)
	return []Token{{Term: s, Start: start, End: start + len(s)}}
}

// foldWidth maps a full-width ASCII character (Ａ, ｚ, ０) to ASCII, so that
// the tokenizer splits "ｉＰｈｏｎｅ１５" exactly like "iPhone15". The
// NFKC filter folds the terms themselves.
func foldWidth(r rune) rune {
	if r >= 0xFF01 && r <= 0xFF5E {
		return r - 0xFEE0
	}
	return r
}

// isKanaMark reports the length and sound marks that belong inside a kana
// word but are not in the Hiragana or Katakana scripts: ー and its
// half-width form, the half-width (semi-)voiced marks of ｶﾞ and ﾊﾟ, and the
// combining and spacing voiced marks.
func isKanaMark(r rune) bool {
	switch r {
	case 'ー', 0xFF70, 0xFF9E, 0xFF9F, 0x3099, 0x309A, 0x309B, 0x309C:
		return true
	}
	return false
}

// digitLetterBoundary reports whether next starts a new token after the
// text before it: an ASCII (or full-width ASCII) digit next to an ASCII letter.
func digitLetterBoundary(before string, next rune) bool {
	prev, _ := utf8.DecodeLastRuneInString(before)
	prev, next = foldWidth(prev), foldWidth(next)
	return isASCIIAlnum(prev) && isASCIIAlnum(next) && isASCIIDigit(prev) != isASCIIDigit(next)
}

func isASCIIDigit(r rune) bool { return r >= '0' && r <= '9' }

func isASCIIAlnum(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}
