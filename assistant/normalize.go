package assistant

import (
	"regexp"
	"strconv"
	"strings"
)

// Normalisation of English messages before prices and words are read:
// money as people say it, conversational openers, and the shop's
// everyday synonyms.

var (
	// currencyBefore is a currency sign before an amount ("£80", "€ 40").
	currencyBefore = regexp.MustCompile(`[£€]\s*(\d)`)
	// currencyAfter is a currency sign or word after an amount ("40€",
	// "20 quid", "15 euros", "100 rmb"): all read as the shop's currency.
	currencyAfter = regexp.MustCompile(`(\d)\s*(?:[£€]|(?:quid|pounds?|euros?|eur|gbp|rmb|yuan|bucks?|dollars?|usd)\b)`)
	// opener is a word that opens a reply to the assistant ("ok,", "hmm,",
	// "fine,") and names nothing.
	opener = regexp.MustCompile(`^\s*(?:(?:ok(?:ay)?|fine|hmm+|um+|uh+|well|alright|all right|sure|great|cool|nice|thanks|thank you|yes|yeah|yep|right|oh|ah)\s*[,.!;:-]+\s*)+`)
	// anyOf lifts a constraint: "any colour", "any brand", "any price",
	// "whatever colour", "don't care about the brand".
	anyOf = regexp.MustCompile(`\b(?:any|all|whatever|every|other|(?:don'?t|do not) care about (?:the )?)\s*(colou?rs?|brands?|makers?|prices?)\b`)
	// numberWords is a run of English number words.
	numberWords = regexp.MustCompile(`\b(?:(?:a|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand)(?:[\s-]+(?:and\s+)?)?)+\b`)
)

var numberValue = map[string]int{"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
	"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
	"eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
	"eighty": 80, "ninety": 90}

// spelledNumbers writes number words as digits when they are an amount:
// a run holding a tens word, "hundred" or "thousand" ("fifty", "a
// hundred", "twenty-five"), or any run followed by a currency word ("five
// dollars"). "The second one" and "these two" are left alone.
func spelledNumbers(s string) string {
	if !containsAny(s, []string{"ty", "ten", "teen", "hundred", "thousand", "eleven", "twelve", "dollar", "buck", "quid", "pound", "euro"}) {
		return s
	}
	return numberWords.ReplaceAllStringFunc(s, func(run string) string {
		ws := strings.FieldsFunc(run, func(r rune) bool { return r == ' ' || r == '-' || r == '\t' })
		big := false
		total, cur := 0, 0
		for _, w := range ws {
			switch w {
			case "and":
			case "hundred":
				big = true
				cur = max(cur, 1) * 100
			case "thousand":
				big = true
				total += max(cur, 1) * 1000
				cur = 0
			default:
				v := numberValue[w]
				if v >= 10 {
					big = true
				}
				cur += v
			}
		}
		total += cur
		trail := ""
		if strings.HasSuffix(run, " ") || strings.HasSuffix(run, "-") {
			trail = " "
		}
		if !big {
			return run // "a", "the second one", "these two": see smallAmounts
		}
		return strconv.Itoa(total) + trail
	})
}

// smallAmounts turns "five dollars" into "5 dollars" (a small number
// word is an amount only before a currency word).
var smallAmounts = regexp.MustCompile(`\b(one|two|three|four|five|six|seven|eight|nine)(\s+(?:dollars?|bucks?|quid|pounds?|euros?))\b`)

// enWords are everyday names of the shop's products and the names its
// catalogue uses ("white board marker" is a dry erase marker), replaced
// longest first, on word boundaries.
var enWords = [][2]string{
	{"white board markers", "dry erase markers"}, {"white board marker", "dry erase marker"},
	{"whiteboard markers", "dry erase markers"}, {"whiteboard marker", "dry erase marker"},
	{"white boards", "dry erase boards"}, {"white board", "dry erase board"},
	{"biros", "ballpoint pens"}, {"biro", "ballpoint pen"}, {"sellotape", "transparent tape"},
	{"hole puncher", "hole punch"}, {"sticky labels", "labels"},
}

var enWordsRe = func() *regexp.Regexp {
	var alts []string
	for _, p := range enWords {
		alts = append(alts, regexp.QuoteMeta(p[0]))
	}
	return regexp.MustCompile(`\b(?:` + strings.Join(alts, "|") + `)\b`)
}()

var enWordsMap = func() map[string]string {
	m := map[string]string{}
	for _, p := range enWords {
		m[p[0]] = p[1]
	}
	return m
}()

// normalizeEN applies the normalisations above to a lower-cased message.
func normalizeEN(s string) string {
	s = opener.ReplaceAllString(s, " ")
	if strings.ContainsAny(s, "£€") || containsAny(s, []string{"quid", "pound", "euro", "eur", "gbp", "rmb", "yuan", "buck", "dollar", "usd"}) {
		s = spelledNumbers(s)
		s = smallAmounts.ReplaceAllStringFunc(s, func(m string) string {
			sm := smallAmounts.FindStringSubmatch(m)
			return strconv.Itoa(numberValue[sm[1]]) + sm[2]
		})
		s = currencyBefore.ReplaceAllString(s, "$$$1")
		s = currencyAfter.ReplaceAllString(s, "$1 dollars ")
	} else {
		s = spelledNumbers(s)
	}
	if containsAny(s, []string{"board", "biro", "sellotape", "punch", "sticky"}) {
		s = enWordsRe.ReplaceAllStringFunc(s, func(m string) string { return enWordsMap[m] })
	}
	return s
}
