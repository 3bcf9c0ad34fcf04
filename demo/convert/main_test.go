package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/internal/testdata"
)

// TestReproducesCommittedData converts the shared source again and checks the
// result is byte for byte the committed demo/data.
func TestReproducesCommittedData(t *testing.T) {
	src := testdata.Path(t, "amazon-office-5core")
	out := t.TempDir()
	if err := run(src, out, false, 1<<20, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"items.jsonl", "users.jsonl", "events.jsonl.gz"} {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("..", "data", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: conversion differs from the committed file; run go run ./demo/convert -src %s -out demo/data", name, src)
		}
	}
}

func prod(num, cat, brand int, text string) *product {
	return &product{num: num, cat: cat, brand: brand, words: strings.Fields(text)}
}

func TestSplit(t *testing.T) {
	prods := []*product{
		// brand 1: title starts with it
		prod(1, 1, 1, "Fellowes Gel Wrist Rest (91737) Wrist Rests Fellowes"),
		prod(2, 1, 1, "Fellowes Medium Mouse Pad (Blue) Mouse Pads Fellowes"),
		// brand 2: all its items share the leaf, so the common suffix swallows it
		prod(3, 1, 2, "Belkin Standard Mouse Pad -Blue Mouse Pads Belkin"),
		prod(4, 1, 2, "Belkin Premium Mouse Pad (Red) Mouse Pads Belkin"),
		// no brand code
		prod(5, 1, 0, "Generic Gel Wrist Rest, Large Wrist Rests"),
		prod(6, 1, 0, "Foam Mouse Pad 9 Inch Mouse Pads"),
		// a single-item brand whose title does not start with it
		prod(7, 1, 3, "Ergonomic Mouse Pad (Black) Mouse Pads Acme Corp"),
		// a title ending repeating the leaf
		prod(8, 2, 0, "Canon i960 Photo Printer Photo Printers"),
		prod(9, 2, 4, "Epson R200 Photo Printer Photo Printers Epson"),
		prod(10, 2, 4, "Epson C88 Color Printer (Black) Inkjet Printers Epson"),
		prod(11, 2, 0, "HP Deskjet 5650 Color Inkjet Printer Inkjet Printers"),
	}
	split(prods)
	want := []struct{ title, leaf, brand string }{
		{"Fellowes Gel Wrist Rest (91737)", "Wrist Rests", "Fellowes"},
		{"Fellowes Medium Mouse Pad (Blue)", "Mouse Pads", "Fellowes"},
		{"Belkin Standard Mouse Pad -Blue", "Mouse Pads", "Belkin"},
		{"Belkin Premium Mouse Pad (Red)", "Mouse Pads", "Belkin"},
		{"Generic Gel Wrist Rest, Large", "Wrist Rests", ""},
		{"Foam Mouse Pad 9 Inch", "Mouse Pads", ""},
		{"Ergonomic Mouse Pad (Black)", "Mouse Pads", "Acme Corp"},
		{"Canon i960 Photo Printer", "Photo Printers", ""},
		{"Epson R200 Photo Printer", "Photo Printers", "Epson"},
		{"Epson C88 Color Printer (Black)", "Inkjet Printers", "Epson"},
		{"HP Deskjet 5650 Color Inkjet Printer", "Inkjet Printers", ""},
	}
	for i, p := range prods {
		w := want[i]
		if p.title != w.title || p.leaf != w.leaf || p.brandS != w.brand {
			t.Errorf("item %d: got %q | %q | %q, want %q | %q | %q", p.num, p.title, p.leaf, p.brandS, w.title, w.leaf, w.brand)
		}
	}
}

func TestFallbackLeaf(t *testing.T) {
	for _, c := range []struct{ rest, want string }{
		{"Canon PC 170 Personal Copier Copiers", "Copiers"},
		{"X-ACTO Guillotine Trimmer (26624) Paper Trimmers & Blades", "Paper Trimmers & Blades"},
		{"Nyrius Translator for 7 International Languages Foreign Language Translators", "Foreign Language Translators"},
		{"Rubber Stamp - 3 Lines (42A1539) Stamps", "Stamps"},
		{"Stamps", "Stamps"},
		{"Office Star Table, Light Grey Tables", "Tables"},
	} {
		rest := strings.Fields(c.rest)
		if got := strings.Join(rest[len(rest)-fallbackLeaf(rest):], " "); got != c.want {
			t.Errorf("fallbackLeaf(%q) = %q, want %q", c.rest, got, c.want)
		}
	}
}

func TestLeafLike(t *testing.T) {
	for _, c := range []struct {
		s    string
		want bool
	}{
		{"Sheet Protectors, Card & Photo Sleeves", true},
		{"Inkjet Printer Ink", true},
		{"& Hole Reinforcements", false},
		{"Black Desk Chairs", false},
		{"Chair, Black Task Chairs", false},
		{"12-Pack Ballpoint Pens", false},
		{"in Retail Packaging", false},
		{"(Blue) Mouse Pads", false},
	} {
		if got := leafLike(strings.Fields(c.s)); got != c.want {
			t.Errorf("leafLike(%q) = %v, want %v", c.s, got, c.want)
		}
	}
}

// FuzzSplit checks that any texts are split without panicking into title,
// category and brand that together are exactly the original words.
func FuzzSplit(f *testing.F) {
	f.Add("Fellowes Gel Wrist Rest Wrist Rests Fellowes", "Fellowes Mouse Pad Mouse Pads Fellowes", 1, 1, 1, 1)
	f.Add("A", "B C", 0, 0, 1, 2)
	f.Add("Erase Boards The Board Dudes", "x The", 3, 3, 5, 5)
	f.Fuzz(func(t *testing.T, a, b string, ca, cb, ba, bb int) {
		ps := []*product{prod(1, ca&7, ba&7, a), prod(2, cb&7, bb&7, b)}
		for _, p := range ps {
			if len(p.words) == 0 {
				t.Skip() // the reader rejects items without text
			}
		}
		split(ps)
		for _, p := range ps {
			var parts []string
			for _, s := range []string{p.title, p.leaf, p.brandS} {
				if s != "" {
					parts = append(parts, s)
				}
			}
			if got, want := strings.Join(parts, " "), strings.Join(p.words, " "); got != want {
				t.Fatalf("split %q into %q | %q | %q", want, p.title, p.leaf, p.brandS)
			}
			if p.leaf == "" {
				t.Fatalf("no category for %q", p.words)
			}
		}
	})
}
