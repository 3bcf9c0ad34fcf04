package related

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/demo"
	"github.com/aisle-dev/aisle/events"
)

// demoData is the embedded demo shop (2,420 items, 53,258 purchases).
func demoData(b testing.TB) ([]catalog.Item, []events.Event) {
	b.Helper()
	read := func(name string, fn func([]byte) error) {
		r, err := demo.Open(name)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			if err := fn(sc.Bytes()); err != nil {
				b.Fatal(err)
			}
		}
	}
	var items []catalog.Item
	var evs []events.Event
	read(demo.ItemsFile, func(l []byte) error {
		var it catalog.Item
		items = append(items, it)
		return json.Unmarshal(l, &items[len(items)-1])
	})
	read(demo.EventsFile, func(l []byte) error {
		var e events.Event
		evs = append(evs, e)
		return json.Unmarshal(l, &evs[len(evs)-1])
	})
	return items, evs
}

func heapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

// BenchmarkBuildDemo builds the demo shop's relations with default weights
// (what the first request waits for); heap-MB is the index's live heap.
func BenchmarkBuildDemo(b *testing.B) {
	items, evs := demoData(b)
	var ix *Index
	before := heapMB()
	for b.Loop() {
		var err error
		if ix, err = Build(context.Background(), items, evs, nil, nil, Config{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(heapMB()-before, "heap-MB")
	runtime.KeepAlive(ix)
}

// BenchmarkLearnDemo learns the blend and builds (the background rebuild).
func BenchmarkLearnDemo(b *testing.B) {
	items, evs := demoData(b)
	for b.Loop() {
		if _, _, err := Learn(context.Background(), items, evs, nil, nil, Config{}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWithItemsDemo is the cost of a catalogue change.
func BenchmarkWithItemsDemo(b *testing.B) {
	items, evs := demoData(b)
	ix, err := Build(context.Background(), items, evs, nil, nil, Config{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		ix.WithItems(items)
	}
}

func BenchmarkSimilarDemo(b *testing.B) {
	items, evs := demoData(b)
	ix, err := Build(context.Background(), items, evs, nil, nil, Config{})
	if err != nil {
		b.Fatal(err)
	}
	k := 0
	for b.Loop() {
		ix.Similar(items[k%len(items)].ID, 50, nil)
		k++
	}
}

func BenchmarkComplementsDemo(b *testing.B) {
	items, evs := demoData(b)
	ix, err := Build(context.Background(), items, evs, nil, nil, Config{})
	if err != nil {
		b.Fatal(err)
	}
	k := 0
	for b.Loop() {
		ix.Complements(items[k%len(items)].ID, 50, nil)
		k++
	}
}

// BenchmarkBuildContent builds the content index (category, brand,
// attributes and TF-IDF of titles) of AISLE_BUILD_ITEMS (default 20,000)
// products titled as `aisle bench synth` titles them: what a restore of
// the item relations rebuilds at start: "analysed" analyses every title,
// "from-snapshot" takes every item's terms from a snapshot's table.
func BenchmarkBuildContent(b *testing.B) {
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("AISLE_BUILD_ITEMS")); err == nil && v > 0 {
		n = v
	}
	adj := []string{"compact", "deluxe", "classic", "ergonomic", "heavy-duty", "slim"}
	col := []string{"black", "white", "blue", "red", "green", "grey"}
	mat := []string{"steel", "plastic", "oak", "leather", "cotton", "glass"}
	items := make([]catalog.Item, n)
	for i := range items {
		c := i % 1000
		items[i] = catalog.Item{ID: fmt.Sprintf("p%07d", i), Brand: fmt.Sprintf("Brand %d", c%97),
			Title:      fmt.Sprintf("%s %s %s noun%d, line %d, product %d", adj[i%6], col[i/6%6], mat[i/36%6], c%50, c, i),
			Categories: []string{fmt.Sprintf("Synthetic/Dept %d/Line %d", c%20, c)}}
	}
	cfg := Config{}
	cfg.defaults()
	rec := buildContent(items, cfg.Analyzer, nil, true)
	saved := &savedTexts{t: rec.texts, ids: rec.ids}
	for _, bc := range []struct {
		name  string
		saved *savedTexts
	}{{"analysed", nil}, {"from-snapshot", saved}} {
		b.Run(bc.name, func(b *testing.B) {
			for range b.N {
				buildContent(items, cfg.Analyzer, bc.saved, false)
			}
		})
	}
}
