// Command convert turns the Amazon Office Products 5-core data set (ReChorus
// format, as kept in the shared data folder) into Aisle's import files: the
// demo catalogue committed under demo/data.
//
//	go run ./demo/convert -src /path/to/amazon-office-5core -out demo/data
//
// The source gives each product as one text "title leaf-category brand" plus
// integer category and brand codes. The brand and leaf-category strings are
// recovered from the codes (see inferBrands and leafVocabulary); the run is
// deterministic, so running it again reproduces the committed files byte for
// byte. With -report it prints every item's split and summary counts so the
// heuristics can be checked by eye.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

func main() {
	src := flag.String("src", "", "folder holding the amazon-office-5core files (Office.text, item_meta.csv, …)")
	out := flag.String("out", "demo/data", "output folder")
	report := flag.Bool("report", false, "print every item's title | category | brand split and summary counts")
	gzipOver := flag.Int("gzip-over", 1<<20, "gzip an output file when it is larger than this many bytes")
	flag.Parse()
	if *src == "" {
		fmt.Fprintln(os.Stderr, "convert: -src is required")
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*src, *out, *report, *gzipOver, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "convert:", err)
		os.Exit(1)
	}
}

// product is one source item with the parts recovered from its text.
type product struct {
	num    int // numeric item id of the source (1-based)
	asin   string
	words  []string // text split at white space
	cat    int      // category code (0..39)
	brand  int      // brand code (0 = unknown)
	title  string
	leaf   string
	brandS string
	// how says how the split was found, for the report.
	how string
}

type interaction struct {
	user, item int
	t          int64
	order      int // position in train, dev, test: breaks ties in time
}

func run(src, out string, report bool, gzipOver int, stdout io.Writer) error {
	prods, err := readProducts(src)
	if err != nil {
		return err
	}
	var inter []interaction
	for _, f := range []string{"train.csv", "dev.csv", "test.csv"} {
		inter, err = readInteractions(filepath.Join(src, f), inter)
		if err != nil {
			return err
		}
	}
	split(prods)
	if report {
		printReport(stdout, prods)
	}
	items, users, evs, err := build(prods, inter)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("create %q: %w", out, err)
	}
	for _, f := range []struct {
		name string
		rows int
		data []byte
	}{
		{"items.jsonl", len(items), jsonl(items)},
		{"users.jsonl", len(users), jsonl(users)},
		{"events.jsonl", len(evs), jsonl(evs)},
	} {
		name, data := f.name, f.data
		if len(data) > gzipOver {
			name += ".gz"
			data = gz(data)
		}
		// Remove the other variant so only one copy of each file exists.
		if err := os.Remove(filepath.Join(out, otherName(name))); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("remove stale file: %w", err)
		}
		p := filepath.Join(out, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("write %q: %w", p, err)
		}
		fmt.Fprintf(stdout, "wrote %s: %d rows, %d bytes\n", p, f.rows, len(data))
	}
	return nil
}

func otherName(name string) string {
	if strings.HasSuffix(name, ".gz") {
		return strings.TrimSuffix(name, ".gz")
	}
	return name + ".gz"
}

func jsonl[T any](rows []T) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for i := range rows {
		if err := enc.Encode(&rows[i]); err != nil {
			panic(err) // the types are plain structs: encoding cannot fail
		}
	}
	return b.Bytes()
}

// gz compresses deterministically (no name, no modification time).
func gz(data []byte) []byte {
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// lines reads a tab-separated file, skipping the header row when header is set.
func lines(path string, header bool, fn func(lineNo int, f []string) error) error {
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %q: %w", path, err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	n := 0
	for sc.Scan() {
		n++
		if header && n == 1 {
			continue
		}
		if sc.Text() == "" {
			continue
		}
		if err := fn(n, strings.Split(sc.Text(), "\t")); err != nil {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %q: %w", path, err)
	}
	return nil
}

func atoi(s string) (int, error) {
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("not an integer: %q", s)
	}
	return v, nil
}

func readProducts(src string) ([]*product, error) {
	byASIN := map[string]*product{}
	byNum := map[int]*product{}
	err := lines(filepath.Join(src, "Office.item2index"), false, func(_ int, f []string) error {
		if len(f) != 2 {
			return fmt.Errorf("want 2 fields, got %d", len(f))
		}
		n, err := atoi(f[1])
		if err != nil {
			return err
		}
		p := &product{num: n, asin: f[0]}
		byASIN[f[0]], byNum[n] = p, p
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = lines(filepath.Join(src, "Office.text"), true, func(_ int, f []string) error {
		if len(f) != 2 {
			return fmt.Errorf("want 2 fields, got %d", len(f))
		}
		p := byASIN[f[0]]
		if p == nil {
			return fmt.Errorf("ASIN %q not in Office.item2index", f[0])
		}
		p.words = strings.Fields(f[1])
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = lines(filepath.Join(src, "item_meta.csv"), true, func(_ int, f []string) error {
		if len(f) < 3 {
			return fmt.Errorf("want at least 3 fields, got %d", len(f))
		}
		n, err := atoi(f[0])
		if err != nil {
			return err
		}
		p := byNum[n]
		if p == nil {
			return fmt.Errorf("item %d not in Office.item2index", n)
		}
		if p.cat, err = atoi(f[1]); err != nil {
			return err
		}
		p.brand, err = atoi(f[2])
		return err
	})
	if err != nil {
		return nil, err
	}
	prods := make([]*product, 0, len(byNum))
	for _, p := range byNum {
		if p.words == nil {
			return nil, fmt.Errorf("item %s has no text in Office.text", p.asin)
		}
		prods = append(prods, p)
	}
	sort.Slice(prods, func(i, j int) bool { return prods[i].num < prods[j].num })
	return prods, nil
}

func readInteractions(path string, inter []interaction) ([]interaction, error) {
	err := lines(path, true, func(_ int, f []string) error {
		if len(f) < 3 {
			return fmt.Errorf("want at least 3 fields, got %d", len(f))
		}
		u, err := atoi(f[0])
		if err != nil {
			return err
		}
		i, err := atoi(f[1])
		if err != nil {
			return err
		}
		t, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return fmt.Errorf("time %q: %w", f[2], err)
		}
		inter = append(inter, interaction{user: u, item: i, t: t, order: len(inter)})
		return nil
	})
	return inter, err
}

// ---- recovering brand and leaf category from the text ----

func join(w []string) string { return strings.Join(w, " ") }

func hasSuffixWords(w, suf []string) bool {
	if len(suf) > len(w) {
		return false
	}
	for i := range suf {
		if w[len(w)-len(suf)+i] != suf[i] {
			return false
		}
	}
	return true
}

// commonSuffix is the longest word sequence every text ends with.
func commonSuffix(texts [][]string) []string {
	k := 0
	for {
		var w string
		for i, t := range texts {
			if len(t) <= k {
				return texts[0][len(texts[0])-k:]
			}
			if i == 0 {
				w = t[len(t)-1-k]
			} else if t[len(t)-1-k] != w {
				return texts[0][len(texts[0])-k:]
			}
		}
		k++
	}
}

// startsWithFold reports whether text begins with the words of prefix,
// ignoring case (the title often opens with the brand: "Fellowes … Fellowes").
func startsWithFold(text, prefix []string) bool {
	if len(prefix) == 0 || len(prefix) >= len(text) {
		return false
	}
	for i := range prefix {
		if !strings.EqualFold(text[i], prefix[i]) {
			return false
		}
	}
	return true
}

// rest0 is the word at index i of words (the "The" of "The Board Dudes",
// kept as spelled).
func rest0(words []string, i int) string { return words[i] }

// brandSpan is the word-suffix the brand of items ps lies in: the suffix all
// their texts share, or the last maxBrandWords words of a single item, never
// the whole of a text (the category needs a word). Empty when the brand
// string is empty.
func brandSpan(ps []*product) []string {
	texts := make([][]string, len(ps))
	shortest := len(ps[0].words)
	for i, p := range ps {
		texts[i] = p.words
		shortest = min(shortest, len(p.words))
	}
	var cs []string
	if len(ps) > 1 {
		cs = commonSuffix(texts)
	} else {
		cs = ps[0].words[max(0, len(ps[0].words)-maxBrandWords):]
	}
	if len(cs) >= shortest {
		cs = cs[len(cs)-(shortest-1):]
	}
	return cs
}

// maxBrandWords bounds the length of a brand string guessed without a shared
// suffix ("Teacher Created Resources", "U. S. Stamp & Sign").
const maxBrandWords = 5

// split recovers title, leaf category and brand for every product.
//
// Each text is "title leaf brand" (brand absent for brand code 0). Steps:
//  1. Brand codes with several items: the brand is a word-suffix of the
//     suffix all their texts share. That shared suffix also swallows the
//     leaf when every item of the brand has the same leaf ("Mouse Pads
//     Belkin"), so the brand is the longest part of it that some item's
//     title also starts with. Codes without that evidence wait for step 3.
//  2. Leaf vocabulary: from the items whose brand is known, the leaf is the
//     longest word-suffix of "title leaf" shared by items of at least two
//     different brands (a title ending shared only inside one brand, e.g.
//     "1 Handset Corded Telephones", is not a category).
//  3. Remaining brands (single-item codes and codes from step 1 without
//     evidence): the split whose rest ends with the leaf most used in the
//     item's category code, preferring the shorter brand.
//  4. Every item's leaf is then the longest vocabulary leaf its "title leaf"
//     part ends with; the title is what precedes it.
func split(prods []*product) {
	byBrand := map[int][]*product{}
	for _, p := range prods {
		byBrand[p.brand] = append(byBrand[p.brand], p)
	}
	brandWords := map[int][]string{} // resolved brands
	brandHow := map[int]string{}
	var pending []int
	codes := make([]int, 0, len(byBrand))
	for b := range byBrand {
		codes = append(codes, b)
	}
	sort.Ints(codes)
	for _, b := range codes {
		ps := byBrand[b]
		if b == 0 {
			brandWords[b], brandHow[b] = nil, "no brand code"
			continue
		}
		cs := brandSpan(ps)
		if len(cs) == 0 { // the source's brand string is empty
			brandWords[b], brandHow[b] = nil, "empty brand string"
			continue
		}
		found := false
		for k := len(cs); k >= 1 && !found; k-- {
			cand := cs[len(cs)-k:]
			for _, p := range ps {
				if startsWithFold(p.words, cand) {
					brandWords[b], brandHow[b], found = cand, "title starts with brand", true
					break
				}
			}
		}
		if !found {
			pending = append(pending, b)
		}
	}

	// Step 2: leaf vocabulary from items with a known brand.
	vocab := map[string]map[string]bool{} // suffix → brand identities using it
	count := map[string]int{}             // category code and suffix → items using it
	rests := map[*product][]string{}
	for b, bw := range brandWords {
		for _, p := range byBrand[b] {
			rest := p.words[:len(p.words)-len(bw)]
			if len(bw) > 0 && len(rest) > 1 && strings.EqualFold(rest[len(rest)-1], "the") {
				rest = rest[:len(rest)-1] // "… Erase Boards The Board Dudes": "The" belongs to the brand
			}
			rests[p] = rest
		}
	}
	for p, rest := range rests {
		id := identity(p, brandWords[p.brand])
		for k := 1; k <= len(rest); k++ {
			key := join(rest[len(rest)-k:])
			if vocab[key] == nil {
				vocab[key] = map[string]bool{}
			}
			vocab[key][id] = true
			count[catKey(p.cat, key)]++
		}
	}
	leaves := map[string]bool{}
	for k, v := range vocab {
		if len(v) >= 2 && leafLike(strings.Fields(k)) {
			leaves[k] = true
		}
	}
	// longestLeaf is the number of words of the leaf that rest ends with, 0
	// when none. It starts from the shortest vocabulary leaf and takes a
	// longer one only while that is used by at least a tenth as many items
	// in the same category code (so "Photo Paper" extends "Paper", but a
	// title ending such as "Cartridge" in front of "Inkjet Printer Ink" does
	// not). Both stop at a word that repeats the shorter leaf ("Photo Printer
	// Photo Printers").
	longestLeaf := func(cat int, rest []string) int {
		best := 0
		for k := 1; k <= len(rest); k++ {
			key := join(rest[len(rest)-k:])
			if !leaves[key] {
				continue
			}
			if best > 0 {
				prev := rest[len(rest)-best:]
				if 10*count[catKey(cat, key)] < count[catKey(cat, join(prev))] || repeats(rest[len(rest)-k:len(rest)-best], prev) {
					break
				}
			}
			if k < len(rest) && connectors[rest[len(rest)-k-1]] {
				continue // "… Copier and | Fax Laser Printers": cut inside a phrase
			}
			best = k
		}
		return best
	}
	// Count, per category code, how many items with a known brand use each leaf.
	catLeaf := map[int]map[string]int{}
	for p, rest := range rests {
		if k := longestLeaf(p.cat, rest); k > 0 {
			if catLeaf[p.cat] == nil {
				catLeaf[p.cat] = map[string]int{}
			}
			catLeaf[p.cat][join(rest[len(rest)-k:])]++
		}
	}

	// Step 3: brands without evidence. Score each candidate brand length by
	// how well the rest of every item of the code ends in a known leaf.
	for _, b := range pending {
		ps := byBrand[b]
		cs := brandSpan(ps)
		bestK, bestScore := 1, -1
		for k := 1; k <= len(cs); k++ {
			score := 0
			for _, p := range ps {
				rest := p.words[:len(p.words)-k]
				if n := longestLeaf(p.cat, rest); n > 0 {
					leaf := join(rest[len(rest)-n:])
					score += 1 + 10*catLeaf[p.cat][leaf]
				}
			}
			if score > bestScore { // strict: ties keep the shorter brand
				bestK, bestScore = k, score
			}
		}
		if bestScore <= 0 && len(cs) > 1 && companySuffix[strings.ToLower(cs[len(cs)-1])] {
			bestK = 2 // "Kittrich Corporation", "Franklin Electronics"
		}
		brandWords[b] = cs[len(cs)-bestK:]
		if bestScore > 0 {
			brandHow[b] = "rest ends with a known category"
		} else {
			brandHow[b] = "fallback: last word"
		}
	}

	// Step 4: final split.
	for _, p := range prods {
		bw := brandWords[p.brand]
		rest := p.words[:len(p.words)-len(bw)]
		p.brandS = join(bw)
		p.how = brandHow[p.brand]
		if len(bw) > 0 && len(rest) > 1 && strings.EqualFold(rest[len(rest)-1], "the") {
			rest = rest[:len(rest)-1]
			p.brandS = rest0(p.words, len(rest)) + " " + p.brandS
		}
		n := longestLeaf(p.cat, rest)
		if n == 0 {
			n = fallbackLeaf(rest)
			p.how += "; category: fallback"
		}
		p.leaf = join(rest[len(rest)-n:])
		p.title = join(rest[:len(rest)-n])
	}
}

// fallbackLeaf is the number of words of the category name at the end of
// rest when no shared leaf matches: the trailing run of up to three
// category-like words, longer when joined by "&" ("Paper
// Trimmers & Blades"), stopping at a word that repeats the leaf ("Personal
// Copier Copiers").
func fallbackLeaf(rest []string) int {
	n, joins := 1, 0
	for n < len(rest) {
		w := rest[len(rest)-n-1]
		leaf := rest[len(rest)-n:]
		switch {
		case w == "&" && n+2 <= len(rest) && joins < 2:
			if !leafLike(rest[len(rest)-n-2:]) {
				return n
			}
			n += 2
			joins++
		case n-2*joins < 3 && !strings.HasSuffix(w, ",") && leafLike(rest[len(rest)-n-1:]) && !repeats([]string{w}, leaf):
			n++
		default:
			return n
		}
	}
	return n
}

// connectors join the words of one phrase: a category name does not start
// right after one (but "Flatbed & Photo Scanners" may be one whole name).
var connectors = map[string]bool{
	"&": true, "and": true, "or": true, "with": true, "for": true, "of": true,
	"in": true, "to": true, "by": true, "-": true, "+": true,
}

// companySuffix holds words that end a company name rather than a category.
var companySuffix = map[string]bool{
	"corporation": true, "corp": true, "corp.": true, "inc": true, "inc.": true, "llc": true,
	"ltd": true, "ltd.": true, "co": true, "co.": true, "company": true, "electronics": true,
	"brands": true, "products": true, "industries": true, "international": true, "group": true,
	"manufacturing": true, "enterprises": true, "collections": true,
}

func catKey(cat int, s string) string { return strconv.Itoa(cat) + "\t" + s }

// leafLike reports whether words can be a category name: every word starts
// with a capital letter (or is "&"), it does not start with a colour
// (nor has one after a comma), and
// there are no digits or brackets. Titles have "12-Pack", "(Blue)", "with
// Scanner", "Black …"; Amazon's category names do not.
func leafLike(words []string) bool {
	if len(words) == 0 || words[0] == "&" {
		return false
	}
	for i, w := range words {
		if (i == 0 || strings.HasSuffix(words[i-1], ",")) && colours[strings.ToLower(w)] {
			return false
		}
		if strings.ContainsAny(w, "0123456789()[]/#®™") {
			return false
		}
		if w != "&" && (w[0] < 'A' || w[0] > 'Z') {
			return false
		}
	}
	return true
}

var colours = map[string]bool{
	"black": true, "white": true, "blue": true, "red": true, "green": true, "yellow": true,
	"gray": true, "grey": true, "silver": true, "cyan": true, "magenta": true, "pink": true,
	"purple": true, "orange": true, "brown": true, "light": true, "dark": true, "clear": true,
}

// repeats reports whether a word of head is, up to a plural "s", a word of
// leaf: "Printer" before "Laser Printers" is the end of the title. Heads
// joined by "&" may repeat ("Hanging Folders & Interior Folders").
func repeats(head, leaf []string) bool {
	for _, h := range head {
		if h == "&" {
			return false
		}
	}
	for _, h := range head {
		h = strings.TrimSuffix(strings.ToLower(h), "s")
		for _, l := range leaf {
			if h == strings.TrimSuffix(strings.ToLower(l), "s") {
				return true
			}
		}
	}
	return false
}

// identity names the maker of an item for counting how many makers share a
// title ending: the brand's first word, or the title's first word when the
// brand is unknown (titles usually start with the maker: "HP OfficeJet …").
func identity(p *product, brand []string) string {
	if len(brand) > 0 {
		return strings.ToLower(brand[0])
	}
	return strings.ToLower(p.words[0])
}

// groupNames names the 40 category codes of item_meta.csv. The source gives
// only numbers; these names were written by hand after listing the leaf
// categories of every code (go run ./demo/convert -report).
var groupNames = map[int]string{
	0: "Office Electronics", 1: "Calculators", 2: "Paper & Notebooks", 3: "Desk Accessories",
	4: "Labels & Indexes", 5: "Laminators & Presentation", 6: "Ink & Toner", 7: "Shredders & Label Makers",
	8: "Writing Instruments", 9: "Tape, Adhesives & Fasteners", 10: "Telephones", 11: "Printers",
	12: "Storage Cabinets", 13: "Scanners", 14: "Mats, Footrests & Doorstops", 15: "Presentation Boards",
	16: "Binders & Binding", 17: "Filing Products", 18: "Cutting & Measuring", 19: "Mailing & Shipping",
	20: "Cash Handling & Record Books", 21: "File Storage", 22: "Staplers & Staples", 23: "Education Supplies",
	24: "Portfolios", 25: "Carts & Stands", 26: "Chairs & Stools", 27: "Fax Machines",
	28: "Calendars & Planners", 29: "Copiers", 30: "Mouse Pads", 31: "Clocks",
	32: "Signs", 33: "Tables", 34: "Desks", 35: "Headsets",
	36: "Translators & Dictionaries", 37: "Teaching Materials", 38: "Wireless Headsets", 39: "Pens",
}

func printReport(w io.Writer, prods []*product) {
	howCount := map[string]int{}
	catLeaves := map[int]map[string]int{}
	for _, p := range prods {
		fmt.Fprintf(w, "%4d c%-2d b%-3d %s | %s | %s   [%s]\n", p.num, p.cat, p.brand, p.title, p.leaf, p.brandS, p.how)
		howCount[p.how]++
		if catLeaves[p.cat] == nil {
			catLeaves[p.cat] = map[string]int{}
		}
		catLeaves[p.cat][p.leaf]++
	}
	fmt.Fprintln(w, "\nsplit methods:")
	for k, v := range howCount {
		fmt.Fprintf(w, "  %5d %s\n", v, k)
	}
	fmt.Fprintln(w, "\nleaf categories per category code:")
	for c := 0; c < 64; c++ {
		m := catLeaves[c]
		if m == nil {
			continue
		}
		type lc struct {
			l string
			n int
		}
		var ls []lc
		for l, n := range m {
			ls = append(ls, lc{l, n})
		}
		sort.Slice(ls, func(i, j int) bool { return ls[i].n > ls[j].n || ls[i].n == ls[j].n && ls[i].l < ls[j].l })
		fmt.Fprintf(w, "  code %d (%q):", c, groupNames[c])
		for _, x := range ls {
			fmt.Fprintf(w, " %s=%d;", x.l, x.n)
		}
		fmt.Fprintln(w)
	}
}

// ---- building the import rows ----

func build(prods []*product, inter []interaction) ([]catalog.Item, []catalog.User, []events.Event, error) {
	byNum := map[int]*product{}
	for _, p := range prods {
		byNum[p.num] = p
	}
	sort.SliceStable(inter, func(i, j int) bool {
		a, b := inter[i], inter[j]
		if a.t != b.t {
			return a.t < b.t
		}
		return a.order < b.order
	})
	firstItem := map[int]int64{}
	firstUser := map[int]int64{}
	evs := make([]events.Event, 0, len(inter))
	for _, x := range inter {
		p := byNum[x.item]
		if p == nil {
			return nil, nil, nil, fmt.Errorf("interaction of user %d names unknown item %d", x.user, x.item)
		}
		if _, ok := firstItem[x.item]; !ok {
			firstItem[x.item] = x.t
		}
		if _, ok := firstUser[x.user]; !ok {
			firstUser[x.user] = x.t
		}
		evs = append(evs, events.Event{
			UserID:    userID(x.user),
			ItemID:    p.asin,
			Type:      events.Purchase,
			Timestamp: time.Unix(x.t, 0).UTC(),
		})
	}
	items := make([]catalog.Item, 0, len(prods))
	for _, p := range prods {
		t, ok := firstItem[p.num]
		if !ok {
			return nil, nil, nil, fmt.Errorf("item %s has no interaction", p.asin)
		}
		title := p.title
		if title == "" {
			title = p.leaf // the source has no title for a few items, only the category
		}
		brand := p.brandS
		if brand == "Unknown" {
			brand = ""
		}
		items = append(items, catalog.Item{
			ID:         p.asin,
			Title:      title,
			Brand:      brand,
			Categories: []string{categoryPath(p.cat, p.leaf)},
			Available:  true,
			CreatedAt:  time.Unix(t, 0).UTC(),
		})
	}
	uids := make([]int, 0, len(firstUser))
	for u := range firstUser {
		uids = append(uids, u)
	}
	sort.Ints(uids)
	users := make([]catalog.User, 0, len(uids))
	for _, u := range uids {
		users = append(users, catalog.User{ID: userID(u), CreatedAt: time.Unix(firstUser[u], 0).UTC()})
	}
	return items, users, evs, nil
}

func userID(n int) string { return "u" + strconv.Itoa(n) }

// categoryPath is "Office Products/<group>/<leaf>", or "Office Products/<group>"
// when the leaf names the group itself.
func categoryPath(code int, leaf string) string {
	leaf = strings.ReplaceAll(leaf, "/", "-")
	g, ok := groupNames[code]
	if !ok || g == "" {
		g = "Other"
	}
	if strings.EqualFold(g, leaf) {
		return "Office Products/" + g
	}
	return "Office Products/" + g + "/" + leaf
}
