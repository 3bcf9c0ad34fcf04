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

// checker is the grounding checker of one turn: every product, price and
// attribute in the model's reply must come from a tool result of this
// conversation (grounded) or from the shopper's own words. A sentence
// naming an unknown product, or a brand or attribute value no grounded
// product has, is removed; a wrong price of a cited product is corrected,
// any other unsupported price removed. It works a sentence at a time, so
// a streamed reply is checked as it arrives.
type checker struct {
	a         *Assistant
	v         *Vocabulary
	grounded  map[string]bool
	said      string
	saidWords map[string]bool
	gBrands   map[string]bool
	gWords    map[string]bool
	gPrices   []float64
	rm        Removed
	cited     []string
}

func (a *Assistant) newChecker(grounded map[string]bool, conv *Conversation, msg string) *checker {
	c := &checker{a: a, v: a.o.Catalogue.Vocabulary(), grounded: grounded, said: strings.ToLower(msg),
		saidWords: map[string]bool{}, gBrands: map[string]bool{}, gWords: map[string]bool{}}
	for _, t := range conv.Turns {
		c.said += " " + strings.ToLower(t.Message)
	}
	for _, w := range tokens(c.said) {
		c.saidWords[w] = true
	}
	c.learn()
	return c
}

// learn reads what the grounded products show: brands, title words and
// attribute values, prices. Called again when tools ground more.
func (c *checker) learn() {
	c.gPrices = c.gPrices[:0]
	for id := range c.grounded {
		p, ok := c.a.o.Catalogue.Get(id)
		if !ok {
			continue
		}
		c.gBrands[phrase(tokens(p.Brand))] = true
		for w := range p.words {
			c.gWords[w] = true
		}
		for _, av := range p.Attributes {
			for _, w := range tokens(av) {
				c.gWords[w] = true
			}
		}
		if p.Price != nil {
			c.gPrices = append(c.gPrices, *p.Price)
		}
	}
}

// check runs the checker over a whole reply and returns the checked text,
// the grounded products it cites and what it removed.
func (a *Assistant) check(text string, grounded map[string]bool, conv *Conversation, msg string) (string, []string, Removed) {
	c := a.newChecker(grounded, conv, msg)
	var keep []string
	for _, line := range splitSentences(text) {
		if out, ok := c.sentence(line); ok {
			keep = append(keep, out)
		}
	}
	return strings.TrimSpace(strings.Join(keep, "")), c.cited, c.rm
}

// sentence checks one sentence: false when it must go, else the sentence
// with its prices corrected.
func (c *checker) sentence(line string) (string, bool) {
	ids := citeRe.FindAllStringSubmatch(line, -1)
	var lineItems []*Product
	for _, m := range ids {
		p, ok := c.a.o.Catalogue.Get(m[1])
		if !ok || !c.grounded[m[1]] {
			c.rm.Products++
			return "", false
		}
		lineItems = append(lineItems, p)
	}
	for _, w := range idLike.FindAllString(citeRe.ReplaceAllString(line, " "), -1) { // an id without brackets
		if _, ok := c.a.o.Catalogue.Get(w); ok && !c.grounded[w] {
			c.rm.Products++
			return "", false
		}
	}
	if ungroundedPhrase(line, c.v, c.gBrands, c.gWords, c.saidWords) {
		c.rm.Attributes++
		return "", false
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
		switch {
		case len(own) > 0 && near(f, own):
			return s
		case len(own) == 1:
			c.rm.Prices++
			return "$" + money(own[0])
		case len(lineItems) > 0: // several cited and none has it, or the cited have no price
			c.rm.Prices++
			return ""
		case near(f, c.gPrices) || strings.Contains(c.said, numS):
			return s
		}
		c.rm.Prices++
		return ""
	})
	for _, m := range citeRe.FindAllStringSubmatch(line, -1) {
		if !c.grounded[m[1]] { // a removed price made a new citation: "[00$000]" → "[00]"
			c.rm.Products++
			return "", false
		}
	}
	// a removed price can free a word glued to it: "Samsung0元" → "Samsung"
	if ungroundedPhrase(line, c.v, c.gBrands, c.gWords, c.saidWords) {
		c.rm.Attributes++
		return "", false
	}
	for _, p := range lineItems {
		c.cited = appendNew(c.cited, p.ID)
	}
	return line, true
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
