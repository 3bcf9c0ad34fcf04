package rules

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// Normalize gives what it always gave (lower case, fields joined by one
// space) for queries with upper case, tabs, runs of spaces, leading and
// trailing blanks and non-ASCII letters and spaces, and returns an already
// normalised query as it is, without allocating (it runs for every
// search answer, in the rules' plan and the ads' eligible items).
func TestNormalizeFastPathIsTheSlowOne(t *testing.T) {
	slow := func(q string) string { return strings.Join(strings.Fields(strings.ToLower(q)), " ") }
	parts := []string{"a", "Z", "pen", "Blue", " ", "  ", "\t", "\n", "\v", "\f", "\r", "é", "É", "\u00a0", "\u0085", "\u2003", "İ", "x1", "-", "\xff"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		for range r.IntN(7) {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		q := b.String()
		if got, want := Normalize(q), slow(q); got != want {
			t.Fatalf("Normalize(%q) = %q, want %q", q, got, want)
		}
	}
	for _, q := range []string{"", " ", "a ", " a", "a  b", "A"} {
		if got, want := Normalize(q), slow(q); got != want {
			t.Fatalf("Normalize(%q) = %q, want %q", q, got, want)
		}
	}
	q := strings.Repeat("blue pen ", 3) + "refill"
	if n := testing.AllocsPerRun(100, func() { _ = Normalize(q) }); n != 0 {
		t.Fatalf("Normalize of a normalised query allocates %v times", n)
	}
}
