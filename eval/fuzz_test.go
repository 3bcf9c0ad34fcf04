package eval

import (
	"bytes"
	"strings"
	"testing"
)

// The fuzz targets feed arbitrary bytes to every parser of outside input:
// none may panic, and what they accept must index consistently.

func checkRows(t *testing.T, rows []interaction, users, items *idMap) {
	t.Helper()
	for _, r := range rows {
		if int(r.user) >= len(users.ids) || int(r.item) >= len(items.ids) || r.user < 0 || r.item < 0 {
			t.Fatalf("row %+v out of range (%d users, %d items)", r, len(users.ids), len(items.ids))
		}
	}
}

func FuzzParseUData(f *testing.F) {
	f.Add([]byte("196\t242\t3\t881250949\n186\t302\t3\t891717742\n"))
	f.Add([]byte("1 2 x 4\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		users, items := newIDMap(), newIDMap()
		rows, err := parseUData(bytes.NewReader(b), users, items)
		if err == nil {
			checkRows(t, rows, users, items)
		}
	})
}

func FuzzParseUserLines(f *testing.F) {
	f.Add([]byte("0 1448 2800\r\n1 5 6\r\n"))
	f.Add([]byte("x 1\n"))
	f.Add([]byte("7\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		users, items := newIDMap(), newIDMap()
		rows, err := parseUserLines(bytes.NewReader(b), users, items)
		if err == nil {
			checkRows(t, rows, users, items)
			ds := buildDataset(users, items, rows, true, false)
			if ds.NumInteractions() != len(rows) || ds.UserPtr[ds.NumUsers()] != len(rows) {
				t.Fatalf("dataset holds %d of %d rows", ds.NumInteractions(), len(rows))
			}
		}
	})
}

func FuzzParseValidationJSON(f *testing.F) {
	f.Add([]byte("[[1, 2], [], [3]]"))
	f.Add([]byte(`{"a": 1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		users, items := newIDMap(), newIDMap()
		rows, err := parseValidationJSON(bytes.NewReader(b), users, items)
		if err == nil {
			checkRows(t, rows, users, items)
		}
	})
}

func FuzzParseReChorus(f *testing.F) {
	f.Add([]byte("user_id\titem_id\ttime\tneg_items\n21\t26\t1070582400\t[1508, 1383]\n"), true)
	f.Add([]byte("user_id\titem_id\ttime\n1\t1\t970185600\n"), false)
	f.Add([]byte("user_id\titem_id\ttime\tneg_items\n1\t2\t3\t['a', \"b\"]\n"), true)
	f.Fuzz(func(t *testing.T, b []byte, negs bool) {
		users, items := newIDMap(), newIDMap()
		rows, err := parseReChorus(bytes.NewReader(b), users, items, negs)
		if err != nil {
			return
		}
		for _, r := range rows {
			checkRows(t, []interaction{r.interaction}, users, items)
			if negs && len(r.negs) == 0 {
				t.Fatal("row without negatives accepted")
			}
			for _, n := range r.negs {
				if int(n) >= len(items.ids) {
					t.Fatalf("negative %d out of range", n)
				}
			}
		}
	})
}

func FuzzParseInteractions(f *testing.F) {
	f.Add([]byte("user,item,timestamp,value\nu1,a,1,5\n"), false)
	f.Add([]byte("u1\ta\t2024-01-02\t1.5\n"), false)
	f.Add([]byte(`{"user":"u","item":3,"timestamp":"2024-01-02T00:00:00Z","value":2}`+"\n"), true)
	f.Add([]byte("\"a,b\";c;1\n"), false)
	f.Fuzz(func(t *testing.T, b []byte, jsonl bool) {
		users, items := newIDMap(), newIDMap()
		var p parsed
		var err error
		if jsonl {
			p, err = parseInteractionsJSONL(bytes.NewReader(b), users, items)
		} else {
			p, err = parseInteractionsCSV(bytes.NewReader(b), users, items)
		}
		if err != nil {
			return
		}
		checkRows(t, p.rows, users, items)
		for _, id := range append(append([]string(nil), users.ids...), items.ids...) {
			if strings.TrimSpace(id) == "" {
				t.Fatalf("empty id accepted")
			}
		}
		if len(p.rows) > 0 {
			frac := 0.2
			if jsonl {
				frac = 0
			}
			train, held := carveValidation(p.rows, len(users.ids), frac, 1)
			if len(train)+len(held) != len(p.rows) {
				t.Fatalf("split lost rows: %d + %d != %d", len(train), len(held), len(p.rows))
			}
		}
	})
}

func FuzzReadMetaRelations(f *testing.F) {
	f.Add([]byte("item_id\ti_category\ti_brand\tr_complement\tr_substitute\n1\t1\t1\t[2, 3]\t[]\n"))
	f.Add([]byte("item_id\tr_substitute\n1\t['a', 'b']\n"))
	f.Add([]byte("item_id\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rel := &Relations{Substitutes: map[string][]string{}, Complements: map[string][]string{}}
		cats, brands := map[string]string{}, map[string]string{}
		if err := readMetaRelations(bytes.NewReader(b), func(s string) string { return s }, rel, cats, brands); err != nil {
			return
		}
		for a, list := range rel.Substitutes {
			if _, ok := cats[a]; !ok {
				t.Fatalf("relations of %q, an item without a row", a)
			}
			for _, x := range list {
				if x == a {
					t.Fatalf("%q related to itself", a)
				}
			}
		}
	})
}
