package catalog

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// MaxLineBytes is the longest JSON Lines record the readers accept.
const MaxLineBytes = 16 << 20

// RowError is a problem with one row of a file. The reader can go on with
// the next row.
type RowError struct {
	Line    int
	Field   string
	Problem string
}

func (e *RowError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Problem)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Problem)
}

// Header maps CSV column names to their positions.
type Header struct {
	Names []string
	index map[string]int
}

// Get returns the row's value of column name, or "" when the file has no
// such column.
func (h *Header) Get(row []string, name string) string {
	if i, ok := h.index[name]; ok && i < len(row) {
		return row[i]
	}
	return ""
}

// Has reports whether the file has column name.
func (h *Header) Has(name string) bool { _, ok := h.index[name]; return ok }

// Attributes collects the columns named "attr.NAME" or "attributes.NAME"
// into an attribute map; values that parse as numbers become numbers.
func (h *Header) Attributes(row []string) map[string]any {
	var m map[string]any
	for i, n := range h.Names {
		var key string
		switch {
		case strings.HasPrefix(n, "attr."):
			key = n[len("attr."):]
		case strings.HasPrefix(n, "attributes."):
			key = n[len("attributes."):]
		default:
			continue
		}
		if i >= len(row) || row[i] == "" {
			continue
		}
		if m == nil {
			m = map[string]any{}
		}
		if f, err := strconv.ParseFloat(row[i], 64); err == nil {
			m[key] = f
		} else {
			m[key] = row[i]
		}
	}
	return m
}

// Check returns an error when a column is not one of known (attribute
// columns are always allowed).
func (h *Header) Check(known ...string) error {
	for _, n := range h.Names {
		if strings.HasPrefix(n, "attr.") || strings.HasPrefix(n, "attributes.") {
			continue
		}
		ok := false
		for _, k := range known {
			if n == k {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("unknown column %q in the header (known columns: %s, and attr.NAME for attributes)", n, strings.Join(known, ", "))
		}
	}
	return nil
}

// ParseTime reads a time from a CSV cell: RFC 3339, or unix seconds.
// An empty cell gives the zero time.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, errors.New("must be an RFC 3339 time such as 2026-11-27T10:00:00Z or unix seconds")
}

// Reader reads records of type T from a JSON Lines or CSV stream, one at a
// time, so memory does not grow with the file.
type Reader[T any] struct {
	format   Format
	lines    *bufio.Reader
	csv      *csv.Reader
	header   *Header
	fromJSON func([]byte) (T, error)
	fromCSV  func(*Header, []string) (T, error)
	line     int
}

// NewReader reads records from r in the given format. fromCSV may check the
// header through Header.Check on the first call.
func NewReader[T any](r io.Reader, format Format, sep rune, fromJSON func([]byte) (T, error), fromCSV func(*Header, []string) (T, error)) *Reader[T] {
	rd := &Reader[T]{format: format, fromJSON: fromJSON, fromCSV: fromCSV}
	if format == CSV {
		c := csv.NewReader(r)
		if sep != 0 {
			c.Comma = sep
		}
		c.FieldsPerRecord = -1
		c.ReuseRecord = true
		c.LazyQuotes = sep == '\t'
		rd.csv = c
	} else {
		rd.lines = bufio.NewReaderSize(r, 1<<20)
	}
	return rd
}

// Line is the line number of the record last returned.
func (r *Reader[T]) Line() int { return r.line }

// Next returns the next record. A bad record gives a *RowError (the caller
// may go on); the end gives io.EOF; any other error is fatal.
func (r *Reader[T]) Next() (T, error) {
	var zero T
	if r.format == CSV {
		return r.nextCSV()
	}
	for {
		line, err := r.readLine()
		if err != nil {
			return zero, err
		}
		r.line++
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		rec, err := r.fromJSON(line)
		if err != nil {
			p := ProblemFromJSON(0, err)
			return zero, &RowError{Line: r.line, Field: p.Field, Problem: p.Problem}
		}
		return rec, nil
	}
}

func (r *Reader[T]) readLine() ([]byte, error) {
	var buf []byte
	for {
		chunk, isPrefix, err := r.lines.ReadLine()
		if err != nil {
			if err == io.EOF && len(buf) > 0 {
				return buf, nil
			}
			return nil, err
		}
		if !isPrefix && buf == nil {
			return chunk, nil
		}
		buf = append(buf, chunk...)
		if len(buf) > MaxLineBytes {
			return nil, fmt.Errorf("line %d is longer than %d bytes", r.line+1, MaxLineBytes)
		}
		if !isPrefix {
			return buf, nil
		}
	}
}

func (r *Reader[T]) nextCSV() (T, error) {
	var zero T
	for {
		row, err := r.csv.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				r.line = pe.Line
				if r.header == nil {
					return zero, fmt.Errorf("CSV header: %w", err)
				}
				return zero, &RowError{Line: pe.Line, Problem: pe.Err.Error()}
			}
			return zero, err
		}
		line, _ := r.csv.FieldPos(0)
		r.line = line
		if r.header == nil {
			names := make([]string, len(row))
			h := &Header{index: map[string]int{}}
			for i, n := range row {
				n = strings.TrimSpace(strings.TrimPrefix(n, "\ufeff"))
				names[i] = n
				if _, dup := h.index[n]; dup {
					return zero, fmt.Errorf("CSV header: column %q appears twice", n)
				}
				h.index[n] = i
			}
			h.Names = names
			r.header = h
			continue
		}
		if len(row) == 1 && row[0] == "" {
			continue
		}
		if len(row) != len(r.header.Names) {
			return zero, &RowError{Line: line, Problem: fmt.Sprintf("has %d columns, the header has %d", len(row), len(r.header.Names))}
		}
		rec, err := r.fromCSV(r.header, row)
		if err != nil {
			var re *RowError
			if errors.As(err, &re) {
				re.Line = line
				return zero, re
			}
			if errors.As(err, new(*headerError)) {
				return zero, err
			}
			return zero, &RowError{Line: line, Problem: err.Error()}
		}
		return rec, nil
	}
}

// headerError is a fatal problem with a CSV header.
type headerError struct{ err error }

func (e *headerError) Error() string { return "CSV header: " + e.err.Error() }
func (e *headerError) Unwrap() error { return e.err }

// HeaderError marks err as a fatal problem with the CSV header.
func HeaderError(err error) error { return &headerError{err: err} }

// CSV columns of items and users.
var (
	ItemColumns = []string{"id", "title", "description", "brand", "categories", "price", "image_url", "available", "created_at"}
	UserColumns = []string{"id", "created_at"}
)

// ItemFromCSV builds an item from a CSV row. Categories are separated by
// "|"; attribute columns are named attr.NAME.
func ItemFromCSV(h *Header, row []string) (Item, error) {
	if err := h.Check(ItemColumns...); err != nil {
		return Item{}, HeaderError(err)
	}
	it := Item{
		ID:          h.Get(row, "id"),
		Title:       h.Get(row, "title"),
		Description: h.Get(row, "description"),
		Brand:       h.Get(row, "brand"),
		ImageURL:    h.Get(row, "image_url"),
		Available:   true,
		Attributes:  h.Attributes(row),
	}
	if c := h.Get(row, "categories"); c != "" {
		it.Categories = strings.Split(c, "|")
	}
	if p := h.Get(row, "price"); p != "" {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return Item{}, &RowError{Field: "price", Problem: "must be a number"}
		}
		it.Price = &f
	}
	if a := h.Get(row, "available"); a != "" {
		b, err := strconv.ParseBool(a)
		if err != nil {
			return Item{}, &RowError{Field: "available", Problem: "must be true or false"}
		}
		it.Available = b
	}
	t, err := ParseTime(h.Get(row, "created_at"))
	if err != nil {
		return Item{}, &RowError{Field: "created_at", Problem: err.Error()}
	}
	it.CreatedAt = t
	return it, nil
}

// UserFromCSV builds a user from a CSV row; attribute columns are named attr.NAME.
func UserFromCSV(h *Header, row []string) (User, error) {
	if err := h.Check(UserColumns...); err != nil {
		return User{}, HeaderError(err)
	}
	t, err := ParseTime(h.Get(row, "created_at"))
	if err != nil {
		return User{}, &RowError{Field: "created_at", Problem: err.Error()}
	}
	return User{ID: h.Get(row, "id"), Attributes: h.Attributes(row), CreatedAt: t}, nil
}
