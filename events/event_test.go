package events

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
)

func TestValidate(t *testing.T) {
	types, err := NewTypes("wishlist")
	if err != nil {
		t.Fatal(err)
	}
	v := func(f float64) *float64 { return &f }
	cases := []struct {
		name  string
		ev    Event
		field string
	}{
		{"view", Event{UserID: "u", ItemID: "i", Type: View}, ""},
		{"custom type", Event{UserID: "u", ItemID: "i", Type: "wishlist"}, ""},
		{"rating", Event{UserID: "u", ItemID: "i", Type: Rating, Value: v(4)}, ""},
		{"search", Event{UserID: "u", Type: Search, Query: "pens"}, ""},
		{"no user", Event{ItemID: "i", Type: View}, "user_id"},
		{"no type", Event{UserID: "u", ItemID: "i"}, "type"},
		{"unknown type", Event{UserID: "u", ItemID: "i", Type: "fly"}, "type"},
		{"no item", Event{UserID: "u", Type: Click}, "item_id"},
		{"rating without value", Event{UserID: "u", ItemID: "i", Type: Rating}, "value"},
		{"search without query", Event{UserID: "u", Type: Search}, "query"},
		{"seq set by client", Event{Seq: 5, UserID: "u", ItemID: "i", Type: View}, "seq"},
	}
	now := time.Unix(1e9, 0)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var fields []string
			c.ev.Validate(types, now, func(f, p string) { fields = append(fields, f) })
			if c.field == "" {
				if len(fields) != 0 {
					t.Fatalf("problems: %v", fields)
				}
				if !c.ev.Timestamp.Equal(now) {
					t.Fatal("timestamp not defaulted")
				}
				return
			}
			if len(fields) == 0 || fields[0] != c.field {
				t.Fatalf("problems %v, want %s", fields, c.field)
			}
		})
	}
	if _, err := NewTypes("Bad Type"); err == nil {
		t.Fatal("bad custom type name accepted")
	}
}

func TestCSV(t *testing.T) {
	in := "user_id,item_id,type,value,timestamp\nu1,i1,rating,4.5,1700000000\nu1,i2,view,x,\n"
	rd := catalog.NewReader(strings.NewReader(in), catalog.CSV, ',', Decode, FromCSV)
	e, err := rd.Next()
	if err != nil || *e.Value != 4.5 || e.Timestamp.Unix() != 1700000000 || e.Type != Rating {
		t.Fatalf("row 1: %+v %v", e, err)
	}
	if _, err := rd.Next(); !errors.As(err, new(*catalog.RowError)) {
		t.Fatalf("row 2: want row error, got %v", err)
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
}

func FuzzDecodeEvents(f *testing.F) {
	for _, s := range []string{`{"user_id":"u","item_id":"i","type":"view"}`, `[{"user_id":"u","type":"search","query":"q","value":1.5,"timestamp":"2026-01-01T00:00:00Z"}]`, `[{"user_id":`} {
		f.Add([]byte(s))
	}
	types, _ := NewTypes()
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := catalog.DecodeBatch("events", data, Decode)
		if err != nil {
			return
		}
		for i := range evs {
			evs[i].Validate(types, time.Now(), func(string, string) {})
		}
	})
}

func FuzzEventsCSV(f *testing.F) {
	f.Add("user_id,item_id,type,value,timestamp\nu,i,view,1,2\n")
	f.Add("user_id,query\n\"u\",\"a,b\"\n")
	f.Fuzz(func(t *testing.T, data string) {
		rd := catalog.NewReader(strings.NewReader(data), catalog.CSV, ',', Decode, FromCSV)
		for i := 0; i < 1000; i++ {
			if _, err := rd.Next(); err == io.EOF {
				return
			} else if err != nil && !errors.As(err, new(*catalog.RowError)) {
				return
			}
		}
	})
}
