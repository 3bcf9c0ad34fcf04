package search

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
)

// synthItems returns n products shaped like `aisle bench synth`'s.
func synthItems(n int) []catalog.Item {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	items := make([]catalog.Item, n)
	for i := range items {
		c := i % 1000
		p := float64(1 + i%500)
		items[i] = catalog.Item{ID: fmt.Sprintf("p%07d", i), Title: fmt.Sprintf("Product %d of line %d", i, c), Brand: fmt.Sprintf("Brand %d", c%97),
			Categories: []string{fmt.Sprintf("Synthetic/Dept %d/Line %d", c%20, c)}, Price: &p, Available: true, CreatedAt: t0}
	}
	return items
}

// BenchmarkBuild indexes buildN products with Load, as the server's start
// does (wire.LoadSearch).
func BenchmarkBuild(b *testing.B) {
	items := synthItems(buildN)
	for b.Loop() {
		ix, err := NewIndex(DefaultConfig(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := ix.Load(context.Background(), len(items), itemScan(items)); err != nil {
			b.Fatal(err)
		}
	}
}

// buildN is the catalogue size of BenchmarkBuild (AISLE_BUILD_ITEMS).
var buildN = func() int {
	if n, err := strconv.Atoi(os.Getenv("AISLE_BUILD_ITEMS")); err == nil && n > 0 {
		return n
	}
	return 200_000
}()
