package eval

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// FormatOnlineRetail is the UCI "Online Retail" shop (2010-12-01 ..
// 2011-12-09): CSV rows of InvoiceNo, StockCode, Description, Quantity,
// InvoiceDate, UnitPrice, CustomerID, Country, read from a .tar.gz of
// per-day files (or one plain CSV).
const FormatOnlineRetail = "online-retail"

// Shop is a shop's catalogue, users and purchases, ready to be fed to a
// recommend.Service as a live shop would.
type Shop struct {
	Items []catalog.Item
	Users []catalog.User
	// Events are purchases in time order (ties in file order), one per
	// distinct item of an invoice, the invoice as SessionID and the
	// quantity as Value.
	Events []events.Event
	// Dropped counts rows left out, by reason.
	Dropped map[string]int
}

// LoadOnlineRetail reads the Online Retail data: path is the .tar.gz, a
// folder holding one, or a single CSV file. Returns and cancellations
// (negative quantities, invoices starting with C), rows without a
// CustomerID, rows with a price ≤ 0 and fees that are not products (stock
// codes without a digit: POST, M, DOT, BANK CHARGES…) are dropped; items are
// StockCodes with their latest Description and UnitPrice, created when
// first sold; users carry their Country.
func LoadOnlineRetail(ctx context.Context, path string) (*Shop, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("online retail: %w", err)
	}
	if fi.IsDir() {
		m, _ := filepath.Glob(filepath.Join(path, "*.tar.gz"))
		if len(m) == 0 {
			m, _ = filepath.Glob(filepath.Join(path, "*.csv"))
		}
		if len(m) != 1 {
			return nil, fmt.Errorf("online retail: want one .tar.gz (or .csv) in %s, found %d", path, len(m))
		}
		path = m[0]
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("online retail: %w", err)
	}
	defer f.Close()
	p := newRetailParser()
	if !strings.HasSuffix(path, ".tar.gz") && !strings.HasSuffix(path, ".tgz") {
		if err := p.parse(f, filepath.Base(path)); err != nil {
			return nil, err
		}
		return p.shop(), nil
	}
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("online retail %s: %w", path, err)
	}
	tr := tar.NewReader(gz)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("online retail %s: %w", path, err)
		}
		if h.Typeflag != tar.TypeReg || !strings.HasSuffix(h.Name, ".csv") {
			continue
		}
		if err := p.parse(tr, h.Name); err != nil {
			return nil, err
		}
	}
	return p.shop(), nil
}

type retailRow struct {
	invoice, code, user string
	qty                 float64
	ts                  time.Time
	seq                 int
}

type retailParser struct {
	rows    []retailRow
	items   map[string]*catalog.Item
	latest  map[string]time.Time // item → time of the description kept
	country map[string]string
	dropped map[string]int
}

func newRetailParser() *retailParser {
	return &retailParser{items: map[string]*catalog.Item{}, latest: map[string]time.Time{}, country: map[string]string{}, dropped: map[string]int{}}
}

var retailColumns = []string{"InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"}

// parse reads one CSV file (with its header row) of the data set.
func (p *retailParser) parse(r io.Reader, name string) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("online retail %s: header: %w", name, err)
	}
	col := map[string]int{}
	for k, h := range head {
		col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = k
	}
	for _, c := range retailColumns {
		if _, ok := col[c]; !ok {
			return fmt.Errorf("online retail %s: no %s column (want %s)", name, c, strings.Join(retailColumns, ","))
		}
	}
	line := 1
	for {
		rec, err := cr.Read()
		line++
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("online retail %s: %w", name, err)
		}
		get := func(c string) string {
			if k := col[c]; k < len(rec) {
				return strings.TrimSpace(rec[k])
			}
			return ""
		}
		invoice, code := get("InvoiceNo"), strings.ToUpper(get("StockCode"))
		qty, qerr := strconv.ParseFloat(get("Quantity"), 64)
		price, perr := strconv.ParseFloat(get("UnitPrice"), 64)
		ts, terr := time.Parse("2006-01-02 15:04:05", get("InvoiceDate"))
		if terr != nil {
			ts, terr = time.Parse("1/2/2006 15:04", get("InvoiceDate"))
		}
		user := strings.TrimSuffix(get("CustomerID"), ".0")
		switch {
		case invoice == "" || code == "" || qerr != nil || perr != nil || terr != nil ||
			math.IsNaN(qty) || math.IsInf(qty, 0) || math.IsNaN(price) || math.IsInf(price, 0):
			p.dropped["malformed"]++
			continue
		case strings.HasPrefix(strings.ToUpper(invoice), "C") || qty <= 0:
			p.dropped["return or cancellation"]++
			continue
		case user == "":
			p.dropped["no customer"]++
			continue
		case price <= 0:
			p.dropped["price ≤ 0"]++
			continue
		case !strings.ContainsFunc(code, unicode.IsDigit):
			p.dropped["fee, not a product"]++
			continue
		}
		it := p.items[code]
		if it == nil {
			it = &catalog.Item{ID: code, Available: true, CreatedAt: ts}
			p.items[code] = it
		}
		if ts.Before(it.CreatedAt) {
			it.CreatedAt = ts
		}
		if d := get("Description"); d != "" && !ts.Before(p.latest[code]) {
			it.Title = strings.Join(strings.Fields(d), " ")
			pr := price
			it.Price = &pr
			p.latest[code] = ts
		}
		if c := get("Country"); c != "" {
			p.country[user] = c
		}
		p.rows = append(p.rows, retailRow{invoice: invoice, code: code, user: user, qty: qty, ts: ts, seq: len(p.rows)})
	}
}

// shop turns the parsed rows into a Shop: one purchase per distinct item
// of an invoice, in time order.
func (p *retailParser) shop() *Shop {
	rows := p.rows
	slices.SortStableFunc(rows, func(a, b retailRow) int { return a.ts.Compare(b.ts) })
	s := &Shop{Dropped: p.dropped}
	type key struct{ invoice, code string }
	at := map[key]int{}
	for _, r := range rows {
		k := key{r.invoice, r.code}
		if e, ok := at[k]; ok {
			*s.Events[e].Value += r.qty
			continue
		}
		q := r.qty
		at[k] = len(s.Events)
		s.Events = append(s.Events, events.Event{UserID: r.user, ItemID: r.code, Type: events.Purchase, Value: &q, SessionID: r.invoice, Timestamp: r.ts})
	}
	codes := make([]string, 0, len(p.items))
	for c := range p.items {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	for _, c := range codes {
		it := p.items[c]
		if it.Title == "" {
			it.Title = c
		}
		s.Items = append(s.Items, *it)
	}
	users := make([]string, 0, len(p.country))
	for u := range p.country {
		users = append(users, u)
	}
	slices.Sort(users)
	for _, u := range users {
		s.Users = append(s.Users, catalog.User{ID: u, Attributes: map[string]any{"country": p.country[u]}})
	}
	return s
}
