package search

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/ltr-features.md from featureTable")

// featureDoc renders featureTable as the Markdown of docs/ltr-features.md.
func featureDoc() string {
	var b strings.Builder
	b.WriteString("# Learned-ranking features\n\n")
	b.WriteString("The feature vector that `search.ModeLTR` scores, in vector order. Generated from `featureTable`\n")
	b.WriteString("in search/ltrfeatures.go (`go test ./search -run TestFeatureDoc -update-docs`); do not edit by hand.\n")
	b.WriteString("A stored model lists these names and an index refuses a model trained on another list.\n\n")
	b.WriteString("| position | name | what it measures |\n| --- | --- | --- |\n")
	for i, f := range featureTable {
		fmt.Fprintf(&b, "| %d | `%s` | %s |\n", i, f.name, strings.ReplaceAll(f.doc, "|", `\|`))
	}
	return b.String()
}

func TestFeatureDoc(t *testing.T) {
	path := filepath.Join("..", "docs", "ltr-features.md")
	want := featureDoc()
	if *updateDocs {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./search -run TestFeatureDoc -update-docs)", err)
	}
	if string(got) != want {
		t.Errorf("%s is not what featureTable says; run go test ./search -run TestFeatureDoc -update-docs", path)
	}
}
