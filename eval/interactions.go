package eval

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// loadInteractions reads a generic export of user,item[,timestamp[,value]]
// rows (CSV, TSV or JSONL) and splits it per LoadOptions.Split.
func loadInteractions(path string, opt LoadOptions) (*Data, error) {
	frac, err := parseSplit(opt.Split)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %q: %w", path, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("%s is a folder: the interactions format is one CSV, TSV or JSONL file", path)
	}
	users, items := newIDMap(), newIDMap()
	var p parsed
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson", ".json":
		p, err = parseInteractionsJSONL(f, users, items)
	default:
		p, err = parseInteractionsCSV(f, users, items)
	}
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", path, err)
	}
	if len(p.rows) == 0 {
		return nil, fmt.Errorf("read %q: no interactions", path)
	}
	if opt.Rating && !p.hasValue {
		return nil, fmt.Errorf("%q has no value column: --rating needs user,item,timestamp,value rows", path)
	}
	weights := p.hasValue
	for _, r := range p.rows {
		if !(r.value > 0) {
			weights = false
		}
	}
	mk := func(name string, train, held []interaction) Split {
		// Values always become confidence weights (when all positive); they
		// reach models as ratings only for rating prediction.
		ds := buildDataset(users, items, train, p.hasTime, p.hasValue)
		if weights {
			ds.Weights = make([]float32, len(ds.Ratings))
			copy(ds.Weights, ds.Ratings)
		}
		if !opt.Rating {
			ds.Ratings = nil
		}
		return Split{Name: name, Train: ds, Cases: casesFromRows(ds, held, opt.Rating), Full: true}
	}
	train, test := carveValidation(p.rows, len(users.ids), frac, opt.Seed)
	vTrain, vHeld := carveValidation(train, len(users.ids), frac, opt.Seed+1)
	v := mk("validation", vTrain, vHeld)
	return &Data{DefaultKs: []int{10, 20}, Splits: []Split{mk("test", train, test)}, Validation: &v, Rating: opt.Rating}, nil
}

// parseSplit reads "random:F" (0<F<1) or "last"; "" means random:0.2.
// It returns the held-out fraction, or 0 for last.
func parseSplit(s string) (float64, error) {
	switch {
	case s == "":
		return 0.2, nil
	case s == "last":
		return 0, nil
	case strings.HasPrefix(s, "random:"):
		f, err := strconv.ParseFloat(strings.TrimPrefix(s, "random:"), 64)
		if err != nil || !(f > 0 && f < 1) {
			return 0, fmt.Errorf("--split %q: want random:F with 0 < F < 1, e.g. random:0.2", s)
		}
		return f, nil
	}
	return 0, fmt.Errorf("--split %q: want random:F (e.g. random:0.2) or last", s)
}

type parsed struct {
	rows              []interaction
	hasTime, hasValue bool
}

var (
	userKeys  = []string{"user", "user_id", "userid", "visitorid", "customer_id"}
	itemKeys  = []string{"item", "item_id", "itemid", "product_id", "sku"}
	timeKeys  = []string{"timestamp", "time", "ts", "date", "created_at"}
	valueKeys = []string{"value", "rating", "weight", "score", "quantity"}
)

func findKey(cols map[string]int, keys []string) int {
	for _, k := range keys {
		if i, ok := cols[k]; ok {
			return i
		}
	}
	return -1
}

// parseInteractionsCSV reads comma-, tab- or semicolon-separated rows. A
// first line naming user and item columns is a header; otherwise columns are
// user,item[,timestamp[,value]].
func parseInteractionsCSV(r io.Reader, users, items *idMap) (parsed, error) {
	br := bufio.NewReader(r)
	first, err := br.Peek(4096)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return parsed{}, err
	}
	firstLine := string(first)
	if i := strings.IndexByte(firstLine, '\n'); i >= 0 {
		firstLine = firstLine[:i]
	}
	sep := ','
	switch {
	case strings.Contains(firstLine, "\t"):
		sep = '\t'
	case strings.Contains(firstLine, ";") && !strings.Contains(firstLine, ","):
		sep = ';'
	}
	cr := csv.NewReader(br)
	cr.Comma = sep
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cr.LazyQuotes = true
	ui, ii, ti, vi := 0, 1, 2, 3
	var p parsed
	line := 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line++
		if err != nil {
			return p, fmt.Errorf("line %d: %w", line, err)
		}
		if line == 1 {
			cols := map[string]int{}
			for i, h := range rec {
				cols[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
			}
			if u, it := findKey(cols, userKeys), findKey(cols, itemKeys); u >= 0 && it >= 0 {
				ui, ii, ti, vi = u, it, findKey(cols, timeKeys), findKey(cols, valueKeys)
				continue
			}
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if ui >= len(rec) || ii >= len(rec) {
			return p, fmt.Errorf("line %d: %d fields, want user%citem", line, len(rec), sep)
		}
		u, it := strings.TrimSpace(rec[ui]), strings.TrimSpace(rec[ii])
		if u == "" || it == "" {
			return p, fmt.Errorf("line %d: empty user or item", line)
		}
		row := interaction{user: users.get(u), item: items.get(it), value: 1, seq: len(p.rows)}
		if ti >= 0 && ti < len(rec) && strings.TrimSpace(rec[ti]) != "" {
			if row.time, err = parseTime(strings.TrimSpace(rec[ti])); err != nil {
				return p, fmt.Errorf("line %d: timestamp: %w", line, err)
			}
			p.hasTime = true
		}
		if vi >= 0 && vi < len(rec) && strings.TrimSpace(rec[vi]) != "" {
			if row.value, err = parseFloat32(strings.TrimSpace(rec[vi])); err != nil {
				return p, fmt.Errorf("line %d: value: %w", line, err)
			}
			if math.IsNaN(float64(row.value)) || math.IsInf(float64(row.value), 0) {
				return p, fmt.Errorf("line %d: value %v is not finite", line, row.value)
			}
			p.hasValue = true
		}
		p.rows = append(p.rows, row)
	}
	return p, nil
}

// parseInteractionsJSONL reads one JSON object per line with user and item
// (strings or numbers) and optional timestamp and value.
func parseInteractionsJSONL(r io.Reader, users, items *idMap) (parsed, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	var p parsed
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal(b, &obj); err != nil {
			return p, fmt.Errorf("line %d: %w", line, err)
		}
		lower := map[string]any{}
		for k, v := range obj {
			lower[strings.ToLower(k)] = v
		}
		pick := func(keys []string) (string, bool) {
			for _, k := range keys {
				if v, ok := lower[k]; ok && v != nil {
					switch x := v.(type) {
					case string:
						return x, true
					case float64:
						return strconv.FormatFloat(x, 'f', -1, 64), true
					case bool:
						return strconv.FormatBool(x), true
					}
				}
			}
			return "", false
		}
		u, okU := pick(userKeys)
		it, okI := pick(itemKeys)
		if !okU || !okI || u == "" || it == "" {
			return p, fmt.Errorf("line %d: want an object with user and item", line)
		}
		row := interaction{user: users.get(u), item: items.get(it), value: 1, seq: len(p.rows)}
		if ts, ok := pick(timeKeys); ok {
			t, err := parseTime(ts)
			if err != nil {
				return p, fmt.Errorf("line %d: timestamp: %w", line, err)
			}
			row.time = t
			p.hasTime = true
		}
		if vs, ok := pick(valueKeys); ok {
			v, err := parseFloat32(vs)
			if err != nil || math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return p, fmt.Errorf("line %d: value %q is not a finite number", line, vs)
			}
			row.value = v
			p.hasValue = true
		}
		p.rows = append(p.rows, row)
	}
	if err := sc.Err(); err != nil {
		return p, fmt.Errorf("line %d: %w", line+1, err)
	}
	return p, nil
}

// parseTime reads unix seconds (milliseconds when > 1e11) or RFC 3339 /
// "2006-01-02 15:04:05" / "2006-01-02".
func parseTime(s string) (int64, error) {
	if v, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
		if math.Abs(v) > 1e11 {
			v /= 1000
		}
		return int64(v), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Unix(), nil
		}
	}
	return 0, fmt.Errorf("%q is neither unix seconds nor a date", s)
}
