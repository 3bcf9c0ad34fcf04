// Package searcheval measures product search quality offline: it reads
// judged query sets (ESCI as published by OpenSearch's search-relevance
// project, and a generic catalogue + qrels format), runs every query
// against a search index over the whole catalogue and reports nDCG@10,
// Recall@10 and latency.
package searcheval

import (
	"archive/zip"
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/catalog"
)

// Query is one judged query.
type Query struct {
	Text string
	// Gains maps judged item ids to their gain (>= 0); unjudged items gain 0.
	Gains map[string]float64
	// Split is "train", "test" or "" (no split).
	Split string
}

// Dataset is a catalogue with judged queries.
type Dataset struct {
	Format  string
	Items   []catalog.Item
	Queries []Query
}

// ESCI file names inside the data set directory.
const (
	ESCICatalog   = "esci_us_ecommerce_shrunk.ndjson.zip"
	ESCIJudgments = "esci_us_judgments.json"
	ESCIQuerySet  = "esci_us_queryset.json"
)

// LoadESCI reads the ESCI data set in the OpenSearch search-relevance layout
// (a zipped _bulk ndjson catalogue, a judgments file and a query set) from
// dir. Gains are rating/100 (Exact 1, Substitute 0.1, Complement 0.01,
// Irrelevant 0). Every third query of the query set (positions 0, 3, 6, …)
// is test, the rest train.
func LoadESCI(dir string) (*Dataset, error) {
	items, err := readESCICatalog(filepath.Join(dir, ESCICatalog))
	if err != nil {
		return nil, err
	}
	jf, err := os.Open(filepath.Join(dir, ESCIJudgments))
	if err != nil {
		return nil, fmt.Errorf("load ESCI judgments: %w", err)
	}
	defer jf.Close()
	judg, err := ParseESCIJudgments(jf)
	if err != nil {
		return nil, fmt.Errorf("load ESCI judgments %q: %w", jf.Name(), err)
	}
	qf, err := os.Open(filepath.Join(dir, ESCIQuerySet))
	if err != nil {
		return nil, fmt.Errorf("load ESCI query set: %w", err)
	}
	defer qf.Close()
	texts, err := ParseESCIQuerySet(qf)
	if err != nil {
		return nil, fmt.Errorf("load ESCI query set %q: %w", qf.Name(), err)
	}
	ds := &Dataset{Format: "esci", Items: items}
	for i, t := range texts {
		g, ok := judg[t]
		if !ok {
			return nil, fmt.Errorf("load ESCI: query %q of the query set has no judgments", t)
		}
		split := "train"
		if i%3 == 0 {
			split = "test"
		}
		ds.Queries = append(ds.Queries, Query{Text: t, Gains: g, Split: split})
	}
	return ds, nil
}

func readESCICatalog(path string) ([]catalog.Item, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("load ESCI catalogue: %w", err)
	}
	defer zr.Close()
	var items []catalog.Item
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".ndjson") && !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("load ESCI catalogue %s: %w", f.Name, err)
		}
		its, err := ParseESCIBulk(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("load ESCI catalogue %s: %w", f.Name, err)
		}
		items = append(items, its...)
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("load ESCI catalogue %q: no products", path)
	}
	return items, nil
}

// esciProduct is the product record of the ESCI bulk file. Fields not
// listed (query_id, which names the queries a product was shown for, and
// ratings) are ignored: ranking must not see them.
type esciProduct struct {
	ASIN         string   `json:"asin"`
	Title        string   `json:"title"`
	Description  string   `json:"description"`
	BulletPoints string   `json:"bullet_points"`
	Brand        string   `json:"brand"`
	Color        string   `json:"color"`
	Image        string   `json:"image"`
	Price        *float64 `json:"price"`
	Category     []string `json:"category"`
}

// ParseESCIBulk reads an OpenSearch _bulk ndjson stream of ESCI products:
// action lines ({"index":{"_id":…}}) each followed by a product line.
func ParseESCIBulk(r io.Reader) ([]catalog.Item, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var items []catalog.Item
	line := 0
	pendingID := ""
	expectDoc := false
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		if !expectDoc {
			var act map[string]struct {
				ID string `json:"_id"`
			}
			if err := json.Unmarshal(b, &act); err != nil {
				return nil, fmt.Errorf("line %d: bulk action: %w", line, err)
			}
			a, ok := act["index"]
			if !ok {
				a, ok = act["create"]
			}
			if !ok {
				return nil, fmt.Errorf("line %d: want an index or create action", line)
			}
			pendingID, expectDoc = a.ID, true
			continue
		}
		expectDoc = false
		var p esciProduct
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("line %d: product: %w", line, err)
		}
		id := p.ASIN
		if id == "" {
			id = pendingID
		}
		if id == "" {
			return nil, fmt.Errorf("line %d: product without asin or _id", line)
		}
		items = append(items, esciItem(id, &p))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line, err)
	}
	if expectDoc {
		return nil, fmt.Errorf("line %d: bulk action without a product line", line)
	}
	return items, nil
}

func esciItem(id string, p *esciProduct) catalog.Item {
	it := catalog.Item{ID: id, Title: p.Title, Brand: p.Brand, ImageURL: p.Image, Available: true}
	desc := strings.TrimSpace(p.BulletPoints)
	if d := strings.TrimSpace(p.Description); d != "" {
		if desc != "" {
			desc += "\n"
		}
		desc += d
	}
	it.Description = desc
	if p.Color != "" {
		it.Attributes = map[string]any{"color": p.Color}
	}
	if p.Price != nil && !math.IsNaN(*p.Price) && !math.IsInf(*p.Price, 0) {
		v := *p.Price
		it.Price = &v
	}
	if len(p.Category) > 0 {
		segs := make([]string, 0, len(p.Category))
		for _, c := range p.Category {
			if c = strings.TrimSpace(strings.ReplaceAll(c, "/", "-")); c != "" {
				segs = append(segs, c)
			}
		}
		if len(segs) > 0 {
			it.Categories = []string{strings.Join(segs, "/")}
		}
	}
	it.CreatedAt = time.Time{}
	return it
}

// ParseESCIJudgments reads {"judgmentRatings":[{"query":…,"ratings":[{"docId":…,"rating":"100.000"}]}]}
// into query → item → gain (rating/100).
func ParseESCIJudgments(r io.Reader) (map[string]map[string]float64, error) {
	var f struct {
		JudgmentRatings []struct {
			Query   string `json:"query"`
			Ratings []struct {
				DocID  string          `json:"docId"`
				Rating json.RawMessage `json:"rating"`
			} `json:"ratings"`
		} `json:"judgmentRatings"`
	}
	if err := json.NewDecoder(r).Decode(&f); err != nil {
		return nil, fmt.Errorf("decode judgments: %w", err)
	}
	out := map[string]map[string]float64{}
	for _, jr := range f.JudgmentRatings {
		if jr.Query == "" {
			return nil, fmt.Errorf("judgment without a query")
		}
		g := out[jr.Query]
		if g == nil {
			g = map[string]float64{}
			out[jr.Query] = g
		}
		for _, rt := range jr.Ratings {
			s := strings.Trim(string(rt.Rating), `"`)
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("query %q, doc %q: rating %s is not a number >= 0", jr.Query, rt.DocID, rt.Rating)
			}
			if rt.DocID == "" {
				return nil, fmt.Errorf("query %q: rating without docId", jr.Query)
			}
			g[rt.DocID] = v / 100
		}
	}
	return out, nil
}

// ParseESCIQuerySet reads {"querySetQueries":[{"queryText":…}]} in order.
func ParseESCIQuerySet(r io.Reader) ([]string, error) {
	var f struct {
		Queries []struct {
			Text string `json:"queryText"`
		} `json:"querySetQueries"`
	}
	if err := json.NewDecoder(r).Decode(&f); err != nil {
		return nil, fmt.Errorf("decode query set: %w", err)
	}
	out := make([]string, 0, len(f.Queries))
	for i, q := range f.Queries {
		if q.Text == "" {
			return nil, fmt.Errorf("query %d is empty", i)
		}
		out = append(out, q.Text)
	}
	return out, nil
}

// LoadQrels reads the generic format: items as JSON Lines of catalog.Item
// and judgments as query<TAB>item_id<TAB>gain lines. There is no split.
func LoadQrels(catalogPath, qrelsPath string) (*Dataset, error) {
	cf, err := os.Open(catalogPath)
	if err != nil {
		return nil, fmt.Errorf("load catalogue: %w", err)
	}
	defer cf.Close()
	items, err := ParseItemsJSONL(cf)
	if err != nil {
		return nil, fmt.Errorf("load catalogue %q: %w", catalogPath, err)
	}
	qf, err := os.Open(qrelsPath)
	if err != nil {
		return nil, fmt.Errorf("load qrels: %w", err)
	}
	defer qf.Close()
	qs, err := ParseQrels(qf)
	if err != nil {
		return nil, fmt.Errorf("load qrels %q: %w", qrelsPath, err)
	}
	return &Dataset{Format: "qrels", Items: items, Queries: qs}, nil
}

// ParseItemsJSONL reads items as JSON Lines with the catalogue's strict
// decoder (unknown fields are errors, "available" defaults to true).
func ParseItemsJSONL(r io.Reader) ([]catalog.Item, error) {
	rd := catalog.NewReader[catalog.Item](r, catalog.JSONL, 0, catalog.DecodeItem, nil)
	var items []catalog.Item
	for {
		it, err := rd.Next()
		if err == io.EOF {
			return items, nil
		}
		if err != nil {
			return nil, err
		}
		if it.ID == "" {
			return nil, fmt.Errorf("line %d: item without id", rd.Line())
		}
		items = append(items, it)
	}
}

// ParseQrels reads query<TAB>item_id<TAB>gain lines (gain >= 0). Queries
// keep the order of their first line. Blank lines and lines starting with
// '#' are skipped.
func ParseQrels(r io.Reader) ([]Query, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	idx := map[string]int{}
	var qs []Query
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(s) == "" || strings.HasPrefix(s, "#") {
			continue
		}
		parts := strings.Split(s, "\t")
		if len(parts) != 3 {
			return nil, fmt.Errorf("line %d: want query<TAB>item_id<TAB>gain, got %d fields", line, len(parts))
		}
		q, id := strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1])
		g, err := strconv.ParseFloat(strings.TrimSpace(parts[2]), 64)
		if err != nil || g < 0 || math.IsNaN(g) || math.IsInf(g, 0) {
			return nil, fmt.Errorf("line %d: gain %q is not a number >= 0", line, parts[2])
		}
		if q == "" || id == "" {
			return nil, fmt.Errorf("line %d: empty query or item id", line)
		}
		i, ok := idx[q]
		if !ok {
			i = len(qs)
			idx[q] = i
			qs = append(qs, Query{Text: q, Gains: map[string]float64{}})
		}
		qs[i].Gains[id] = g
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line, err)
	}
	return qs, nil
}
