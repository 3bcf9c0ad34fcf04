package catalog

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// storedCases are records as the stores write them and records they do
// not write (the general decoder's cases), each compared with
// json.Unmarshal.
var storedCases = []struct {
	name string
	json string
}{
	{"marshalled", ""}, // filled from a marshalled item below
	{"minimal", `{"id":"a","available":true,"created_at":"0001-01-01T00:00:00Z"}`},
	{"not available", `{"id":"a","available":false,"created_at":"2026-01-02T03:04:05.123456789+02:00"}`},
	{"no available field", `{"id":"a","created_at":"0001-01-01T00:00:00Z"}`},
	{"escapes", `{"id":"a\u00e9\"b","title":"x \u003c y \u0026 z \\ \/ \n \ud83d\ude00","available":true,"created_at":"0001-01-01T00:00:00Z"}`},
	{"whitespace", " {\n\t\"id\" : \"a\" ,\r\n \"categories\" : [ \"X/Y\" , \"Z\" ] , \"price\" : 0 } \n"},
	{"empty arrays and objects", `{"id":"a","categories":[],"attributes":{}}`},
	{"attribute kinds", `{"id":"a","attributes":{"colour":"red","size":-1.5e3,"new":true,"old":false,"n":0.25}}`},
	{"attribute null", `{"id":"a","attributes":{"x":null}}`},
	{"attribute nested", `{"id":"a","attributes":{"x":[1,2]}}`},
	{"title null", `{"id":"a","title":null}`},
	{"price null", `{"id":"a","price":null}`},
	{"repeated attributes merge", `{"id":"a","attributes":{"x":"1"},"attributes":{"y":"2"}}`},
	{"repeated title", `{"id":"a","title":"one","title":"two"}`},
	{"other case", `{"ID":"a","Title":"t"}`},
	{"unknown field", `{"id":"a","colour":"red"}`},
	{"invalid utf-8", "{\"id\":\"a\",\"title\":\"bad \xff byte\"}"},
	{"control character", "{\"id\":\"a\",\"title\":\"tab\there\"}"},
	{"trailing data", `{"id":"a"} x`},
	{"two objects", `{"id":"a"}{"id":"b"}`},
	{"bad number", `{"id":"a","price":01}`},
	{"number forms", `{"id":"a","price":-0.5E+2}`},
	{"hex number", `{"id":"a","price":0x10}`},
	{"bad time", `{"id":"a","created_at":"yesterday"}`},
	{"truncated", `{"id":"a","title":"x`},
	{"not an object", `["a"]`},
	{"empty object", `{}`},
	{"empty", ``},
}

func TestDecodeStoredAsUnmarshal(t *testing.T) {
	price := 12.5
	it := Item{ID: "p-1", Title: "Red <cotton> shirt & tie", Description: "Soft. \"Quoted\" — 日本語", Brand: "Acme",
		Categories: []string{"Clothing/Shirts", "Sale"}, Price: &price,
		Attributes: map[string]any{"colour": "red", "size": 42.0, "organic": true},
		ImageURL:   "https://example.com/a.jpg?x=1&y=2", Available: true,
		CreatedAt: time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)}
	b, err := json.Marshal(&it)
	if err != nil {
		t.Fatal(err)
	}
	storedCases[0].json = string(b)
	fast := 0
	for _, c := range storedCases {
		t.Run(c.name, func(t *testing.T) {
			var want Item
			wantErr := json.Unmarshal([]byte(c.json), &want)
			var got Item
			gotErr := DecodeStored([]byte(c.json), &got)
			if (wantErr == nil) != (gotErr == nil) {
				t.Fatalf("error %v, json.Unmarshal's %v", gotErr, wantErr)
			}
			if wantErr == nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded\n%#v\njson.Unmarshal\n%#v", got, want)
			}
			var probe Item
			if storedFast([]byte(c.json), &probe) {
				fast++
			}
		})
	}
	// the direct pass must be what decodes the stores' records
	var probe Item
	if !storedFast(b, &probe) {
		t.Fatalf("a marshalled item was not decoded by the direct pass: %s", b)
	}
	if fast < 8 {
		t.Fatalf("only %d cases decoded by the direct pass", fast)
	}
}

func FuzzDecodeStored(f *testing.F) {
	for _, c := range storedCases {
		f.Add(c.json)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want, got Item
		wantErr := json.Unmarshal([]byte(s), &want)
		gotErr := DecodeStored([]byte(s), &got)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("%q: error %v, json.Unmarshal's %v", s, gotErr, wantErr)
		}
		if wantErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decoded\n%#v\njson.Unmarshal\n%#v", s, got, want)
		}
	})
}

func BenchmarkDecodeStored(b *testing.B) {
	price := 19.99
	it := Item{ID: "item-0000123456", Title: "Bright red cotton shirt, line c, product 123456", Brand: "brand-17",
		Categories: []string{"cat-0042"}, Price: &price, Available: true, CreatedAt: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	data, err := json.Marshal(&it)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		decode func([]byte, *Item) error
	}{
		{"json.Unmarshal", func(d []byte, it *Item) error { return json.Unmarshal(d, it) }},
		{"DecodeStored", DecodeStored},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var out Item
				if err := c.decode(data, &out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
