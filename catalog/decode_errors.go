package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// jsonSyntax turns an error of json.Decoder into a *SyntaxError with the
// line and column of the problem in data.
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
