package assistant

import (
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Intent is what a message asks for.
type Intent string

// The intents the built-in understanding tells apart.
const (
	IntentSearch    Intent = "search"          // products matching constraints
	IntentRecommend Intent = "recommend"       // recommendations for the shopper
	IntentSimilar   Intent = "similar"         // items like one shown
	IntentTogether  Intent = "bought_together" // items that go with one shown
	IntentCompare   Intent = "compare"         // two products shown, side by side
	IntentDetail    Intent = "detail"          // the Nth product shown
	IntentCart      Intent = "add_to_cart"     // put a product shown into the cart
	IntentHelp      Intent = "help"            // a greeting or a question about the assistant
)

// Parsed is what the built-in understanding read in one message, before
// it is merged with the conversation's earlier constraints.
type Parsed struct {
	Intent        Intent
	Query         string   // words naming products, not otherwise understood
	Categories    []string // category path prefixes named
	Brands        []string // brands asked for ("only Casio", "HP printers")
	ExcludeBrands []string // brands refused ("not Samsung")
	// ExcludeAttributes are attribute values refused ("not black").
	ExcludeAttributes map[string]string
	MinPrice          *float64
	MaxPrice          *float64
	Cheaper           bool // "cheaper ones": below what was shown
	Pricier           bool // "better ones", "more expensive"
	Attributes        map[string]string
	Sort              string // price_asc, price_desc, newest, popular
	Ordinals          []int  // 1-based positions in the last list; -1 is the last one
	Lang              string // en or zh
	// AnyAttributes, AnyBrand and AnyPrice lift what an earlier turn set
	// ("any colour then", "any brand", "whatever price").
	AnyAttributes, AnyBrand, AnyPrice bool
	// Corrected maps misspelt words to the catalogue words read instead
	// ("staplr" → "stapler").
	Corrected map[string]string
	// Unknown are words of the query that no product, brand or category
	// of the catalogue uses: the shop cannot have exactly what they name.
	Unknown []string
}

// Topic reports whether the message names products (so it starts a new
// search instead of refining the last one).
func (p *Parsed) Topic() bool { return p.Query != "" || len(p.Categories) > 0 }

// modifies reports whether the message changes any constraint.
func (p *Parsed) modifies() bool {
	return p.Topic() || len(p.Brands) > 0 || len(p.ExcludeBrands) > 0 || p.MinPrice != nil || p.MaxPrice != nil ||
		p.Cheaper || p.Pricier || len(p.Attributes) > 0 || len(p.ExcludeAttributes) > 0 || p.Sort != "" ||
		p.AnyAttributes || p.AnyBrand || p.AnyPrice
}

// zhWords turn Chinese phrases into the English words the rest of the
// parser reads: products of an office shop, colours, brands, and the
// words of the conversation itself. Longer phrases are replaced first.
var zhWords = map[string]string{
	"激光打印机": "laser printer", "喷墨打印机": "inkjet printer", "照片打印机": "photo printer", "打印机": "printer",
	"墨盒": "ink cartridge", "墨水": "ink", "碳粉": "toner", "硒鼓": "toner", "扫描仪": "scanner", "计算器": "calculator",
	"科学计算器": "scientific calculator", "订书机": "stapler", "订书钉": "staple", "标签机": "label maker", "标签打印机": "label maker",
	"标签": "label", "碎纸机": "shredder", "无绳电话": "cordless telephone", "电话": "telephone", "鼠标垫": "mouse pad",
	"护腕": "wrist rest", "笔记本": "notebook", "便利贴": "sticky note", "便签": "sticky note", "胶带": "tape", "信封": "envelope",
	"白板笔": "dry erase marker", "白板": "dry erase board", "荧光笔": "highlighter", "马克笔": "marker", "记号笔": "permanent marker",
	"自动铅笔": "mechanical pencil", "卷笔刀": "pencil sharpener", "削笔刀": "pencil sharpener", "铅笔": "pencil", "钢笔": "fountain pen",
	"圆珠笔": "ballpoint pen", "中性笔": "gel pen", "走珠笔": "rollerball pen", "笔芯": "pen refill", "笔": "pen", "文件夹": "folder",
	"活页夹": "binder", "剪刀": "scissors", "照片纸": "photo paper", "相纸": "photo paper", "打印纸": "printer paper", "纸": "paper",
	"塑封机": "laminator", "过塑机": "laminator", "显示器支架": "monitor stand", "电池": "battery", "耳机": "headset",
	"日历": "calendar", "计划本": "planner", "收纳": "organizer", "橡皮": "eraser", "尺子": "ruler", "胶水": "glue", "墨": "ink",
	"黑色": "black", "白色": "white", "红色": "red", "蓝色": "blue", "绿色": "green", "黄色": "yellow", "粉色": "pink", "粉红色": "pink",
	"紫色": "purple", "橙色": "orange", "灰色": "gray", "银色": "silver", "金色": "gold", "棕色": "brown", "透明": "clear",
	"三星": "samsung", "惠普": "hp", "佳能": "canon", "爱普生": "epson", "兄弟": "brother", "卡西欧": "casio", "松下": "panasonic",
	"柯达": "kodak", "百乐": "pilot", "派通": "pentel", "三菱": "uni ball", "施乐": "xerox", "利盟": "lexmark", "罗技": "logitech",
	"夏普": "sharp", "理光": "ricoh", "凌美": "lamy", "摩托罗拉": "motorola", "德州仪器": "texas instruments", "斑马": "zebra",
	"富士通": "fujitsu", "得力": "deli", "晨光": "m g", "派克": "parker", "威迪文": "waterman", "施德楼": "staedtler", "辉柏嘉": "faber castell",
	"不想要": " not ", "不要": " not ", "别要": " not ", "除了": " except ", "不是": " not ", "排除": " except ",
	"只要": " only ", "只看": " only ", "只想要": " only ", "只有": " only ", "仅": " only ",
	"比较": " compare ", "对比": " compare ", "区别": " compare ", "哪个好": " compare ", "哪个更好": " compare ",
	"类似": " similar ", "相似": " similar ", "差不多": " similar ", "同类": " similar ", "一样的": " similar ",
	"推荐": " recommend ", "猜我喜欢": " recommend ", "适合我": " for me ",
	"不限颜色": " any colour ", "颜色无所谓": " any colour ", "什么颜色都行": " any colour ", "不限品牌": " any brand ",
	"品牌无所谓": " any brand ", "什么牌子都行": " any brand ", "不限价格": " any price ", "价格无所谓": " any price ",
	"办公椅": "desk chair", "椅子": "chair", "传真机": "fax machine", "笔记本电脑": "laptop", "台灯": "desk lamp",
	"文件柜": "file cabinet", "收纳盒": "storage box", "回形针": "paper clip", "夹子": "clip", "计数器": "counter",
	"加入购物车": " addcart ", "加到购物车": " addcart ", "放进购物车": " addcart ", "加购物车": " addcart ",
	"详情": " show ", "详细": " show ", "介绍一下": " show ", "看看": " show ", "显示": " show ",
	"便宜一点": " cheaper ", "便宜点": " cheaper ", "更便宜": " cheaper ", "再便宜": " cheaper ", "便宜些": " cheaper ",
	"最便宜": " cheapest ", "最贵": " most expensive ", "贵一点": " pricier ", "更好的": " pricier ", "高档": " pricier ",
	"便宜": " cheap ", "最新": " newest ", "新品": " newest ", "评分最高": " best rated ", "好评": " best rated ",
	"最受欢迎": " best rated ", "热销": " best rated ", "卖得最好": " best rated ", "销量最高": " best rated ",
	"配件": " goes with ", "搭配": " goes with ", "一起买": " goes with ", "你好": " hello ", "您好": " hello ", "帮助": " help ",
}

var zhKeys = func() []string {
	ks := make([]string, 0, len(zhWords))
	for k := range zhWords {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return len(ks[i]) > len(ks[j]) || (len(ks[i]) == len(ks[j]) && ks[i] < ks[j]) })
	return ks
}()

var zhReplacer = func() *strings.Replacer {
	var pairs []string
	for _, k := range zhKeys {
		pairs = append(pairs, k, " "+zhWords[k]+" ")
	}
	return strings.NewReplacer(pairs...)
}()

const num = `(\d+(?:,\d{3})*(?:\.\d+)?k?|[零一二两三四五六七八九十百千万]+)`

type priceRule struct {
	re   *regexp.Regexp
	kind string // max, min, range, around
}

// priceRules read price limits; the first that matches a span wins it.
var priceRules = []priceRule{
	{regexp.MustCompile(`(?:between|from)\s*\$?` + num + `\s*(?:dollars?|usd|元|块)?\s*(?:and|to|-|–|&)\s*\$?` + num + `\s*(?:dollars?|usd)?`), "range"},
	{regexp.MustCompile(`\$` + num + `\s*(?:-|–|to)\s*\$?` + num), "range"},
	{regexp.MustCompile(`在?` + num + `\s*(?:元|块钱|块)?\s*(?:到|至|-|~|和|&)\s*` + num + `\s*(?:元|块钱|块)?\s*(?:之间)?`), "range"},
	{regexp.MustCompile(`(?:under|below|less than|cheaper than|max(?:imum)?|up to|at most|no more than|not more than|within|<=?)\s*\$?` + num + `(?:\s*(?:dollars?|usd|bucks))?`), "max"},
	{regexp.MustCompile(`\$?` + num + `\s*(?:dollars?|usd|bucks)?\s*(?:or less|or under|or below|and under|max)\b`), "max"},
	{regexp.MustCompile(`(?:budget(?:\s+(?:is|of))?|(?:can|could|want to|to) spend(?:\s+(?:up to|at most))?)\s*(?:about|around|roughly)?\s*\$?` + num + `(?:\s*dollars?)?`), "max"},
	{regexp.MustCompile(`预算\s*(?:是|有|为|在|大概|大约)?\s*` + num + `\s*(?:元|块钱|块)?(?:以内|之内|以下)?`), "max"},
	{regexp.MustCompile(`(?:低于|不超过|少于|不到|小于|最多|不高于)\s*` + num + `\s*(?:元|块钱|块)?`), "max"},
	{regexp.MustCompile(num + `\s*(?:元|块钱|块|美元|刀)?\s*(?:以下|以内|之内)`), "max"},
	{regexp.MustCompile(`(?:over|above|more than|at least|min(?:imum)?|>=?)\s*\$?` + num + `(?:\s*(?:dollars?|usd|bucks))?`), "min"},
	{regexp.MustCompile(`\$?` + num + `\s*(?:dollars?|usd|bucks)?\s*(?:or more|and up|and above|plus)\b`), "min"},
	{regexp.MustCompile(`(?:高于|超过|多于|大于|至少|不低于)\s*` + num + `\s*(?:元|块钱|块)?`), "min"},
	{regexp.MustCompile(num + `\s*(?:元|块钱|块|美元|刀)?\s*以上`), "min"},
	{regexp.MustCompile(`(?:around|about|roughly|approximately|~)\s*\$` + num), "around"},
	{regexp.MustCompile(`\$?` + num + `\s*(?:dollars?)?\s*(?:or so|-?ish\b|give or take)`), "around"},
	{regexp.MustCompile(`(?:around|about|roughly|approximately|~)\s*` + num + `\s*(?:dollars?|usd|bucks)`), "around"},
	{regexp.MustCompile(`(?:大约|大概|左右)?\s*` + num + `\s*(?:元|块钱|块)\s*左右`), "around"},
	{regexp.MustCompile(`\$` + num), "around"},
	{regexp.MustCompile(num + `\s*dollars?\b`), "around"}, // "a 100 dollar shredder"
}

// phraseHints hold, for each phrase rule, words one of which a message
// must contain for the rule to be tried (regular expressions are the
// slow part of parsing).
var phraseHints = func() [][]string {
	var out [][]string
	for _, h := range []string{"cheap low least price", "expens high pric", "cheap expens lower afford", "pric expens high better quality premium", "cheap budget expens afford low", "new latest recent", "rate review popular sell best", "compar vs versus difference better", "similar like alternative", "go accessor together buy complement", "cart basket addcart", "recommend for me should suggest surprise", "tell detail more about show open", "hi hello hey help what who", "not no don do except without other n't arent isnt"} {
		out = append(out, strings.Fields(h))
	}
	return out
}()

// phraseRules turn fixed phrases into flags; they run after prices.
var phraseRules = []struct {
	re  *regexp.Regexp
	set func(*Parsed)
}{
	{regexp.MustCompile(`\b(?:cheapest|lowest price|least expensive|price low to high|cheapest first|(?:sorted|sort|order(?:ed)?) by price|by price)\b`), func(p *Parsed) { p.Sort = "price_asc" }},
	{regexp.MustCompile(`\b(?:most expensive|highest price|priciest|price high to low)\b`), func(p *Parsed) { p.Sort = "price_desc" }},
	{regexp.MustCompile(`\b(?:cheaper|less expensive|lower price|more affordable)\b(?:\s*ones?)?`), func(p *Parsed) { p.Cheaper = true }},
	{regexp.MustCompile(`\b(?:pricier|more expensive|higher end|better ones?|higher quality|premium)\b`), func(p *Parsed) { p.Pricier = true }},
	{regexp.MustCompile(`\b(?:cheap|budget|inexpensive|affordable|low cost)\b`), func(p *Parsed) { p.Sort = "price_asc" }},
	{regexp.MustCompile(`\b(?:newest|latest|most recent|new arrivals?|brand new)\b`), func(p *Parsed) { p.Sort = "newest" }},
	{regexp.MustCompile(`\b(?:best rated|top rated|highest rated|best reviewed|most popular|best selling|bestsellers?|best sellers?|popular|best)\b`), func(p *Parsed) { p.Sort = "popular" }},
	{regexp.MustCompile(`\b(?:compare|comparison|versus|vs\.?|difference between|which is better)\b`), func(p *Parsed) { p.Intent = IntentCompare }},
	{regexp.MustCompile(`\b(?:similar(?: to)?|(?:more|something|items?|ones?|products?|anything) like|alternatives? (?:to|for)|like (?:this|that) one)\b`), func(p *Parsed) { p.Intent = IntentSimilar }},
	{regexp.MustCompile(`\b(?:goes with|go with|goes well with|accessor(?:y|ies) for|bought together|buy with|complement)\b`), func(p *Parsed) { p.Intent = IntentTogether }},
	{regexp.MustCompile(`\b(?:add\b[^.?!]{0,40}?\bto\s+(?:my\s+|the\s+)?(?:cart|basket)|addcart|put\b[^.?!]{0,40}?\bin\s+(?:my\s+|the\s+)?(?:cart|basket))\b`), func(p *Parsed) { p.Intent = IntentCart }},
	{regexp.MustCompile(`\b(?:recommend(?:ations?)?(?: for me)?|for me|what should i buy|suggest something|surprise me|just for me)\b`), func(p *Parsed) { p.Intent = IntentRecommend }},
	{regexp.MustCompile(`\b(?:tell me (?:more )?about|tell me more|details? (?:of|on|about)|more about|more info(?:rmation)?|show me|show|open|details?)\b`), func(p *Parsed) {
		if p.Intent == "" {
			p.Intent = IntentDetail // only when an ordinal follows; see Parse
		}
	}},
	{regexp.MustCompile(`^\s*(?:hi|hello|hey|help|what can you do|who are you)\b`), func(p *Parsed) { p.Intent = IntentHelp }},
	{regexp.MustCompile(`\b(?:don'?t|do not|dont) (?:want|like|need|show)\b|\b(?:no more|anything but|other than|excluding|except|without|not|no)\b`), func(p *Parsed) {}},
}

var ordinalWords = map[string]int{"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
	"fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8, "ninth": 9, "9th": 9, "tenth": 10, "10th": 10, "last": -1}

var (
	ordinalEN = regexp.MustCompile(`\b(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|sixth|6th|seventh|7th|eighth|8th|ninth|9th|tenth|10th|last)\b(?:\s*(?:one|item|product))?|(?:number|no\.|#|item|option)\s*(\d{1,2})\b`)
	ordinalZH = regexp.MustCompile(`第\s*([一二两三四五六七八九十\d]+)\s*(?:个|款|件|种|项)?|最后一(?:个|款|件)`)
	bothZH    = regexp.MustCompile(`前两(?:个|款|件)|这两(?:个|款|件)|两者|both|the two|these two|those two|first two|top two|them both`)
	negation  = regexp.MustCompile(`(?:don'?t|do not|dont) (?:want|like|need|show)(?: any)?|\b(?:aren'?t|isn'?t|are not|is not)(?: made by| from| by)?|no more|anything but|other than|excluding|except|without|\bnot\b|\bno\b`)
	only      = regexp.MustCompile(`\b(?:only|just|exclusively)\b`)
)

// Parse reads one message with the catalogue's vocabulary. It never
// fails: what it does not understand becomes words of a search.
func (v *Vocabulary) Parse(msg string) *Parsed {
	p := &Parsed{Lang: "en"}
	if hasHan(msg) {
		p.Lang = "zh"
	}
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	s := " " + strings.ToLower(msg) + " "
	s = strings.NewReplacer("’", "'", "，", ",", "。", ".", "？", "?", "！", "!", "：", ":", "（", "(", "）", ")", "＄", "$", "￥", "", "¥", "").Replace(s)
	s = normalizeEN(s)
	// ordinals and "both" first: "第二个" holds a number a price rule would read
	hasZH := p.Lang == "zh"
	for _, m := range ordinalZH.FindAllStringSubmatchIndex(s, -1) {
		if !hasZH {
			break
		}
		if m[2] < 0 {
			p.Ordinals = append(p.Ordinals, -1)
		} else if n, ok := parseNumber(s[m[2]:m[3]]); ok && n >= 1 && n <= 50 {
			p.Ordinals = append(p.Ordinals, int(n))
		}
	}
	if hasZH {
		s = ordinalZH.ReplaceAllString(s, " ")
	}
	if containsAny(s, []string{"两", "both", "two"}) && bothZH.MatchString(s) {
		p.Ordinals = append(p.Ordinals, 1, 2)
		s = bothZH.ReplaceAllString(s, " ")
	}
	for _, r := range priceRules {
		if !hasNumber(s) {
			break
		}
		for _, m := range r.re.FindAllStringSubmatchIndex(s, -1) {
			a, ok := parseNumber(s[m[2]:m[3]])
			if !ok {
				continue
			}
			switch r.kind {
			case "range":
				b, ok := parseNumber(s[m[4]:m[5]])
				if !ok {
					continue
				}
				lo, hi := min(a, b), max(a, b)
				p.MinPrice, p.MaxPrice = &lo, &hi
			case "max":
				p.MaxPrice = &a
			case "min":
				p.MinPrice = &a
			case "around":
				lo, hi := round2(a*0.8), round2(a*1.2)
				p.MinPrice, p.MaxPrice = &lo, &hi
			}
		}
		s = r.re.ReplaceAllString(s, " ")
	}
	s = zhReplacer.Replace(s)
	if containsAny(s, []string{"any", "all", "whatever", "every", "other", "care"}) {
		for _, m := range anyOf.FindAllStringSubmatch(s, -1) {
			switch {
			case strings.HasPrefix(m[1], "col"):
				p.AnyAttributes = true
			case strings.HasPrefix(m[1], "pric"):
				p.AnyPrice = true
			default:
				p.AnyBrand = true
			}
		}
		s = anyOf.ReplaceAllString(s, " ")
	}
	for _, m := range ordinalEN.FindAllStringSubmatch(s, -1) {
		if m[2] != "" {
			n, _ := strconv.Atoi(m[2])
			if n >= 1 {
				p.Ordinals = append(p.Ordinals, n)
			}
		} else {
			p.Ordinals = append(p.Ordinals, ordinalWords[m[1]])
		}
	}
	s = ordinalEN.ReplaceAllString(s, " ")
	for i, r := range phraseRules[:len(phraseRules)-1] {
		if !containsAny(s, phraseHints[i]) {
			continue
		}
		if r.re.MatchString(s) {
			r.set(p)
			s = r.re.ReplaceAllString(s, " ")
		}
	}
	// mark negations and "only" so that the brand after them is read so
	if containsAny(s, phraseHints[len(phraseHints)-1]) {
		s = negation.ReplaceAllString(s, " \x01 ")
	}
	if containsAny(s, []string{"only", "just", "exclusive"}) {
		s = only.ReplaceAllString(s, " \x02 ")
	}
	v.readWords(p, s)
	if p.Intent == IntentDetail && len(p.Ordinals) == 0 {
		p.Intent = "" // "show me pens" is a search
	}
	if p.Intent == "" {
		switch {
		case len(p.Ordinals) > 0 && !p.modifies():
			p.Intent = IntentDetail
		default:
			p.Intent = IntentSearch
		}
	}
	if p.Intent == IntentHelp && p.modifies() {
		p.Intent = IntentSearch // "hi, I need a stapler"
	}
	if p.Intent == IntentRecommend && p.Topic() {
		p.Intent = IntentSearch // "recommend a stapler" is a search
	}
	return p
}

// readWords matches the catalogue's phrases (longest first) and keeps the
// other words as the query.
func (v *Vocabulary) readWords(p *Parsed, s string) {
	var ws []string
	for _, f := range strings.Fields(s) {
		switch f {
		case "\x01", "\x02":
			ws = append(ws, f)
		default:
			ws = append(ws, tokens(f)...)
		}
	}
	for i, w := range ws {
		if w == "\x01" || w == "\x02" || stopwords[w] || v.words == nil || v.words.known(w) {
			continue
		}
		if _, ok := v.brandName[w]; ok {
			continue
		}
		if c := v.words.correct(w); c != "" && !stopwords[c] {
			if p.Corrected == nil {
				p.Corrected = map[string]string{}
			}
			p.Corrected[w], ws[i] = c, c
		}
	}
	var query []string
	catWords := 0 // query words that named a category
	neg := false
	for i := 0; i < len(ws); {
		w := ws[i]
		if w == "\x01" {
			neg, i = true, i+1
			continue
		}
		if w == "\x02" { // "only": the brand that follows is required, as any brand named
			i++
			continue
		}
		matched := false
		for n := min(v.longest, len(ws)-i); n >= 1 && !matched; n-- {
			if slices.Contains(ws[i:i+n], "\x01") || slices.Contains(ws[i:i+n], "\x02") {
				continue
			}
			k := phrase(ws[i : i+n])
			if name, ok := v.brandName[k]; ok {
				if neg {
					p.ExcludeBrands = appendNew(p.ExcludeBrands, name)
				} else {
					p.Brands = appendNew(p.Brands, name)
				}
				matched, i = true, i+n
			} else if paths, ok := v.categories[k]; ok && !neg {
				for _, c := range paths {
					p.Categories = appendNew(p.Categories, c)
				}
				query = append(query, ws[i:i+n]...)
				catWords += n
				matched, i = true, i+n
			} else if a, ok := v.attrs[k]; ok {
				m := &p.Attributes
				if neg {
					m = &p.ExcludeAttributes
				}
				if *m == nil {
					*m = map[string]string{}
				}
				(*m)[a.key] = a.value
				matched, i = true, i+n
			}
		}
		if matched {
			neg = false
			continue
		}
		if !stopwords[w] && !(isHanWord(w) && !v.han) && !isNumber(w) {
			query = append(query, w)
			if v.words != nil && !v.words.known(w) {
				p.Unknown = appendNew(p.Unknown, w)
			}
			neg = false
		}
		i++
	}
	p.Query = strings.Join(query, " ")
	if catWords < len(query) {
		// a category named with other words ("ink for my printer",
		// "wireless printers") is only a hint: the words decide
		p.Categories = nil
	}
}

func isHanWord(w string) bool { return hasHan(w) }

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// hasNumber reports whether s holds a digit or a Chinese numeral.
func hasNumber(s string) bool {
	return strings.ContainsAny(s, "0123456789零一二两三四五六七八九十百千万")
}

func isNumber(w string) bool {
	_, err := strconv.ParseFloat(w, 64)
	return err == nil
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

func round2(x float64) float64 {
	return float64(int64(x*100+0.5)) / 100
}

var zhDigits = map[rune]int{'零': 0, '一': 1, '二': 2, '两': 2, '三': 3, '四': 4, '五': 5, '六': 6, '七': 7, '八': 8, '九': 9}

// parseNumber reads "50", "1,299.99", "2k" or Chinese numerals ("五百", "一千二").
func parseNumber(s string) (float64, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", "")
	if s == "" {
		return 0, false
	}
	mult := 1.0
	if strings.HasSuffix(s, "k") {
		s, mult = s[:len(s)-1], 1000
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 || f > 1e9 {
			return 0, false
		}
		return f * mult, true
	}
	total, section, digit := 0, 0, -1
	for _, r := range s {
		if d, ok := zhDigits[r]; ok {
			digit = d
			continue
		}
		unit := 0
		switch r {
		case '十':
			unit = 10
		case '百':
			unit = 100
		case '千':
			unit = 1000
		case '万':
			section = (section + max(digit, 0)) * 10000
			total += section
			section, digit = 0, -1
			continue
		default:
			return 0, false
		}
		if digit < 0 {
			digit = 1
		}
		section += digit * unit
		digit = -1
	}
	if digit > 0 {
		section += digit
	}
	total += section
	if total <= 0 {
		return 0, false
	}
	return float64(total), true
}
