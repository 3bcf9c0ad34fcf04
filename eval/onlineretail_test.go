package eval

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const retailSample = `InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom
536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom
536365,71053,WHITE METAL LANTERN,2,2010-12-01 08:26:00,3.39,17850.0,United Kingdom
C536379,71053,WHITE METAL LANTERN,-1,2010-12-01 09:41:00,3.39,14527.0,United Kingdom
536380,22961,JAM MAKING SET PRINTED,-24,2010-12-01 09:41:00,1.45,14527.0,United Kingdom
536381,POST,POSTAGE,1,2010-12-01 09:41:00,18.00,12583.0,France
536382,22961,JAM MAKING SET PRINTED,24,2010-12-01 09:45:00,1.45,,United Kingdom
536383,22961,JAM MAKING SET PRINTED,24,2010-12-01 09:45:00,0,12583.0,France
536384,22961,JAM MAKING SET  PRINTED ,12,2010-12-02 10:00:00,1.55,12583.0,France
536385,85123A,CREAM HANGING HEART,1,2010-12-01 07:00:00,2.95,12583.0,France
`

func TestLoadOnlineRetailCSV(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "retail.csv")
	if err := os.WriteFile(path, []byte(retailSample), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, dir} {
		s, err := LoadOnlineRetail(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"return or cancellation": 2, "fee, not a product": 1, "no customer": 1, "price ≤ 0": 1}
		for k, v := range want {
			if s.Dropped[k] != v {
				t.Errorf("dropped %q = %d, want %d (%v)", k, s.Dropped[k], v, s.Dropped)
			}
		}
		if len(s.Events) != 4 || len(s.Items) != 3 || len(s.Users) != 2 {
			t.Fatalf("%d events, %d items, %d users: %+v", len(s.Events), len(s.Items), len(s.Users), s)
		}
		// Time order; the two lantern rows of one invoice are one purchase of 8.
		if s.Events[0].UserID != "12583" || s.Events[0].ItemID != "85123A" {
			t.Fatalf("first event %+v", s.Events[0])
		}
		for _, e := range s.Events {
			if e.ItemID == "71053" && *e.Value != 8 {
				t.Fatalf("lantern quantity %v, want 8", *e.Value)
			}
			if e.SessionID == "" {
				t.Fatalf("event without invoice: %+v", e)
			}
		}
		for _, it := range s.Items {
			// The latest description and price win; first sale is created_at.
			if it.ID == "22961" && (it.Title != "JAM MAKING SET PRINTED" || *it.Price != 1.55) {
				t.Fatalf("jam set %+v", it)
			}
			if it.ID == "85123A" && (it.Title != "WHITE HANGING HEART T-LIGHT HOLDER" || !it.CreatedAt.Equal(time.Date(2010, 12, 1, 7, 0, 0, 0, time.UTC))) {
				t.Fatalf("heart %+v", it)
			}
		}
		if s.Users[0].ID != "12583" || s.Users[0].Attributes["country"] != "France" {
			t.Fatalf("users %+v", s.Users)
		}
	}
	if _, err := LoadOnlineRetail(context.Background(), filepath.Join(dir, "missing.csv")); err == nil {
		t.Fatal("a missing file loaded")
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("a,b,c\n1,2,3\n"), 0o644)
	if _, err := LoadOnlineRetail(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "InvoiceNo") {
		t.Fatalf("wrong header: %v", err)
	}
}

// FuzzOnlineRetailCSV: whatever the file holds, the parser never panics
// and what it keeps is consistent: positive quantities, a customer, an
// item of the catalogue.
func FuzzOnlineRetailCSV(f *testing.F) {
	f.Add([]byte(retailSample))
	f.Add([]byte("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n1,A1,\"x,1,2010-12-01 08:26:00,1,2,UK\n"))
	f.Add([]byte("\ufeffInvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n1,1,,NaN,1/2/2011 10:00,Inf,3,\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := newRetailParser()
		if err := p.parse(bytes.NewReader(b), "fuzz.csv"); err != nil {
			return
		}
		s := p.shop()
		items := map[string]bool{}
		for _, it := range s.Items {
			items[it.ID] = true
		}
		for _, e := range s.Events {
			if e.UserID == "" || !items[e.ItemID] || e.Value == nil || !(*e.Value > 0) {
				t.Fatalf("bad event %+v", e)
			}
		}
	})
}
