package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEvalRowsCommand(t *testing.T) {
	var b strings.Builder
	b.WriteString("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n")
	t0 := time.Date(2011, 1, 1, 9, 0, 0, 0, time.UTC)
	inv := 0
	for u := 0; u < 30; u++ {
		country := []string{"United Kingdom", "France", "Germany"}[u%3]
		for k := 0; k < 8; k++ {
			inv++
			at := t0.Add(time.Duration(u+k*10) * 24 * time.Hour).Format("2006-01-02 15:04:05")
			// A staple every time, two others that vary.
			for _, item := range []int{u % 5, 10 + (u+k)%7, 20 + k%4} {
				fmt.Fprintf(&b, "%d,%d,ITEM %d,%d,%s,1.5,%d.0,%s\n", 500000+inv, 10000+item, item, 1+k%3, at, 17000+u, country)
			}
		}
	}
	path := filepath.Join(t.TempDir(), "retail.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(aisleBin(t), "eval", "rows", "--format", "online-retail", "--path", path, "--split", "2011-02-20", "--json", "-")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("eval rows: %v\n%s", err, stderr.String())
	}
	var out struct {
		Report struct {
			BuyAgainUsers int
			BuyAgain      map[string]struct{ HR, NDCG float64 }
			NextBaskets   int
			NextBasket    map[string]struct{ HR float64 }
		} `json:"report"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, stdout.String())
	}
	r := out.Report
	if r.BuyAgainUsers == 0 || r.NextBaskets == 0 {
		t.Fatalf("no cases: %+v", r)
	}
	// Every user rebuys their staple in every basket: buy again finds it.
	if r.BuyAgain["buy-again"].HR != 1 {
		t.Fatalf("buy-again HR %v, want 1 (%+v)", r.BuyAgain["buy-again"].HR, r.BuyAgain)
	}
	for _, want := range []string{"buy it again", "next basket", "cold start", "user-most-often", "complete-basket"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, stderr.String())
		}
	}
	bad := exec.Command(aisleBin(t), "eval", "rows", "--format", "online-retail", "--path", path, "--split", "Sept")
	if msg, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(msg), "--split") {
		t.Fatalf("a bad date was accepted: %s", msg)
	}
}
