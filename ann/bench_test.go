package ann

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Benchmarks on synthetic data (go test -bench . -benchtime … ./ann; see
// docs/benchmarks.md). The 1M × 64 sets are built once per process.

const benchDim = 64

type benchSet struct {
	vecs, queries []float32
	exact10       [][]Hit // exact top 10 of each query
	ivf           *IVF
	build         time.Duration
}

var (
	benchMu   sync.Mutex
	benchSets = map[string]*benchSet{}
)

// getBenchSet returns the data, queries and (when withIVF) an IVF index of
// one synthetic set: "clustered" (1000 clusters, σ 0.5), "wide" (1000
// clusters, σ 1) or "uniform".
func getBenchSet(b *testing.B, kind string, n int, withIVF bool) *benchSet {
	b.Helper()
	benchMu.Lock()
	defer benchMu.Unlock()
	key := fmt.Sprintf("%s/%d", kind, n)
	s := benchSets[key]
	if s == nil {
		s = &benchSet{}
		const nq = 200
		switch kind {
		case "clustered":
			all := clustered(n+nq, benchDim, 1000, 0.5, 42)
			s.vecs, s.queries = all[:n*benchDim], all[n*benchDim:]
		case "wide": // clusters as wide as the spread of their centres: they overlap
			all := clustered(n+nq, benchDim, 1000, 1.0, 42)
			s.vecs, s.queries = all[:n*benchDim], all[n*benchDim:]
		case "uniform":
			s.vecs, s.queries = uniform(n, benchDim, 42), uniform(nq, benchDim, 43)
		default:
			b.Fatalf("unknown set %q", kind)
		}
		benchSets[key] = s
	}
	if withIVF && s.ivf == nil {
		start := time.Now()
		x, err := BuildIVF(context.Background(), benchDim, s.vecs, IVFOptions{Seed: 1}, nil)
		if err != nil {
			b.Fatal(err)
		}
		s.ivf, s.build = x, time.Since(start)
		f, _ := NewFlat(benchDim, s.vecs)
		for i := 0; i < len(s.queries)/benchDim; i++ {
			s.exact10 = append(s.exact10, f.Search(s.queries[i*benchDim:(i+1)*benchDim], 10, nil))
		}
	}
	return s
}

// BenchmarkFlatTop100 is the exact scan: top 100 of n × 64.
func BenchmarkFlatTop100(b *testing.B) {
	for _, n := range []int{2420, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			s := getBenchSet(b, "uniform", n, false)
			f, _ := NewFlat(benchDim, s.vecs)
			nq := len(s.queries) / benchDim
			b.SetBytes(int64(len(s.vecs) * 4))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				j := i % nq
				f.Search(s.queries[j*benchDim:(j+1)*benchDim], 100, nil)
			}
		})
	}
}

// BenchmarkFlatTop100Filtered is the exact scan with a filter that accepts
// half of the items and an exclusion set of 50 items.
func BenchmarkFlatTop100Filtered(b *testing.B) {
	s := getBenchSet(b, "uniform", 100_000, false)
	f, _ := NewFlat(benchDim, s.vecs)
	ex := make([]int32, 50)
	for i := range ex {
		ex[i] = int32(i * 997)
	}
	filter := Exclude(ex, func(i int32) bool { return i%2 == 0 })
	nq := len(s.queries) / benchDim
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % nq
		f.Search(s.queries[j*benchDim:(j+1)*benchDim], 100, filter)
	}
}

// BenchmarkIVFBuild1M builds an IVF index over 1M × 64 clustered vectors
// (√n = 1000 lists). Run with -benchtime 1x.
func BenchmarkIVFBuild1M(b *testing.B) {
	s := getBenchSet(b, "clustered", 1_000_000, false)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := BuildIVF(context.Background(), benchDim, s.vecs, IVFOptions{Seed: 1}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIVFSearch1M measures top-10 query latency and recall@10 against
// the exact scan, at several nprobe, on clustered, wide-clustered and uniform
// 1M × 64 data.
func BenchmarkIVFSearch1M(b *testing.B) {
	for _, kind := range []string{"clustered", "wide", "uniform"} {
		for _, nprobe := range []int{4, 8, 16, 24, 32, 64, 128} {
			b.Run(fmt.Sprintf("%s/nprobe=%d", kind, nprobe), func(b *testing.B) {
				s := getBenchSet(b, kind, 1_000_000, true)
				nq := len(s.queries) / benchDim
				var approx [][]Hit
				for j := 0; j < nq; j++ {
					approx = append(approx, s.ivf.SearchProbe(s.queries[j*benchDim:(j+1)*benchDim], 10, nprobe, nil))
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					j := i % nq
					s.ivf.SearchProbe(s.queries[j*benchDim:(j+1)*benchDim], 10, nprobe, nil)
				}
				b.StopTimer()
				b.ReportMetric(recallAt(s.exact10, approx), "recall@10")
				b.ReportMetric(s.build.Seconds(), "build-s")
			})
		}
	}
}

// BenchmarkIVFMemory1M reports the heap held by a 1M × 64 IVF index.
func BenchmarkIVFMemory1M(b *testing.B) {
	s := getBenchSet(b, "clustered", 1_000_000, false)
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		x, err := BuildIVF(context.Background(), benchDim, s.vecs, IVFOptions{Seed: 1}, nil)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB-held")
		runtime.KeepAlive(x)
	}
}

// BenchmarkIVFQuant1M compares the storage of an IVF index over 1M × 64
// ("wide" clusters, the harder set) at the default nprobe: float32, int8
// with per-vector and per-dimension scales (each with exact re-ranking of
// the short list against the float32 vectors, as the recommender does, and
// without). It reports recall@10 against the exact scan and the bytes the
// stored vectors take per item.
func BenchmarkIVFQuant1M(b *testing.B) {
	s := getBenchSet(b, "wide", 1_000_000, true)
	nq := len(s.queries) / benchDim
	for _, c := range []struct {
		quant   Quant
		rescore bool
	}{{Float32, false}, {Int8, true}, {Int8, false}, {Int8Dim, true}, {Int8Dim, false}, {PQ, true}, {PQ, false}} {
		x := s.ivf
		if c.quant != Float32 {
			var err error
			if x, err = BuildIVF(context.Background(), benchDim, s.vecs, IVFOptions{Seed: 1, Quant: c.quant}, nil); err != nil {
				b.Fatal(err)
			}
			if c.rescore {
				x.SetRescore(exactRescore(s.vecs, benchDim))
			}
		}
		b.Run(fmt.Sprintf("%s/rerank=%v", c.quant, c.rescore), func(b *testing.B) {
			var approx [][]Hit
			for j := 0; j < nq; j++ {
				approx = append(approx, x.Search(s.queries[j*benchDim:(j+1)*benchDim], 10, nil))
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				j := i % nq
				x.Search(s.queries[j*benchDim:(j+1)*benchDim], 10, nil)
			}
			b.StopTimer()
			b.ReportMetric(recallAt(s.exact10, approx), "recall@10")
			b.ReportMetric(float64(x.VectorBytes())/float64(x.Len()), "bytes/item")
		})
	}
}

// BenchmarkIVFLoad1M is what a restart or a replica pays for the
// recommender's index of 1M × 64 (int8): reading the saved file, against
// building it (build-s, the k-means and assignment).
func BenchmarkIVFLoad1M(b *testing.B) {
	s := getBenchSet(b, "wide", 1_000_000, false)
	start := time.Now()
	x, err := BuildIVF(context.Background(), benchDim, s.vecs, IVFOptions{Seed: 1, Quant: Int8}, nil)
	if err != nil {
		b.Fatal(err)
	}
	build := time.Since(start)
	path := filepath.Join(b.TempDir(), "ials.ivf")
	if err := SaveIVF(path, x, "bench"); err != nil {
		b.Fatal(err)
	}
	st, _ := os.Stat(path)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := LoadIVF(path, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(build.Seconds(), "build-s")
	b.ReportMetric(float64(st.Size())/(1<<20), "file-MiB")
}
