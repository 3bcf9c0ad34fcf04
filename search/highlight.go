package search

import (
	"html"
	"strings"
	"unicode/utf8"
)

const (
	snippetLen     = 160
	maxSnippetScan = 500 // bytes of a description searched for a snippet
)

// highlights marks the query's terms in the title, brand and description
// of a result with <em>…</em> (the rest HTML-escaped). The description is
// cut to a snippet around its first match, and only given when neither the
// title nor the brand has a match (it is the costly part). Fields without a
// match are left out.
func (ix *Index) highlights(dc *doc, terms map[string]bool) map[string]string {
	var out map[string]string
	put := func(field, text string, snippet bool) {
		if text == "" {
			return
		}
		if snippet && len(text) > maxSnippetScan {
			// long descriptions: look for matches in the first part only
			cut := maxSnippetScan
			for cut < len(text) && !utf8.RuneStart(text[cut]) {
				cut++
			}
			text = text[:cut]
		}
		toks := ix.an.Analyze(text)
		var spans [][2]int
		for _, t := range toks {
			if terms[t.Term] {
				if n := len(spans); n > 0 && spans[n-1][1] >= t.Start { // overlapping (compounds)
					spans[n-1][1] = max(spans[n-1][1], t.End)
					continue
				}
				spans = append(spans, [2]int{t.Start, t.End})
			}
		}
		if len(spans) == 0 {
			return
		}
		from, to := 0, len(text)
		if snippet && len(text) > snippetLen {
			from = max(0, spans[0][0]-snippetLen/4)
			for k := 0; from > 0 && k < 24 && !isBoundary(text[from-1]); k++ {
				from--
			}
			for from > 0 && !utf8.RuneStart(text[from]) {
				from--
			}
			to = min(len(text), max(from+snippetLen, spans[0][1]))
			for k := 0; to < len(text) && k < 24 && !isBoundary(text[to]); k++ {
				to++
			}
			for to < len(text) && !utf8.RuneStart(text[to]) {
				to++
			}
		}
		var b strings.Builder
		// one allocation: the text, the marks and the ellipses (escaping
		// may still grow it)
		b.Grow(to - from + len(spans)*len("<em></em>") + 2*len("…"))
		if from > 0 {
			b.WriteString("…")
		}
		pos := from
		for _, sp := range spans {
			if sp[0] < from || sp[1] > to {
				continue
			}
			b.WriteString(html.EscapeString(text[pos:sp[0]]))
			b.WriteString("<em>")
			b.WriteString(html.EscapeString(text[sp[0]:sp[1]]))
			b.WriteString("</em>")
			pos = sp[1]
		}
		b.WriteString(html.EscapeString(text[pos:to]))
		if to < len(text) {
			b.WriteString("…")
		}
		if out == nil {
			out = map[string]string{}
		}
		out[field] = b.String()
	}
	put(FieldTitle.String(), dc.item.Title, false)
	put(FieldBrand.String(), dc.item.Brand, false)
	if out == nil { // a description snippet only when the title and brand show no match
		put(FieldDescription.String(), dc.item.Description, true)
	}
	return out
}

func isBoundary(c byte) bool { return c == ' ' || c == '\n' || c == '\t' }
