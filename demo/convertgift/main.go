// Command convertgift turns the UCI Online Retail data set (a UK online gift
// retailer's transactions, December 2010 to December 2011; CC BY 4.0) into
// Aisle's import files for the demo's second shop, the gift shop committed
// under demo/data/gift:
//
//	go run ./demo/convertgift -src $AISLE_SHARED_DATA/online-retail-uci/online-retail-by-day.tar.gz -out demo/data/gift
//
// Items are the stock codes that are products (five digits and an
// optional letter; postage, fees and vouchers are left out) with their
// description in title case, their most frequent price in GBP and a
// category derived from title words (the source has none; see the rules
// in categoryOf). Users are the customers with their country. Events are
// purchases (one per invoice line, value = quantity, session = invoice) of
// a deterministic sample of customers, chosen so that the files stay
// small; cancellations are left out (the default event types have no
// "return"). The run is deterministic: running it again reproduces the
// files byte for byte.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

func main() {
	src := flag.String("src", "", "online-retail-by-day.tar.gz of the shared data folder")
	out := flag.String("out", "demo/data/gift", "output folder")
	keep := flag.Int("keep", 4, "keep customers whose id hashes to 0..keep-1 of 16 (the sample)")
	flag.Parse()
	if *src == "" {
		fmt.Fprintln(os.Stderr, "convertgift: -src is required")
		flag.Usage()
		os.Exit(2)
	}
	f, err := os.Open(*src)
	if err != nil {
		fmt.Fprintln(os.Stderr, "convertgift:", err)
		os.Exit(1)
	}
	defer f.Close()
	c, err := convert(f, *keep)
	if err == nil {
		err = c.write(*out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "convertgift:", err)
		os.Exit(1)
	}
	fmt.Printf("%d items, %d users, %d purchase events written to %s\n", len(c.items), len(c.users), len(c.events), *out)
}

// productCode matches the stock codes of products.
var productCode = regexp.MustCompile(`^[0-9]{5}[A-Za-z]{0,2}$`)

type converted struct {
	items  []catalog.Item
	users  []catalog.User
	events []events.Event
}

type line struct {
	invoice, code, desc, customer, country string
	qty                                    int
	price                                  float64
	at                                     time.Time
}

// convert reads the per-day CSV files of the tar.gz.
func convert(r io.Reader, keep int) (*converted, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	var lines []line
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		if !strings.HasSuffix(h.Name, ".csv") {
			continue
		}
		recs, err := csv.NewReader(tr).ReadAll()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name, err)
		}
		for _, rec := range recs[1:] {
			q, err1 := strconv.Atoi(rec[3])
			p, err2 := strconv.ParseFloat(rec[5], 64)
			at, err3 := time.Parse("2006-01-02 15:04:05", rec[4])
			if err1 != nil || err2 != nil || err3 != nil {
				return nil, fmt.Errorf("%s: bad row %v", h.Name, rec)
			}
			cust := strings.TrimSuffix(rec[6], ".0")
			lines = append(lines, line{rec[0], strings.ToUpper(rec[1]), strings.TrimSpace(rec[2]), cust, rec[7], q, p, at.UTC()})
		}
	}
	sort.SliceStable(lines, func(i, j int) bool {
		if !lines[i].at.Equal(lines[j].at) {
			return lines[i].at.Before(lines[j].at)
		}
		if lines[i].invoice != lines[j].invoice {
			return lines[i].invoice < lines[j].invoice
		}
		return lines[i].code < lines[j].code
	})
	type itemAgg struct {
		desc   map[string]int
		prices map[float64]int
		first  time.Time
	}
	aggs := map[string]*itemAgg{}
	country := map[string]string{}
	firstSeen := map[string]time.Time{}
	type key struct{ cust, invoice, code string }
	qty := map[key]int{}
	var order []key
	at := map[key]time.Time{}
	for _, l := range lines {
		if !productCode.MatchString(l.code) || l.qty <= 0 || strings.HasPrefix(l.invoice, "C") || l.price <= 0 {
			continue
		}
		a := aggs[l.code]
		if a == nil {
			a = &itemAgg{desc: map[string]int{}, prices: map[float64]int{}, first: l.at}
			aggs[l.code] = a
		}
		if l.desc != "" {
			a.desc[l.desc]++
		}
		a.prices[l.price]++
		if l.customer == "" || !sampled(l.customer, keep) {
			continue
		}
		if _, ok := country[l.customer]; !ok {
			country[l.customer], firstSeen[l.customer] = l.country, l.at
		}
		k := key{l.customer, l.invoice, l.code}
		if _, ok := qty[k]; !ok {
			order = append(order, k)
			at[k] = l.at
		}
		qty[k] += l.qty
	}
	c := &converted{}
	codes := make([]string, 0, len(aggs))
	for code, a := range aggs {
		if len(a.desc) > 0 {
			codes = append(codes, code)
		}
	}
	sort.Strings(codes)
	for _, code := range codes {
		a := aggs[code]
		desc, price := mostFrequent(a.desc), mostFrequentPrice(a.prices)
		c.items = append(c.items, catalog.Item{ID: code, Title: titleCase(desc), Categories: []string{categoryOf(desc)},
			Price: &price, Available: true, CreatedAt: a.first, Attributes: map[string]any{"currency": "GBP"}})
	}
	custs := make([]string, 0, len(country))
	for cu := range country {
		custs = append(custs, cu)
	}
	sort.Strings(custs)
	for _, cu := range custs {
		c.users = append(c.users, catalog.User{ID: "c" + cu, CreatedAt: firstSeen[cu], Attributes: map[string]any{"country": country[cu]}})
	}
	for _, k := range order {
		v := float64(qty[k])
		c.events = append(c.events, events.Event{UserID: "c" + k.cust, ItemID: k.code, Type: events.Purchase, Value: &v, SessionID: k.invoice, Timestamp: at[k]})
	}
	return c, nil
}

func sampled(customer string, keep int) bool {
	h := fnv.New32a()
	h.Write([]byte(customer))
	return int(h.Sum32()%16) < keep
}

func mostFrequent(m map[string]int) string {
	best, n := "", -1
	for s, c := range m {
		if c > n || (c == n && s < best) {
			best, n = s, c
		}
	}
	return best
}

func mostFrequentPrice(m map[float64]int) float64 {
	best, n := 0.0, -1
	for p, c := range m {
		if c > n || (c == n && p < best) {
			best, n = p, c
		}
	}
	return best
}

// titleCase writes an upper-case description as a title: "WHITE
// HANGING HEART T-LIGHT HOLDER" → "White Hanging Heart T-Light Holder".
func titleCase(s string) string {
	b := []byte(strings.ToLower(strings.Join(strings.Fields(s), " ")))
	up := true
	for i, ch := range b {
		if up && ch >= 'a' && ch <= 'z' {
			b[i] = ch - 'a' + 'A'
		}
		up = ch == ' ' || ch == '-' || ch == '/' || ch == '(' || ch == '"'
	}
	return string(b)
}

// categoryRules give a product a category from the words of its
// description, first match wins.
var categoryRules = []struct {
	category string
	words    []string
}{
	{"Seasonal/Christmas", []string{"CHRISTMAS", "XMAS", "ADVENT", "SANTA", "REINDEER", "SNOWFLAKE"}},
	{"Seasonal/Easter", []string{"EASTER", "BUNNY", "EGG"}},
	{"Home/Candles & Lights", []string{"CANDLE", "T-LIGHT", "TEALIGHT", "LANTERN", "LIGHT", "LIGHTS", "LAMP", "NIGHTLIGHT"}},
	{"Kitchen & Dining/Cups & Mugs", []string{"MUG", "MUGS", "CUP", "CUPS", "TEACUP", "SAUCER", "TEAPOT"}},
	{"Kitchen & Dining/Baking", []string{"CAKE", "BAKING", "CAKESTAND", "CUPCAKE", "MOULD", "CUTTER", "CUTTERS"}},
	{"Kitchen & Dining/Tableware", []string{"PLATE", "PLATES", "BOWL", "BOWLS", "JUG", "SPOON", "SPOONS", "CUTLERY", "NAPKIN", "NAPKINS", "TRAY", "COASTER", "COASTERS", "PLACEMAT"}},
	{"Kitchen & Dining/Storage", []string{"LUNCH", "TIN", "TINS", "JAR", "JARS", "BOTTLE", "CANISTER", "APRON", "KITCHEN", "TEA", "TOWEL"}},
	{"Bags & Purses", []string{"BAG", "BAGS", "PURSE", "WALLET", "SHOPPER", "HANDBAG", "RUCKSACK"}},
	{"Stationery & Gift Wrap", []string{"CARD", "CARDS", "WRAP", "PAPER", "NOTEBOOK", "PENCIL", "PENCILS", "PEN", "PENS", "STICKER", "STICKERS", "ENVELOPE", "ENVELOPES", "BOOK", "DIARY", "CALENDAR", "TAPE", "RIBBON", "RIBBONS", "TISSUE", "TISSUES", "GIFT"}},
	{"Jewellery & Accessories", []string{"NECKLACE", "BRACELET", "EARRINGS", "RING", "HAIR", "JEWEL", "BROOCH", "UMBRELLA", "GLOVES", "SCARF", "KEYRING"}},
	{"Toys & Party", []string{"TOY", "TOYS", "GAME", "DOLL", "PLAYHOUSE", "JIGSAW", "SPACEBOY", "CHILDREN", "CHILDS", "KIDS", "BABY", "TEDDY", "SKITTLES", "PARTY", "BALLOON", "BALLOONS", "BUNTING", "DOLLY", "CRAYONS", "PAINT"}},
	{"Garden", []string{"GARDEN", "PLANT", "PLANTER", "FLOWER", "WATERING", "BIRD", "BIRDHOUSE", "POT", "POTS"}},
	{"Home/Decor", []string{"CLOCK", "FRAME", "MIRROR", "SIGN", "CUSHION", "DOORMAT", "HOOK", "HOOKS", "HANGER", "HANGING", "WALL", "DOOR", "STORAGE", "BOX", "BOXES", "DRAWER", "SHELF", "VASE", "ORNAMENT", "DECORATION", "HEART", "CABINET", "BASKET", "THROW", "QUILT", "BLANKET"}},
}

func categoryOf(desc string) string {
	words := strings.FieldsFunc(strings.ToUpper(desc), func(r rune) bool { return r == ' ' || r == ',' || r == '.' || r == '/' })
	for _, rule := range categoryRules {
		for _, w := range words {
			for _, want := range rule.words {
				if w == want {
					return rule.category
				}
			}
		}
	}
	return "Gifts & Other"
}

// write writes the three files, gzip-compressed JSON Lines.
func (c *converted) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		n    int
		row  func(int) any
	}{
		{"items.jsonl.gz", len(c.items), func(i int) any { return c.items[i] }},
		{"users.jsonl.gz", len(c.users), func(i int) any { return c.users[i] }},
		{"events.jsonl.gz", len(c.events), func(i int) any { return c.events[i] }},
	} {
		var raw bytes.Buffer
		enc := json.NewEncoder(&raw)
		enc.SetEscapeHTML(false)
		for i := range f.n {
			if err := enc.Encode(f.row(i)); err != nil {
				return err
			}
		}
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		zw.Write(raw.Bytes())
		if err := zw.Close(); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), gz.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
