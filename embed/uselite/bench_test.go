package uselite

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/internal/testdata"
)

// esciTitles reads the product titles (and title + brand + bullets
// documents) of the ESCI-US 150 catalogue; the benchmark skips without it.
func esciTitles(b *testing.B) (titles, docs []string) {
	b.Helper()
	path := testdata.Path(b, "esci-us-150", "esci_us_ecommerce_shrunk.ndjson.zip")
	zr, err := zip.OpenReader(path)
	if err != nil {
		b.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(rc)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var p struct {
				Title   string `json:"title"`
				Brand   string `json:"brand"`
				Bullets string `json:"bullet_points"`
			}
			if json.Unmarshal(sc.Bytes(), &p) != nil || p.Title == "" {
				continue // the _bulk action lines
			}
			titles = append(titles, p.Title)
			docs = append(docs, strings.Join([]string{p.Title, p.Brand, p.Bullets}, " "))
		}
		rc.Close()
		if err := sc.Err(); err != nil {
			b.Fatal(err)
		}
	}
	if len(titles) == 0 {
		b.Fatal("no titles read")
	}
	return titles, docs
}

// BenchmarkLoad decodes the embedded model package (gunzip, untar, weights,
// vocabulary) as the first Embed call does.
// It also reports the heap the loaded model holds.
func BenchmarkLoad(b *testing.B) {
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cpu := cpuTime()
	var enc *Encoder
	for b.Loop() {
		enc = New(Config{})
		if err := enc.Load(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu, b.N, "load")
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/1e6, "heap-MB")
	runtime.KeepAlive(enc)
}

// BenchmarkQuery is the per-request path: one short query per call.
func BenchmarkQuery(b *testing.B) {
	enc := encoder(b)
	ctx := context.Background()
	cpu := cpuTime()
	for b.Loop() {
		if _, err := enc.Embed(ctx, []string{"red running shoes"}); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu, b.N, "query")
}

// BenchmarkTitle embeds real product titles one per call (mean 110
// characters), so ns/op is the latency of one title on one core.
func BenchmarkTitle(b *testing.B) {
	titles, _ := esciTitles(b)
	enc := encoder(b)
	tokens := 0
	for _, t := range titles {
		tokens += min(len(enc.tok.Encode(t)), MaxTokens)
	}
	ctx := context.Background()
	i := 0
	cpu := cpuTime()
	for b.Loop() {
		if _, err := enc.Embed(ctx, titles[i%len(titles):i%len(titles)+1]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportCPU(b, cpu, b.N, "title")
	b.ReportMetric(float64(tokens)/float64(len(titles)), "tokens/title")
}

// BenchmarkBatch embeds 256 titles (or title+brand+bullets documents, cut
// at 128 tokens) per op with 1 and 2 workers: ingest throughput.
func BenchmarkBatch(b *testing.B) {
	titles, docs := esciTitles(b)
	base := encoder(b)
	for _, set := range []struct {
		name  string
		texts []string
	}{{"titles", titles[:256]}, {"docs", docs[:256]}} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/workers=%d", set.name, workers), func(b *testing.B) {
				enc := New(Config{Workers: workers})
				enc.tok, enc.model = base.tok, base.model
				enc.once.Do(func() {})
				ctx := context.Background()
				cpu := cpuTime()
				for b.Loop() {
					if _, err := enc.Embed(ctx, set.texts); err != nil {
						b.Fatal(err)
					}
				}
				reportCPU(b, cpu, b.N*len(set.texts), "text")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(set.texts))/1e6, "ms/text")
			})
		}
	}
}

// BenchmarkCatalogue embeds the titles of the whole ESCI-US 150 catalogue
// (6,764 products) with GOMAXPROCS workers, as ingest does.
func BenchmarkCatalogue(b *testing.B) {
	docs, _ := esciTitles(b)
	enc := encoder(b)
	ctx := context.Background()
	cpu := cpuTime()
	for b.Loop() {
		if _, err := enc.Embed(ctx, docs); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu, b.N*len(docs), "title")
	b.ReportMetric(float64(len(docs))/(b.Elapsed().Seconds()/float64(b.N)), "titles/s")
}
