package assistant

import (
	"strings"
	"unicode"
)

// tokens splits lower-cased text into words: letters and digits, with
// every other rune a separator; a Han character is a word of its own.
// Words are singularised, so "printers" and "printer" meet.
func tokens(s string) []string {
	var out []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			out = append(out, singular(b.String()))
			b.Reset()
		}
	}
	for _, r := range strings.ToLower(s) {
		switch {
		case unicode.Is(unicode.Han, r):
			flush()
			out = append(out, string(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		default:
			flush()
		}
	}
	flush()
	return out
}

// singular strips an English plural ending ("boxes" → "box", "batteries"
// → "battery", "pens" → "pen"). It is applied to the catalogue and to
// messages alike, so a wrong stem on both sides still matches.
func singular(w string) string {
	n := len(w)
	switch {
	case n <= 3:
		return w
	case strings.HasSuffix(w, "ies") && n > 4:
		return w[:n-3] + "y"
	case strings.HasSuffix(w, "sses"), strings.HasSuffix(w, "xes"), strings.HasSuffix(w, "ches"), strings.HasSuffix(w, "shes"):
		return w[:n-2]
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"), strings.HasSuffix(w, "is"):
		return w
	case strings.HasSuffix(w, "s"):
		return w[:n-1]
	}
	return w
}

// phrase is the key of a word sequence in the vocabulary.
func phrase(ws []string) string { return strings.Join(ws, " ") }

// hasHan reports whether s holds a Chinese character.
func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// cleanBrand drops trademark marks from a brand as catalogues write it.
func cleanBrand(s string) string {
	s = strings.ReplaceAll(s, "&reg;", "")
	s = strings.ReplaceAll(s, "®", "")
	s = strings.ReplaceAll(s, "™", "")
	return strings.TrimSpace(s)
}

// stopwords are words of a request that name no product.
var stopwords = set(`a an the me i im i'm want wanted need needs needed looking look for some any show find get give buy
please can could you would with of in on at to and or one ones something anything what whats about how which is are do
does have has got there that this these those it its them they my mine like good great nice item product thing would
also too maybe instead again more option other else recommend suggest hi hello hey thanks thank price priced cost costs
dollar usd only just not no except without excluding all be see let lets us we our your yes ok okay well really very
much many kind type sort color colour shade please pls plz don dont t s m ve ll re d now then than new here list
from by made brand brands make maker's buy purchase get ordering order sorted
he she his her him hers dad mom mum father mother wife husband son daughter kid kids child children friend
gift present birthday christmas someone somebody looking look looks nice cool pretty awesome love likes liked
sell sells selling carry available but as so hmm um uh okay alright sure either whatever ones`)

func set(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[singular(w)] = true
	}
	return m
}
