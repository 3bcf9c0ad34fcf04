package catalog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// SyntaxError is malformed JSON, with the position of the error.
type SyntaxError struct {
	Line, Column int
	Offset       int64
	Msg          string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("malformed JSON at line %d, column %d (byte %d): %s", e.Line, e.Column, e.Offset, e.Msg)
}

// position converts a byte offset in data into a 1-based line and column.
func position(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// DecodeBatch decodes a JSON body that holds either one object or an array of
// objects into records of type T, each decoded strictly by decodeOne.
// Malformed JSON gives a *SyntaxError; records that do not fit T give a
// *BatchError listing every problem with the record's index.
func DecodeBatch[T any](what string, data []byte, decodeOne func([]byte) (T, error)) ([]T, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, &BatchError{What: what, Problems: []Problem{{Index: 0, Problem: "the body is empty: send a JSON object or an array of objects"}}}
	}
	var raws []json.RawMessage
	if trimmed[0] == '[' {
		if err := strictValid(data, &raws); err != nil {
			return nil, err
		}
	} else {
		var one json.RawMessage
		if err := strictValid(data, &one); err != nil {
			return nil, err
		}
		raws = []json.RawMessage{one}
	}
	out := make([]T, 0, len(raws))
	var problems []Problem
	for i, raw := range raws {
		rec, err := decodeOne(raw)
		if err != nil {
			problems = append(problems, ProblemFromJSON(i, err))
			continue
		}
		out = append(out, rec)
	}
	if len(problems) > 0 {
		return nil, &BatchError{What: what, Problems: problems}
	}
	return out, nil
}

// strictValid decodes data into v and turns syntax errors into *SyntaxError
// with line and column. Trailing data after the value is an error too.
func strictValid(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return jsonSyntax(data, dec, err)
	}
	if dec.More() {
		off := dec.InputOffset()
		line, col := position(data, off)
		return &SyntaxError{Line: line, Column: col, Offset: off, Msg: "unexpected data after the JSON value"}
	}
	// Only whitespace may follow.
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		off := dec.InputOffset()
		line, col := position(data, off)
		return &SyntaxError{Line: line, Column: col, Offset: off, Msg: "unexpected data after the JSON value"}
	}
	return nil
}

func jsonSyntax(data []byte, dec *json.Decoder, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		// Offset counts the offending byte as read; point at it.
		off := se.Offset
		if off > 0 {
			off--
		}
		line, col := position(data, off)
		return &SyntaxError{Line: line, Column: col, Offset: off, Msg: se.Error()}
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		line, col := position(data, int64(len(data)))
		return &SyntaxError{Line: line, Column: col, Offset: int64(len(data)), Msg: "unexpected end of JSON input"}
	case errors.As(err, &te):
		line, col := position(data, te.Offset)
		return &SyntaxError{Line: line, Column: col, Offset: te.Offset, Msg: "expected a JSON object or an array of objects, got " + te.Value}
	default:
		off := dec.InputOffset()
		line, col := position(data, off)
		return &SyntaxError{Line: line, Column: col, Offset: off, Msg: err.Error()}
	}
}

// ProblemFromJSON turns an error from strict JSON decoding of record index
// into a Problem naming the field and saying what was wrong.
func ProblemFromJSON(index int, err error) Problem {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var fe *fieldError
	msg := err.Error()
	switch {
	case errors.As(err, &fe):
		return Problem{Index: index, Field: fe.field, Problem: fe.problem}
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return Problem{Index: index, Problem: "must be a JSON object, got " + te.Value}
		}
		return Problem{Index: index, Field: field, Problem: fmt.Sprintf("must be %s, got %s", kindName(te.Type.Kind().String(), te.Type.String()), te.Value)}
	case errors.As(err, &se):
		return Problem{Index: index, Problem: "malformed JSON: " + se.Error()}
	case strings.HasPrefix(msg, "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`)
		return Problem{Index: index, Field: name, Problem: "unknown field"}
	case strings.Contains(msg, "parsing time"):
		return Problem{Index: index, Field: "time", Problem: "must be an RFC 3339 time such as \"2026-11-27T10:00:00Z\""}
	default:
		return Problem{Index: index, Problem: msg}
	}
}

func kindName(kind, typ string) string {
	switch {
	case strings.HasPrefix(kind, "float") || strings.HasPrefix(kind, "int") || strings.HasPrefix(kind, "uint"):
		return "a number"
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "true or false"
	case kind == "slice":
		return "an array"
	case kind == "map" || kind == "struct":
		if typ == "time.Time" {
			return "an RFC 3339 time string"
		}
		return "an object"
	}
	return typ
}

// fieldError is a problem with a named field found while decoding.
type fieldError struct{ field, problem string }

func (e *fieldError) Error() string { return e.field + ": " + e.problem }

// FieldError makes an error that ProblemFromJSON reports against field.
func FieldError(field, problem string) error { return &fieldError{field: field, problem: problem} }

// strictDecode decodes one JSON object into v, rejecting unknown fields and
// trailing data.
func strictDecode(data []byte, v any) error {
	if err := checkJSONText(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}

// StrictDecode decodes one JSON object into v, rejecting unknown fields and
// trailing data. Other packages use it for their own record types.
func StrictDecode(data []byte, v any) error { return strictDecode(data, v) }

// UnmarshalJSON decodes an item strictly: unknown fields are errors and
// "available" defaults to true.
func (it *Item) UnmarshalJSON(data []byte) error {
	type plain Item
	p := plain{Available: true}
	if err := strictDecode(data, &p); err != nil {
		return err
	}
	*it = Item(p)
	return nil
}

// UnmarshalJSON decodes a user strictly: unknown fields are errors.
func (u *User) UnmarshalJSON(data []byte) error {
	type plain User
	var p plain
	if err := strictDecode(data, &p); err != nil {
		return err
	}
	*u = User(p)
	return nil
}

// DecodeItem decodes one item from JSON.
func DecodeItem(data []byte) (Item, error) {
	var it Item
	err := it.UnmarshalJSON(data)
	return it, err
}

// DecodeUser decodes one user from JSON.
func DecodeUser(data []byte) (User, error) {
	var u User
	err := u.UnmarshalJSON(data)
	return u, err
}

// Format is the encoding of a data file.
type Format string

// The file formats the importer reads.
const (
	JSONL Format = "jsonl"
	CSV   Format = "csv"
)

// FormatOf picks the format of a file from its name: .jsonl/.ndjson/.json
// are JSON Lines, .csv is comma-separated and .tsv tab-separated; a trailing
// .gz means gzip.
func FormatOf(path string) (f Format, sep rune, gz bool, err error) {
	name := strings.ToLower(path)
	if strings.HasSuffix(name, ".gz") {
		gz = true
		name = strings.TrimSuffix(name, ".gz")
	}
	switch {
	case strings.HasSuffix(name, ".jsonl"), strings.HasSuffix(name, ".ndjson"), strings.HasSuffix(name, ".json"):
		return JSONL, 0, gz, nil
	case strings.HasSuffix(name, ".csv"):
		return CSV, ',', gz, nil
	case strings.HasSuffix(name, ".tsv"):
		return CSV, '\t', gz, nil
	}
	return "", 0, false, fmt.Errorf("cannot tell the format of %q: name it .jsonl, .ndjson, .csv or .tsv (optionally .gz)", path)
}

// File is an opened data file: its decompressed content and the count of
// compressed bytes read so far (for progress).
type File struct {
	io.Reader
	Format Format
	Sep    rune
	Size   int64 // size on disk
	f      *os.File
	gz     *gzip.Reader
	cr     *countingReader
}

// BytesRead is how many bytes of the file on disk have been consumed.
func (f *File) BytesRead() int64 { return f.cr.n }

// Close closes the file.
func (f *File) Close() error {
	if f.gz != nil {
		f.gz.Close()
	}
	return f.f.Close()
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// OpenFile opens a data file, picking its format from the name and
// decompressing .gz on the fly.
func OpenFile(path string) (*File, error) {
	format, sep, gz, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	cr := &countingReader{r: bufio.NewReaderSize(f, 1<<20)}
	file := &File{Reader: cr, Format: format, Sep: sep, Size: st.Size(), f: f, cr: cr}
	if gz {
		zr, err := gzip.NewReader(cr)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: not a gzip file: %w", path, err)
		}
		file.gz = zr
		file.Reader = zr
	}
	return file, nil
}
