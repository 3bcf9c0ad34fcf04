package ann

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/viterin/vek/vek32"
)

// BenchmarkSemantic1M is semantic search's retrieval at 1M products × 512
// (the dimension of USE-lite), unit vectors in 1000 overlapping clusters:
// the exact scan over float32 vectors (the search index before int8), the
// exact scan over int8 Codes (search.Index.semantic below 20k products),
// and ann.Lists over those Codes (the semantic index search builds from
// 20k products). Every variant
// reports recall@10 against the float32 scan and the memory its vectors
// hold. Run with -benchtime 20x; it needs about 4 GB.
func BenchmarkSemantic1M(b *testing.B) {
	const n, dim, nq = 1_000_000, 512, 50
	all := clustered(n+nq, dim, 1000, 1.0, 77)
	for i := 0; i < n+nq; i++ {
		row := all[i*dim : (i+1)*dim]
		vek32.MulNumber_Inplace(row, 1/vek32.Norm(row))
	}
	vecs, queries := all[:n*dim], all[n*dim:]
	flat, _ := NewFlat(dim, vecs)
	var exact [][]Hit
	for j := 0; j < nq; j++ {
		exact = append(exact, flat.Search(queries[j*dim:(j+1)*dim], 10, nil))
	}
	// a filter on a tenth of the catalogue (a category), applied inside
	category := func(i int32) bool { return i%10 == 4 }
	var exactF [][]Hit
	for j := 0; j < nq; j++ {
		exactF = append(exactF, flat.Search(queries[j*dim:(j+1)*dim], 10, category))
	}
	run := func(b *testing.B, bytes int64, search func(q []float32, filter func(int32) bool) []Hit) {
		for _, filtered := range []bool{false, true} {
			b.Run(fmt.Sprintf("filtered=%v", filtered), func(b *testing.B) {
				var f func(int32) bool
				ref := exact
				if filtered {
					f, ref = category, exactF
				}
				var approx [][]Hit
				for j := 0; j < nq; j++ {
					approx = append(approx, search(queries[j*dim:(j+1)*dim], f))
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					j := i % nq
					search(queries[j*dim:(j+1)*dim], f)
				}
				b.StopTimer()
				b.ReportMetric(recallAt(ref, approx), "recall@10")
				b.ReportMetric(float64(bytes)/(1<<20), "vector-MiB")
			})
		}
	}
	b.Run("float32-scan", func(b *testing.B) {
		run(b, int64(len(vecs))*4, func(q []float32, f func(int32) bool) []Hit { return flat.Search(q, 10, f) })
	})
	codes := make([]Code, n)
	var codeBytes int64
	for i := range codes {
		codes[i] = Encode(vecs[i*dim : (i+1)*dim])
		codeBytes += int64(codes[i].Bytes()) + 24 // and the slice header
	}
	b.Run("int8-code-scan", func(b *testing.B) {
		run(b, codeBytes, func(q []float32, f func(int32) bool) []Hit {
			qq := NewQuery(q)
			t := newTopK(10)
			for i := range codes {
				s := qq.Score(codes[i])
				if !t.Beats(int32(i), s) || (f != nil && !f(int32(i))) {
					continue
				}
				t.Push(int32(i), s)
			}
			return t.Sorted()
		})
	})
	// search.Index's semantic index: lists of ids over the Codes, the 24
	// nearest lists (more under a filter: 24/√share), then on while short
	nl := 1000
	lists, err := BuildLists(context.Background(), dim, vecs[:64*nl*dim], nl, n, 1)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(i)
	}
	for lo := 0; lo < n; lo += 4096 {
		hi := min(n, lo+4096)
		lists.AssignBatch(ids[lo:hi], vecs[lo*dim:hi*dim])
	}
	ids = nil
	b.Run("lists-over-codes", func(b *testing.B) {
		run(b, codeBytes+lists.Bytes(), func(q []float32, f func(int32) bool) []Hit {
			qq := NewQuery(q)
			t := newTopK(10)
			nprobe, probed := 24, 0
			if f != nil {
				nprobe = int(math.Ceil(24 / math.Sqrt(0.1)))
			}
			lists.Probe(q, func(ids []int32) bool {
				for _, id := range ids {
					if f != nil && !f(id) {
						continue
					}
					if s := qq.Score(codes[id]); t.Beats(id, s) {
						t.Push(id, s)
					}
				}
				probed++
				return probed < nprobe || !t.Full()
			})
			return t.Sorted()
		})
	})
	// IVF with the int8 vectors inside its lists (BenchmarkIVFQuant1M
	// measures it at 64 dimensions) would hold the vectors a second time
	// beside search's documents; it is not what search uses.
}
