package catalog

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestDecodeBatch(t *testing.T) {
	cases := []struct {
		name      string
		body      string
		n         int
		syntax    bool
		problems  int
		wantField string
	}{
		{"one object", `{"id":"a"}`, 1, false, 0, ""},
		{"array", `[{"id":"a"},{"id":"b","price":1.5}]`, 2, false, 0, ""},
		{"empty array", `[]`, 0, false, 0, ""},
		{"whitespace around", " \n[{\"id\":\"a\"}]\n ", 1, false, 0, ""},
		{"syntax error", `[{"id":"a",}]`, 0, true, 0, ""},
		{"trailing data", `{"id":"a"} {"id":"b"}`, 0, true, 0, ""},
		{"truncated", `[{"id":"a"`, 0, true, 0, ""},
		{"not an object", `"a"`, 0, false, 1, ""},
		{"element not object", `[{"id":"a"}, 3]`, 0, false, 1, ""},
		{"unknown field", `[{"id":"a","nope":1}]`, 0, false, 1, "nope"},
		{"wrong type", `[{"id":"a","price":"x"}]`, 0, false, 1, "price"},
		{"wrong type nested", `[{"id":"a","categories":"x"}]`, 0, false, 1, "categories"},
		{"bad time", `[{"id":"a","created_at":"monday"}]`, 0, false, 1, ""},
		{"empty", ``, 0, false, 1, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			items, err := DecodeBatch("items", []byte(c.body), DecodeItem)
			var se *SyntaxError
			var be *BatchError
			switch {
			case c.syntax:
				if !errors.As(err, &se) {
					t.Fatalf("want syntax error, got %v", err)
				}
				if se.Line < 1 || se.Column < 1 {
					t.Fatalf("bad position %+v", se)
				}
			case c.problems > 0:
				if !errors.As(err, &be) || len(be.Problems) != c.problems {
					t.Fatalf("want %d problems, got %v", c.problems, err)
				}
				if c.wantField != "" && be.Problems[0].Field != c.wantField {
					t.Fatalf("field %q, want %q", be.Problems[0].Field, c.wantField)
				}
			default:
				if err != nil || len(items) != c.n {
					t.Fatalf("got %d items, err %v", len(items), err)
				}
				for _, it := range items {
					if !it.Available {
						t.Fatalf("available must default to true")
					}
				}
			}
		})
	}
}

func TestSyntaxErrorPosition(t *testing.T) {
	_, err := DecodeBatch("items", []byte("[\n {\"id\":\"a\"},\n {\"id\": }\n]"), DecodeItem)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 3 || se.Column != 9 {
		t.Fatalf("got %v, want line 3 column 9", err)
	}
}

func TestItemValidate(t *testing.T) {
	price := func(f float64) *float64 { return &f }
	cases := []struct {
		name  string
		item  Item
		field string // "" = valid
	}{
		{"valid", Item{ID: "a", Categories: []string{"Office/Pens"}, Price: price(1)}, ""},
		{"no id", Item{}, "id"},
		{"id with space", Item{ID: " a"}, "id"},
		{"id with control", Item{ID: "a\x01"}, "id"},
		{"long id", Item{ID: strings.Repeat("x", MaxIDLen+1)}, "id"},
		{"negative price", Item{ID: "a", Price: price(-1)}, "price"},
		{"empty category", Item{ID: "a", Categories: []string{""}}, "categories[0]"},
		{"empty segment", Item{ID: "a", Categories: []string{"A//B"}}, "categories[0]"},
		{"bool attribute", Item{ID: "a", Attributes: map[string]any{"x": true}}, "attributes.x"},
		{"number attribute", Item{ID: "a", Attributes: map[string]any{"x": 1.0, "y": "s"}}, ""},
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var fields []string
			c.item.Validate(now, func(f, p string) { fields = append(fields, f) })
			if c.field == "" {
				if len(fields) > 0 {
					t.Fatalf("unexpected problems %v", fields)
				}
				if !c.item.CreatedAt.Equal(now) {
					t.Fatalf("created_at not defaulted")
				}
				return
			}
			if len(fields) == 0 || fields[0] != c.field {
				t.Fatalf("problems %v, want %s", fields, c.field)
			}
		})
	}
}

func TestHasCategoryPrefix(t *testing.T) {
	it := Item{Categories: []string{"Office/Paper/Notebooks", "Sale"}}
	for prefix, want := range map[string]bool{"Office": true, "Office/Paper": true, "Office/Pap": false, "Sale": true, "Office/Paper/Notebooks": true, "Home": false} {
		if got := it.HasCategoryPrefix(prefix); got != want {
			t.Errorf("%q: %v, want %v", prefix, got, want)
		}
	}
}

func TestReaderJSONLAndCSV(t *testing.T) {
	jsonl := "{\"id\":\"a\"}\n\n{\"id\":\"b\",\"x\":1}\n{\"id\":\"c\"}"
	rd := NewReader(strings.NewReader(jsonl), JSONL, 0, DecodeItem, ItemFromCSV)
	var ids []string
	var bad []int
	for {
		it, err := rd.Next()
		if err == io.EOF {
			break
		}
		var re *RowError
		if errors.As(err, &re) {
			bad = append(bad, re.Line)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, it.ID)
	}
	if strings.Join(ids, ",") != "a,c" || len(bad) != 1 || bad[0] != 3 {
		t.Fatalf("ids %v bad lines %v", ids, bad)
	}

	csv := "id,title,categories,price,available,attr.size,created_at\n" +
		"a,\"Pen, blue\",A/B|C,1.5,false,12,1700000000\n" +
		"b,Pad,,oops,,,\n" +
		"c,Cup,,,,large,2026-01-01T00:00:00Z\n"
	rd = NewReader(strings.NewReader(csv), CSV, ',', DecodeItem, ItemFromCSV)
	a, err := rd.Next()
	if err != nil || a.Title != "Pen, blue" || len(a.Categories) != 2 || *a.Price != 1.5 || a.Available || a.Attributes["size"] != 12.0 || a.CreatedAt.Unix() != 1700000000 {
		t.Fatalf("row a: %+v %v", a, err)
	}
	if _, err := rd.Next(); err == nil || !strings.Contains(err.Error(), "price") {
		t.Fatalf("row b: want price error, got %v", err)
	}
	c, err := rd.Next()
	if err != nil || c.Attributes["size"] != "large" || !c.Available {
		t.Fatalf("row c: %+v %v", c, err)
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}

	rd = NewReader(strings.NewReader("id,colour\na,red\n"), CSV, ',', DecodeItem, ItemFromCSV)
	if _, err := rd.Next(); err == nil || errors.As(err, new(*RowError)) || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("unknown column must be fatal, got %v", err)
	}
}

func TestMergePatch(t *testing.T) {
	p := 2.0
	cur := Item{ID: "a", Title: "T", Brand: "B", Price: &p, Available: true, Attributes: map[string]any{"x": "1", "y": "2"}}
	got, err := MergePatch(cur, []byte(`{"brand":null,"price":3,"attributes":{"x":null,"z":5}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.Brand != "" || *got.Price != 3 || got.Title != "T" || got.Attributes["x"] != nil || got.Attributes["y"] != "2" || got.Attributes["z"] != 5.0 {
		t.Fatalf("patched: %+v", got)
	}
	if _, err := MergePatch(cur, []byte(`{"nope":1}`)); err == nil {
		t.Fatal("unknown field accepted")
	}
	if _, err := MergePatch(cur, []byte(`[1]`)); err == nil {
		t.Fatal("non-object patch accepted")
	}
}

func FuzzDecodeItems(f *testing.F) {
	for _, s := range []string{`{"id":"a"}`, `[{"id":"a","price":1,"categories":["A/B"],"attributes":{"x":1,"y":"z"}}]`, `[{"id":`, `{"created_at":"2026-01-01T00:00:00Z"}`, `[]`, `null`} {
		f.Add([]byte(s))
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, data []byte) {
		items, err := DecodeBatch("items", data, DecodeItem)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		for i := range items {
			items[i].Validate(now, func(string, string) {})
		}
	})
}

func FuzzDecodeUsers(f *testing.F) {
	for _, s := range []string{`{"id":"u"}`, `[{"id":"u","attributes":{"a":1}}]`, `{"id":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		users, err := DecodeBatch("users", data, DecodeUser)
		if err == nil {
			for i := range users {
				users[i].Validate(time.Now(), func(string, string) {})
			}
		}
	})
}

func FuzzItemCSV(f *testing.F) {
	f.Add("id,title,categories,price\na,b,c|d,1\n")
	f.Add("id,attr.x\n\"a\"\"\",2\n")
	f.Add("id\n\n\n")
	f.Fuzz(func(t *testing.T, data string) {
		rd := NewReader(strings.NewReader(data), CSV, ',', DecodeItem, ItemFromCSV)
		for i := 0; i < 1000; i++ {
			_, err := rd.Next()
			if err == io.EOF {
				return
			}
			if err != nil && !errors.As(err, new(*RowError)) {
				return // fatal errors end the stream
			}
		}
	})
}

func FuzzItemJSONL(f *testing.F) {
	f.Add("{\"id\":\"a\"}\n{\"id\":\"b\"}\n")
	f.Add("{\"id\":\n")
	f.Fuzz(func(t *testing.T, data string) {
		rd := NewReader(strings.NewReader(data), JSONL, 0, DecodeItem, ItemFromCSV)
		for i := 0; i < 1000; i++ {
			if _, err := rd.Next(); err == io.EOF {
				return
			} else if err != nil && !errors.As(err, new(*RowError)) {
				return
			}
		}
	})
}
