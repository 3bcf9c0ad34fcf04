package assistant

import (
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Removed counts what the grounding checker took out of a model's reply.
type Removed struct {
	Products   int `json:"products"`   // sentences naming a product no tool result gave
	Prices     int `json:"prices"`     // prices corrected or removed
	Attributes int `json:"attributes"` // sentences with a brand or attribute no tool result gave
}

var (
	citeRe  = regexp.MustCompile(`\[([A-Za-z0-9][A-Za-z0-9_.:\-]{0,99})\]`)
	priceRe = regexp.MustCompile(`(?:\$|US\$|USD\s?)\s?(\d+(?:,\d{3})*(?:\.\d{1,2})?)|(\d+(?:\.\d{1,2})?)\s?(?:元|dollars?)`)
	idLike  = regexp.MustCompile(`\b[A-Za-z0-9][A-Za-z0-9_\-]{4,63}\b`)
)

// check is the grounding checker: every product, price and attribute in
// the reply must come from a tool result of this conversation (grounded)
// or from the shopper's own words. A line naming an unknown product, or a
// brand or attribute value no grounded product has, is removed; a wrong
// price of a cited product is corrected, any other unsupported price
// removed. It returns the checked text and the grounded products cited.
func (a *Assistant) check(text string, grounded map[string]bool, conv *Conversation, msg string) (string, []string, Removed) {
	var rm Removed
	v := a.o.Catalogue.Vocabulary()
	said := strings.ToLower(msg)
	for _, t := range conv.Turns {
		said += " " + strings.ToLower(t.Message)
	}
	saidWords := map[string]bool{}
	for _, w := range tokens(said) {
		saidWords[w] = true
	}
	// what grounded products show: brands, attribute values, title words, prices
	gBrands, gWords, gPrices := map[string]bool{}, map[string]bool{}, []float64{}
	for id := range grounded {
		p, ok := a.o.Catalogue.Get(id)
		if !ok {
			continue
		}
		gBrands[phrase(tokens(p.Brand))] = true
		for w := range p.words {
			gWords[w] = true
		}
		for _, av := range p.Attributes {
			for _, w := range tokens(av) {
				gWords[w] = true
			}
		}
		if p.Price != nil {
			gPrices = append(gPrices, *p.Price)
		}
	}
	var cited []string
	var keep []string
	for _, line := range splitSentences(text) {
		ids := citeRe.FindAllStringSubmatch(line, -1)
		bad := false
		var lineItems []*Product
		for _, m := range ids {
			p, ok := a.o.Catalogue.Get(m[1])
			if !ok || !grounded[m[1]] {
				bad = true
				break
			}
			lineItems = append(lineItems, p)
		}
		if !bad { // an id written without brackets
			for _, w := range idLike.FindAllString(citeRe.ReplaceAllString(line, " "), -1) {
				if _, ok := a.o.Catalogue.Get(w); ok && !grounded[w] {
					bad = true
					break
				}
			}
		}
		if bad {
			rm.Products++
			continue
		}
		if ungroundedPhrase(line, v, gBrands, gWords, saidWords) {
			rm.Attributes++
			continue
		}
		line = priceRe.ReplaceAllStringFunc(line, func(s string) string {
			m := priceRe.FindStringSubmatch(s)
			numS := m[1]
			if numS == "" {
				numS = m[2]
			}
			f, err := strconv.ParseFloat(strings.ReplaceAll(numS, ",", ""), 64)
			if err != nil {
				return s
			}
			var own []float64
			for _, p := range lineItems {
				if p.Price != nil {
					own = append(own, *p.Price)
				}
			}
			if len(own) > 0 {
				if near(f, own) {
					return s
				}
				if len(own) == 1 {
					rm.Prices++
					return "$" + money(own[0])
				}
				rm.Prices++
				return ""
			}
			if len(lineItems) > 0 { // a cited product without a price has none to give
				rm.Prices++
				return ""
			}
			if near(f, gPrices) || strings.Contains(said, numS) {
				return s
			}
			rm.Prices++
			return ""
		})
		for _, p := range lineItems {
			cited = appendNew(cited, p.ID)
		}
		keep = append(keep, line)
	}
	return strings.TrimSpace(strings.Join(keep, "")), cited, rm
}

func near(f float64, list []float64) bool {
	for _, x := range list {
		if math.Abs(f-x) < 0.005 {
			return true
		}
	}
	return false
}

// ungroundedPhrase finds a brand or attribute value of the vocabulary in
// the line that neither a grounded product nor the shopper mentioned.
func ungroundedPhrase(line string, v *Vocabulary, gBrands, gWords, said map[string]bool) bool {
	ws := tokens(citeRe.ReplaceAllString(line, " "))
	for i := 0; i < len(ws); i++ {
		for n := min(v.longest, len(ws)-i); n >= 1; n-- {
			k := phrase(ws[i : i+n])
			if _, ok := v.brandName[k]; ok {
				if !gBrands[k] && !allIn(ws[i:i+n], said) {
					return true
				}
				i += n - 1
				break
			}
			if _, ok := v.attrs[k]; ok {
				if !allIn(ws[i:i+n], gWords) && !allIn(ws[i:i+n], said) {
					return true
				}
				i += n - 1
				break
			}
		}
	}
	return false
}

func allIn(ws []string, m map[string]bool) bool {
	for _, w := range ws {
		if !m[w] {
			return false
		}
	}
	return true
}

// splitSentences cuts text after line breaks and sentence ends, keeping
// the separators so that joining gives the text back.
func splitSentences(s string) []string {
	var out []string
	start := 0
	rs := []rune(s)
	for i, r := range rs {
		end := r == '\n' || r == '。' || r == '！' || r == '？'
		if (r == '.' || r == '!' || r == '?') && (i+1 == len(rs) || rs[i+1] == ' ' || rs[i+1] == '\n') {
			end = true
		}
		if end {
			out = append(out, string(rs[start:i+1]))
			start = i + 1
		}
	}
	if start < len(rs) {
		out = append(out, string(rs[start:]))
	}
	return out
}
