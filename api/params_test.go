package api

import (
	"math"
	"net/url"
	"testing"
	"time"
)

func TestParseWindow(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"", 0, false}, {"all", 0, false}, {"7d", 7 * 24 * time.Hour, false}, {"0.5d", 12 * time.Hour, false},
		{"12h", 12 * time.Hour, false}, {"90m", 90 * time.Minute, false},
		{"0d", 0, true}, {"-1d", 0, true}, {"Infd", 0, true}, {"+Infd", 0, true}, {"NaNd", 0, true}, {"1e300d", 0, true},
		{"0h", 0, true}, {"-3h", 0, true}, {"soon", 0, true}, {"d", 0, true},
	} {
		got, err := ParseWindow(c.in)
		if (err != nil) != c.bad || (!c.bad && got != c.want) {
			t.Errorf("ParseWindow(%q) = %v, %v; want %v, bad=%v", c.in, got, err, c.want, c.bad)
		}
	}
}

func TestPriceParams(t *testing.T) {
	for _, c := range []struct {
		q   string
		bad bool
	}{
		{"min_price=0&max_price=9.5", false}, {"", false},
		{"min_price=NaN", true}, {"max_price=Inf", true}, {"max_price=-Inf", true}, {"min_price=1e999", true},
		{"min_price=-1", true}, {"max_price=cheap", true},
	} {
		q, _ := url.ParseQuery(c.q)
		min, max, err := PriceParams(q)
		if (err != nil) != c.bad {
			t.Errorf("%s: %v %v %v", c.q, min, max, err)
		}
		if e := ErrorOf(err); err != nil && e.Status != 400 {
			t.Errorf("%s: status %d", c.q, e.Status)
		}
	}
}

// Windows and prices come from query strings: any text gives a finite,
// non-negative value or an error, never a panic.
func FuzzParseWindow(f *testing.F) {
	for _, s := range []string{"7d", "24h", "Infd", "1e300d", "all", "-1d", "0.0001d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseWindow(s)
		if err == nil && d < 0 {
			t.Fatalf("ParseWindow(%q) = %v", s, d)
		}
		p, err := Price("min_price", s)
		if err == nil && (p < 0 || math.IsNaN(p) || math.IsInf(p, 0)) {
			t.Fatalf("Price(%q) = %v", s, p)
		}
	})
}
