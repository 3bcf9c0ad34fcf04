package catalog

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// DecodeStored decodes an item as a store keeps it (encoding/json's
// output of an Item) into it. It gives exactly what json.Unmarshal gives
// (Item.UnmarshalJSON: unknown fields are errors, "available" defaults to
// true): the records the stores write are read by a direct pass over
// the bytes, and anything that pass does not expect (an escape it cannot
// copy, null, an unknown or differently cased field, a nested attribute
// value, invalid UTF-8, trailing data) is decoded by json.Unmarshal
// instead. A start reads every item this way: at 1M products the
// general decoder (a validity scan, the UTF-8 check, then a Decoder)
// cost ~4 CPU-s a scan (decision 0068).
func DecodeStored(data []byte, it *Item) error {
	if storedFast(data, it) {
		return nil
	}
	*it = Item{}
	return json.Unmarshal(data, it)
}

// storedFast decodes the common shape of a stored item; false when it
// met anything else (it may then hold part of the record).
func storedFast(data []byte, it *Item) bool {
	*it = Item{Available: true}
	d := sdec{b: data}
	d.ws()
	if !d.eat('{') {
		return false
	}
	d.ws()
	if d.eat('}') {
		return d.end()
	}
	var seen uint16 // the fields read: a repeated one is json.Unmarshal's (it merges attributes)
	for {
		d.ws()
		key, ok := d.rawBytes()
		if !ok {
			return false
		}
		var bit uint16
		d.ws()
		if !d.eat(':') {
			return false
		}
		d.ws()
		switch string(key) {
		case "id":
			bit = 1 << 0
			ok = d.str(&it.ID)
		case "title":
			bit = 1 << 1
			ok = d.str(&it.Title)
		case "description":
			bit = 1 << 2
			ok = d.str(&it.Description)
		case "brand":
			bit = 1 << 3
			ok = d.str(&it.Brand)
		case "image_url":
			bit = 1 << 4
			ok = d.str(&it.ImageURL)
		case "categories":
			bit = 1 << 5
			it.Categories, ok = d.strings()
		case "price":
			bit = 1 << 6
			var p float64
			if p, ok = d.num(); ok {
				it.Price = &p
			}
		case "attributes":
			bit = 1 << 7
			it.Attributes, ok = d.attrs()
		case "available":
			bit = 1 << 8
			it.Available, ok = d.boolean()
		case "created_at":
			bit = 1 << 9
			start := d.i
			if _, ok = d.rawBytes(); ok {
				ok = it.CreatedAt.UnmarshalJSON(d.b[start:d.i]) == nil
			}
		default:
			return false // unknown here: json.Unmarshal decides (case-insensitive names, errors)
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		d.ws()
		if d.eat('}') {
			return d.end()
		}
		if !d.eat(',') {
			return false
		}
	}
}

// sdec reads JSON bytes left to right.
type sdec struct {
	b []byte
	i int
}

func (d *sdec) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *sdec) eat(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// end: only whitespace may follow the object.
func (d *sdec) end() bool {
	d.ws()
	return d.i == len(d.b)
}

// rawBytes reads a string without escapes or control characters, valid
// UTF-8, and returns its bytes (not a copy).
func (d *sdec) rawBytes() ([]byte, bool) {
	if !d.eat('"') {
		return nil, false
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			if !utf8.Valid(s) {
				return nil, false // json.Unmarshal replaces the bad bytes
			}
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		}
		d.i++
	}
	return nil, false
}

// str reads a string into *s; one with escapes is unquoted by
// encoding/json (a copy of the token, not of the record).
func (d *sdec) str(s *string) bool {
	start := d.i
	if v, ok := d.rawBytes(); ok {
		*s = string(v)
		return true
	}
	// escapes: find the string's end, then let encoding/json unquote it
	d.i = start
	if !d.eat('"') {
		return false
	}
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case '\\':
			d.i += 2
			continue
		case '"':
			d.i++
			tok := d.b[start:d.i]
			if checkJSONText(tok) != nil {
				return false // bad UTF-8, lone surrogates: Item's decoder refuses them
			}
			return json.Unmarshal(tok, s) == nil
		}
		d.i++
	}
	return false
}

// strings reads an array of strings.
func (d *sdec) strings() ([]string, bool) {
	if !d.eat('[') {
		return nil, false
	}
	out := []string{}
	d.ws()
	if d.eat(']') {
		return out, true
	}
	for {
		d.ws()
		var s string
		if !d.str(&s) {
			return nil, false
		}
		out = append(out, s)
		d.ws()
		if d.eat(']') {
			return out, true
		}
		if !d.eat(',') {
			return nil, false
		}
	}
}

// num reads a number as JSON writes them (-?int frac? exp?).
func (d *sdec) num() (float64, bool) {
	start := d.i
	d.eat('-')
	switch {
	case d.eat('0'):
	case d.i < len(d.b) && d.b[d.i] >= '1' && d.b[d.i] <= '9':
		d.digits()
	default:
		return 0, false
	}
	if d.eat('.') && !d.digits() {
		return 0, false
	}
	if d.eat('e') || d.eat('E') {
		if !d.eat('+') {
			d.eat('-')
		}
		if !d.digits() {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(d.b[start:d.i]), 64)
	return f, err == nil
}

// digits reads one or more decimal digits.
func (d *sdec) digits() bool {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

func (d *sdec) boolean() (bool, bool) {
	switch {
	case len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "true":
		d.i += 4
		return true, true
	case len(d.b)-d.i >= 5 && string(d.b[d.i:d.i+5]) == "false":
		d.i += 5
		return false, true
	}
	return false, false
}

// attrs reads an object of string, number and boolean values.
func (d *sdec) attrs() (map[string]any, bool) {
	if !d.eat('{') {
		return nil, false
	}
	out := map[string]any{}
	d.ws()
	if d.eat('}') {
		return out, true
	}
	for {
		d.ws()
		var k string
		if !d.str(&k) {
			return nil, false
		}
		d.ws()
		if !d.eat(':') {
			return nil, false
		}
		d.ws()
		if d.i >= len(d.b) {
			return nil, false
		}
		switch c := d.b[d.i]; {
		case c == '"':
			var s string
			if !d.str(&s) {
				return nil, false
			}
			out[k] = s
		case c == '-' || (c >= '0' && c <= '9'):
			f, ok := d.num()
			if !ok {
				return nil, false
			}
			out[k] = f
		case c == 't' || c == 'f':
			b, ok := d.boolean()
			if !ok {
				return nil, false
			}
			out[k] = b
		default:
			return nil, false // null, arrays, objects: encoding/json
		}
		d.ws()
		if d.eat('}') {
			return out, true
		}
		if !d.eat(',') {
			return nil, false
		}
	}
}
