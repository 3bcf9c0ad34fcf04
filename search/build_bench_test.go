package search

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
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
	defer reportCPU(b)()
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

// BenchmarkLoadSaved indexes the same buildN products with Load from the
// saved keyword index (written once before the timer), as a restart does:
// compare with BenchmarkBuild. Keyword only: the codes a server also
// takes from the file instead of its store are not in this measure.
func BenchmarkLoadSaved(b *testing.B) {
	items := synthItems(buildN)
	dir := b.TempDir()
	first, err := NewIndex(DefaultConfig(), Options{IndexDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	if err := first.Load(context.Background(), len(items), itemScan(items)); err != nil {
		b.Fatal(err)
	}
	first.kw.wg.Wait()
	if saves, _, _, _ := first.KeywordIndexStats(); saves != 1 {
		b.Fatalf("%d saves", saves)
	}
	defer reportCPU(b)()
	for b.Loop() {
		ix, err := NewIndex(DefaultConfig(), Options{IndexDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		if err := ix.Load(context.Background(), len(items), itemScan(items)); err != nil {
			b.Fatal(err)
		}
		if _, loads, reused, _ := ix.KeywordIndexStats(); loads != 1 || reused != int64(len(items)) {
			b.Fatalf("loaded %d, reused %d of %d", loads, reused, len(items))
		}
	}
}

// reportCPU starts counting the process's CPU time (user + system, all
// threads: the GC and the analysis workers too); the function it returns
// reports it per op as cpu-ms/op, the figure that holds on a busy machine.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64((cpu()-start).Milliseconds())/float64(b.N), "cpu-ms/op")
	}
}

// BenchmarkSaveKeyword writes the keyword index of buildN products after
// 1,000 of them changed, as the background save after a start does: over
// the file of the previous save ("copy": the unchanged products' analysis
// taken from it) and with no file ("analyse": every product analysed).
func BenchmarkSaveKeyword(b *testing.B) {
	items := synthItems(buildN)
	for _, c := range []struct {
		name   string
		noFile bool
	}{{"copy", false}, {"analyse", true}} {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			ix, err := NewIndex(DefaultConfig(), Options{IndexDir: dir})
			if err != nil {
				b.Fatal(err)
			}
			if err := ix.Load(context.Background(), len(items), itemScan(items)); err != nil {
				b.Fatal(err)
			}
			ix.kw.wg.Wait()
			changed := make([]catalog.Item, 0, 1000)
			for i := 0; i < len(items) && len(changed) < 1000; i += max(1, len(items)/1000) {
				it := items[i]
				it.Title += " renamed"
				changed = append(changed, it)
			}
			if err := ix.Upsert(context.Background(), changed...); err != nil {
				b.Fatal(err)
			}
			path := filepath.Join(dir, keywordFile)
			defer reportCPU(b)()
			for b.Loop() {
				if c.noFile {
					if err := os.Remove(path); err != nil {
						b.Fatal(err)
					}
				}
				ix.kw.saved.Store(-1)
				if err := ix.SaveKeyword(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
