package assistant

import (
	"slices"
	"testing"
	"unicode/utf8"
)

func demoVocab(t testing.TB) *Vocabulary {
	items, _ := demoShop(t)
	c := NewCatalogue()
	c.Add(items...)
	return c.Vocabulary()
}

func fp(f float64) *float64 { return &f }

func TestParse(t *testing.T) {
	v := demoVocab(t)
	for _, c := range []struct {
		msg           string
		intent        Intent
		query         string
		brands, excl  []string
		min, max      *float64
		sort          string
		color         string
		ords          []int
		cheaper, lang bool
	}{
		{msg: "I need a stapler under $50", intent: IntentSearch, query: "stapler", max: fp(50)},
		{msg: "staplers between 20 and 30 dollars", intent: IntentSearch, query: "stapler", min: fp(20), max: fp(30)},
		{msg: "pens from $5 to $10", intent: IntentSearch, query: "pen", min: fp(5), max: fp(10)},
		{msg: "calculator over 15", intent: IntentSearch, query: "calculator", min: fp(15)},
		{msg: "cheapest label maker", intent: IntentSearch, query: "label maker", sort: "price_asc"},
		{msg: "best rated shredder", intent: IntentSearch, query: "shredder", sort: "popular"},
		{msg: "newest HP printers", intent: IntentSearch, query: "printer", brands: []string{"HP"}, sort: "newest"},
		{msg: "printers, not Samsung", intent: IntentSearch, query: "printer", excl: []string{"Samsung"}},
		{msg: "only Casio", intent: IntentSearch, brands: []string{"Casio"}},
		{msg: "cheaper ones", intent: IntentSearch, cheaper: true},
		{msg: "what about in black?", intent: IntentSearch, color: "black"},
		{msg: "show the second one", intent: IntentDetail, ords: []int{2}},
		{msg: "tell me about #3", intent: IntentDetail, ords: []int{3}},
		{msg: "compare the first and the third", intent: IntentCompare, ords: []int{1, 3}},
		{msg: "something like the first one", intent: IntentSimilar, ords: []int{1}},
		{msg: "what goes with the last one", intent: IntentTogether, ords: []int{-1}},
		{msg: "add the second one to my cart", intent: IntentCart, ords: []int{2}},
		{msg: "recommend something for me", intent: IntentRecommend},
		{msg: "hello", intent: IntentHelp},
		{msg: "I don't want Brother", intent: IntentSearch, excl: []string{"Brother"}},
		{msg: "any good shredders that aren't Fellowes?", intent: IntentSearch, query: "shredder", excl: []string{"Fellowes"}},
		{msg: "the third one looks nice, tell me more", intent: IntentDetail, ords: []int{3}},
		{msg: "a gift for my dad, he likes fountain pens", intent: IntentSearch, query: "fountain pen"},
		{msg: "laminators sorted by price", intent: IntentSearch, query: "laminator", sort: "price_asc"},
		{msg: "500元以下的打印机", intent: IntentSearch, query: "printer", max: fp(500), lang: true},
		{msg: "100到200元的计算器", intent: IntentSearch, query: "calculator", min: fp(100), max: fp(200), lang: true},
		{msg: "五百块以内的碎纸机", intent: IntentSearch, query: "shredder", max: fp(500), lang: true},
		{msg: "便宜一点", intent: IntentSearch, cheaper: true, lang: true},
		{msg: "不要三星", intent: IntentSearch, excl: []string{"Samsung"}, lang: true},
		{msg: "只要卡西欧", intent: IntentSearch, brands: []string{"Casio"}, lang: true},
		{msg: "最便宜的订书机", intent: IntentSearch, query: "stapler", sort: "price_asc", lang: true},
		{msg: "第二个", intent: IntentDetail, ords: []int{2}, lang: true},
		{msg: "比较前两个", intent: IntentCompare, ords: []int{1, 2}, lang: true},
		{msg: "黑色的", intent: IntentSearch, color: "black", lang: true},
		{msg: "和第一个类似的", intent: IntentSimilar, ords: []int{1}, lang: true},
		{msg: "给我推荐", intent: IntentRecommend, lang: true},
		// as shoppers type: misspelt, other currencies, spelled amounts, brand spellings, openers
		{msg: "need a new staplr", intent: IntentSearch, query: "stapler"},
		{msg: "documnet scanner", intent: IntentSearch, query: "document scanner"},
		{msg: "a stapler under 20 quid", intent: IntentSearch, query: "stapler", max: fp(20)},
		{msg: "shredder for less than £80", intent: IntentSearch, query: "shredder", max: fp(80)},
		{msg: "laminator under 40€", intent: IntentSearch, query: "laminator", max: fp(40)},
		{msg: "a cordless phone under fifty dollars", intent: IntentSearch, query: "cordless phone", max: fp(50)},
		{msg: "pens under twenty-five bucks", intent: IntentSearch, query: "pen", max: fp(25)},
		{msg: "a hundred dollar shredder", intent: IntentSearch, query: "shredder", min: fp(80), max: fp(120)},
		{msg: "label maker, 30 bucks or so", intent: IntentSearch, query: "label maker", min: fp(24), max: fp(36)},
		{msg: "gel pens between 5 & 10 dollars", intent: IntentSearch, query: "gel pen", min: fp(5), max: fp(10)},
		{msg: "my budget is $100, need a laser printer", intent: IntentSearch, query: "laser printer", max: fp(100)},
		{msg: "预算200块，想要一台喷墨打印机", intent: IntentSearch, query: "inkjet printer", max: fp(200), lang: true},
		{msg: "compare these two", intent: IntentCompare, ords: []int{1, 2}},
		{msg: "papermate pens", intent: IntentSearch, query: "pen", brands: []string{"Paper Mate"}},
		{msg: "sharpies", intent: IntentSearch, brands: []string{"Sharpie"}},
		{msg: "post-its", intent: IntentSearch, brands: []string{"Post-It"}},
		{msg: "TI scientific calculator", intent: IntentSearch, query: "scientific calculator", brands: []string{"Texas Instruments"}},
		{msg: "hmm, any from bostitch instead?", intent: IntentSearch, brands: []string{"BOSTITCH"}},
		{msg: "do you sell paper shredders?", intent: IntentSearch, query: "paper shredder"},
		{msg: "white board markers", intent: IntentSearch, query: "dry erase marker"},
	} {
		p := v.Parse(c.msg)
		if p.Intent != c.intent || p.Query != c.query || !slices.Equal(p.Brands, c.brands) || !slices.Equal(p.ExcludeBrands, c.excl) ||
			!eqp(p.MinPrice, c.min) || !eqp(p.MaxPrice, c.max) || p.Sort != c.sort || p.Attributes["color"] != c.color ||
			!slices.Equal(p.Ordinals, c.ords) || p.Cheaper != c.cheaper || (p.Lang == "zh") != c.lang {
			t.Errorf("%q: got intent=%s query=%q brands=%v excl=%v min=%v max=%v sort=%q attrs=%v ords=%v cheaper=%v lang=%s",
				c.msg, p.Intent, p.Query, p.Brands, p.ExcludeBrands, deref(p.MinPrice), deref(p.MaxPrice), p.Sort, p.Attributes, p.Ordinals, p.Cheaper, p.Lang)
		}
	}
}

// A category named with other words is only a hint; "not black" refuses
// the colour.
func TestParseHintsAndExclusions(t *testing.T) {
	v := demoVocab(t)
	if p := v.Parse("need ink for my HP printer"); p.Query != "ink printer" || len(p.Categories) != 0 || !slices.Equal(p.Brands, []string{"HP"}) {
		t.Errorf("ink for my HP printer: %+v", p)
	}
	if p := v.Parse("laser printers"); p.Query != "laser printer" || len(p.Categories) == 0 {
		t.Errorf("laser printers: %+v", p)
	}
	if p := v.Parse("sharpie markers not black"); p.Query != "marker" || p.ExcludeAttributes["color"] != "black" || len(p.Attributes) != 0 {
		t.Errorf("not black: %+v", p)
	}
}

func eqp(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

func TestParseNumber(t *testing.T) {
	for s, want := range map[string]float64{"50": 50, "1,299.99": 1299.99, "2k": 2000, "五百": 500, "一千二百": 1200, "两万": 20000, "十五": 15, "三": 3} {
		if got, ok := parseNumber(s); !ok || got != want {
			t.Errorf("parseNumber(%q) = %v %v, want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "abc", "-5", "1e99"} {
		if _, ok := parseNumber(s); ok {
			t.Errorf("parseNumber(%q) accepted", s)
		}
	}
}

// FuzzParse: any message parses without panicking, into prices that are
// numbers ≥ 0 with min ≤ max, positions in range and valid UTF-8 words.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"stapler under $50", "between 20 and 30", "500元以下的打印机，不要三星", "第十个", "compare #99", "", "$$$", "一千万元以上", "only only not not", "\xff\xfe",
		"under twenty-five quid", "a hundred and fifty thousand dollars", "£€$5-ish", "fine, any colour then", "预算三百", "staplr calulator lable"} {
		f.Add(s)
	}
	v := demoVocab(f)
	f.Fuzz(func(t *testing.T, msg string) {
		p := v.Parse(msg)
		if p.MinPrice != nil && (*p.MinPrice < 0 || *p.MinPrice != *p.MinPrice) || p.MaxPrice != nil && *p.MaxPrice < 0 {
			t.Fatalf("%q: bad price %v %v", msg, deref(p.MinPrice), deref(p.MaxPrice))
		}
		for _, o := range p.Ordinals {
			if o != -1 && (o < 1 || o > 99) {
				t.Fatalf("%q: ordinal %d", msg, o)
			}
		}
		if utf8.ValidString(msg) && !utf8.ValidString(p.Query) {
			t.Fatalf("%q: query %q is not UTF-8", msg, p.Query)
		}
		switch p.Intent {
		case IntentSearch, IntentRecommend, IntentSimilar, IntentTogether, IntentCompare, IntentDetail, IntentCart, IntentHelp:
		default:
			t.Fatalf("%q: intent %q", msg, p.Intent)
		}
	})
}

// "any colour", "any brand", "whatever price" lift what was set before.
func TestParseAnyOf(t *testing.T) {
	v := demoVocab(t)
	for _, c := range []struct {
		msg                 string
		attrs, brand, price bool
	}{
		{"fine, any colour then", true, false, false},
		{"any brand is ok", false, true, false},
		{"I don't care about the price", false, false, true},
		{"颜色无所谓", true, false, false},
		{"any good shredders?", false, false, false},
	} {
		p := v.Parse(c.msg)
		if p.AnyAttributes != c.attrs || p.AnyBrand != c.brand || p.AnyPrice != c.price || (p.Query != "" && c.msg != "any good shredders?") {
			t.Errorf("%q: any colour %v brand %v price %v, query %q", c.msg, p.AnyAttributes, p.AnyBrand, p.AnyPrice, p.Query)
		}
	}
}

// Words no product uses are reported, after spelling is corrected.
func TestParseUnknownWords(t *testing.T) {
	v := demoVocab(t)
	for _, c := range []struct {
		msg     string
		unknown []string
	}{
		{"a coffee machine", []string{"coffee"}},
		{"need a new staplr", nil},
		{"laser printer", nil},
	} {
		if p := v.Parse(c.msg); !slices.Equal(p.Unknown, c.unknown) {
			t.Errorf("%q: unknown %v, want %v", c.msg, p.Unknown, c.unknown)
		}
	}
}
