package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestReadQueries: bench serve's --queries keeps the non-empty lines,
// trimmed, and refuses a file without any.
func TestReadQueries(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, text string
		want       []string
		ok         bool
	}{
		{"lines", "red shoes\nline 42\n", []string{"red shoes", "line 42"}, true},
		{"blank and spaces", "\n  brand 7 \r\n\n", []string{"brand 7"}, true},
		{"empty", "\n \n", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name)
			os.WriteFile(p, []byte(c.text), 0o644)
			got, err := readQueries(p)
			if (err == nil) != c.ok || !slices.Equal(got, c.want) {
				t.Fatalf("readQueries = %q, %v; want %q (ok %v)", got, err, c.want, c.ok)
			}
		})
	}
	if _, err := readQueries(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing file gave queries")
	}
}
