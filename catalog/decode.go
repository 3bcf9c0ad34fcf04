package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

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
