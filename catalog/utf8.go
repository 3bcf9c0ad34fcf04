package catalog

import (
	"fmt"
	"unicode/utf8"
)

// checkJSONText rejects JSON whose strings the standard decoder would
// silently repair into U+FFFD: raw bytes that are not valid UTF-8, and \u
// escapes of lone UTF-16 surrogates. An id or title must arrive as sent or
// be refused, never be changed on the way in.
func checkJSONText(data []byte) error {
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return FieldError("", fmt.Sprintf("is not valid UTF-8 (bad byte 0x%02x at byte %d of the record): send text as UTF-8", data[off], off))
	}
	inStr := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if !inStr {
			if c == '"' {
				inStr = true
			}
			continue
		}
		switch c {
		case '"':
			inStr = false
		case '\\':
			if i+1 < len(data) && data[i+1] == 'u' {
				r, ok := hex4(data, i+2)
				if ok && r >= 0xD800 && r <= 0xDBFF { // high surrogate: a low one must follow
					lo, ok2 := rune(0), false
					if i+7 < len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
						lo, ok2 = hex4(data, i+8)
					}
					if !ok2 || lo < 0xDC00 || lo > 0xDFFF {
						return FieldError("", fmt.Sprintf("has a lone UTF-16 surrogate \\u%04X at byte %d of the record: escape characters outside the BMP as a surrogate pair", r, i))
					}
					i += 11
					continue
				}
				if ok && r >= 0xDC00 && r <= 0xDFFF {
					return FieldError("", fmt.Sprintf("has a lone UTF-16 surrogate \\u%04X at byte %d of the record: escape characters outside the BMP as a surrogate pair", r, i))
				}
				i += 5
				continue
			}
			i++ // skip the escaped character
		}
	}
	return nil
}

func hex4(data []byte, at int) (rune, bool) {
	if at+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[at : at+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return 0, false
		}
	}
	return r, true
}
