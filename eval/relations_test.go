package eval

import (
	"fmt"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/search/analysis"
)

// Two items with the same title tie in the content baseline, and a tie
// goes to the smaller id every time: the score of shared terms must not
// depend on the order a map yields them in.
func TestContentBaselineTiesAreStable(t *testing.T) {
	an, err := analysis.NewRegistry(analysis.Options{}).Analyzer(analysis.AnalyzerEnglish)
	if err != nil {
		t.Fatal(err)
	}
	title := "stapler paper clips binder folder marker eraser ruler"
	items := []catalog.Item{
		{ID: "anchor", Title: title, Categories: []string{"A"}},
		{ID: "j1", Title: title, Categories: []string{"B"}},
		{ID: "j2", Title: title, Categories: []string{"B"}},
	}
	// filler items give the terms different document frequencies
	for k, w := range []string{"stapler", "paper paper", "clips", "binder", "folder marker", "eraser", "ruler ruler"} {
		for r := 0; r <= k; r++ {
			items = append(items, catalog.Item{ID: fmt.Sprintf("f%d-%d", k, r), Title: w, Categories: []string{"C"}})
		}
	}
	for run := 0; run < 30; run++ {
		got := ContentBaseline([]string{"anchor"}, items, an, 2)["anchor"]
		if len(got) != 2 || got[0] != "j1" || got[1] != "j2" {
			t.Fatalf("run %d: %v, want [j1 j2]", run, got)
		}
	}
}
