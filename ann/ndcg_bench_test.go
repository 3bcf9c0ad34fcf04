package ann_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/ann"
	"github.com/aisle-dev/aisle/eval"
	"github.com/aisle-dev/aisle/internal/testdata"
	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/mf"
	"github.com/viterin/vek/vek32"
)

// BenchmarkQuantNDCG measures what int8 vectors cost in ranking quality on
// the shared data sets: iALS (default parameters) is fitted on each data
// set's training split, every test user is answered top 10 over all items
// (their history excluded, the protocol's targets relevant) by the exact
// float32 scan, by IVF over float32, and by IVF over int8 (per-vector and
// per-dimension scales, with and without exact re-ranking of the short
// list), and by IVF over PQ codes (8, 16 and 32 bytes, re-ranked by the
// float32 vectors or by int8 codes, or not at all); NDCG@10, recall@10
// against the exact scan, bytes an item and µs a query are reported.
// Run: AISLE_SHARED_DATA=/work/shared/data go test ./ann -run - -bench QuantNDCG -benchtime 1x
func BenchmarkQuantNDCG(b *testing.B) {
	for _, ds := range []struct{ name, format, dir string }{
		{"ml-1m", "lcfn", "movielens-1m-implicit"},
		{"office", "rechorus", "amazon-office-5core"},
		{"beauty", "s3rec", "s3rec-sequential/Beauty.txt"},
	} {
		b.Run(ds.name, func(b *testing.B) {
			path := testdata.Path(b, strings.Split(ds.dir, "/")...)
			data, err := eval.Load(context.Background(), ds.format, path, eval.LoadOptions{})
			if err != nil {
				b.Fatal(err)
			}
			sp := data.Splits[0]
			m, err := mf.NewIALS(model.Params{})
			if err != nil {
				b.Fatal(err)
			}
			if err := m.Fit(context.Background(), sp.Train, nil); err != nil {
				b.Fatal(err)
			}
			dim, vecs := m.ItemVectors()
			if bias := m.ItemBias(); bias != nil {
				aug := make([]float32, 0, len(vecs)/dim*(dim+1))
				for i := 0; i < len(vecs)/dim; i++ {
					aug = append(aug, vecs[i*dim:(i+1)*dim]...)
					aug = append(aug, bias[i])
				}
				dim, vecs = dim+1, aug
			}
			// queries: the model's user vectors
			type query struct {
				q       []float32
				exclude func(int32) bool
				targets []int32
			}
			var qs []query
			for _, c := range sp.Cases {
				if len(c.Targets) == 0 {
					continue
				}
				q := make([]float32, dim)
				ud, _ := m.ItemVectors()
				if !m.UserVector(model.Query{User: c.User, History: c.History}, q[:ud]) {
					continue
				}
				if dim > ud {
					q[ud] = 1
				}
				qs = append(qs, query{q, ann.Exclude(c.Exclude, nil), c.Targets})
			}
			flat, _ := ann.NewFlat(dim, vecs)
			var exact [][]ann.Hit
			for _, q := range qs {
				exact = append(exact, flat.Search(q.q, 10, q.exclude))
			}
			ndcg := func(hits [][]ann.Hit) float64 {
				var sum float64
				for i, q := range qs {
					rel := map[int32]bool{}
					for _, t := range q.targets {
						rel[t] = true
					}
					var dcg, idcg float64
					for r, h := range hits[i] {
						if rel[h.Index] {
							dcg += 1 / math.Log2(float64(r+2))
						}
					}
					for r := 0; r < min(10, len(q.targets)); r++ {
						idcg += 1 / math.Log2(float64(r+2))
					}
					sum += dcg / idcg
				}
				return sum / float64(len(qs))
			}
			base := ndcg(exact)
			b.Logf("%s: %d items × %d, %d test users, exact float32 NDCG@10 %.4f", ds.name, len(vecs)/dim, dim, len(qs), base)
			b.Run("flat-float32", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					for _, q := range qs {
						flat.Search(q.q, 10, q.exclude)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(qs)), "µs/query")
				b.ReportMetric(float64(dim*4+4), "bytes/item")
			})
			// int8 codes of every item: the re-ranking source of a PQ index
			// when no float32 copy is kept (e.g. semantic search's codes)
			codes := make([]ann.Code, len(vecs)/dim)
			for i := range codes {
				codes[i] = ann.Encode(vecs[i*dim : (i+1)*dim])
			}
			for _, c := range []struct {
				quant   ann.Quant
				rescore string // "", "float32" or "int8"
				pqSub   int
				rerank  int
			}{
				{quant: ann.Float32}, {quant: ann.Int8, rescore: "float32"}, {quant: ann.Int8}, {quant: ann.Int8Dim, rescore: "float32"}, {quant: ann.Int8Dim},
				{quant: ann.PQ, rescore: "float32", pqSub: 8}, {quant: ann.PQ, rescore: "float32", pqSub: 16}, {quant: ann.PQ, rescore: "float32", pqSub: 32},
				{quant: ann.PQ, rescore: "float32", pqSub: 16, rerank: 64}, {quant: ann.PQ, rescore: "int8", pqSub: 16}, {quant: ann.PQ, pqSub: 16},
			} {
				name := fmt.Sprintf("ivf-%s", c.quant)
				if c.quant == ann.PQ {
					name += fmt.Sprintf("%d", c.pqSub)
				}
				if c.quant != ann.Float32 {
					name += "/rerank=" + c.rescore
					if c.rescore == "" {
						name += "none"
					}
				}
				if c.rerank > 0 {
					name += fmt.Sprintf("%d", c.rerank)
				}
				x, err := ann.BuildIVF(context.Background(), dim, vecs, ann.IVFOptions{Seed: 1, Quant: c.quant, PQSub: c.pqSub, Rerank: c.rerank}, nil)
				if err != nil {
					b.Fatal(err)
				}
				switch c.rescore {
				case "float32":
					x.SetRescore(func(q []float32, id int32) float32 { return vek32.Dot(q, vecs[int(id)*dim:int(id+1)*dim]) })
				case "int8":
					x.SetRescore(func(q []float32, id int32) float32 { return codes[id].Dot(q) })
				}
				// nprobe = all lists isolates the quantisation's loss
				// from the partitioning's
				for _, nprobe := range []int{0, x.Lists()} {
					b.Run(fmt.Sprintf("%s/nprobe=%d", name, nprobe), func(b *testing.B) {
						var approx [][]ann.Hit
						for i := 0; i < b.N; i++ {
							approx = approx[:0]
							for _, q := range qs {
								approx = append(approx, x.SearchProbe(q.q, 10, nprobe, q.exclude))
							}
						}
						b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(qs)), "µs/query")
						n := ndcg(approx)
						b.ReportMetric(base, "ndcg@10-exact")
						b.ReportMetric(n, "ndcg@10")
						b.ReportMetric(100*(base-n)/base, "loss-%")
						b.ReportMetric(ann.RecallAt(exact, approx), "recall@10")
						b.ReportMetric(float64(x.VectorBytes())/float64(x.Len()), "bytes/item")
					})
				}
			}
		})
	}
}
