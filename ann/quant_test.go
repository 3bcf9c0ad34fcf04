package ann

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/viterin/vek/vek32"
)

// exactRescore is the rescorer a model gives: the float32 dot product.
func exactRescore(vecs []float32, dim int) func(q []float32, id int32) float32 {
	return func(q []float32, id int32) float32 {
		return vek32.Dot(q, vecs[int(id)*dim:int(id+1)*dim])
	}
}

// TestQuantRecall is the quality bar of the quantised index at its default
// settings on a fixed synthetic set: recall@10 against the exact scan must
// be at least 0.95 with and without a filter, and a filtered search must
// still return 10 items.
func TestQuantRecall(t *testing.T) {
	for _, dim := range []int{64, 33} {
		vecs := clustered(6000, dim, 60, 0.5, 21)
		queries := clustered(100, dim, 60, 0.5, 21)
		f, _ := NewFlat(dim, vecs)
		category := func(i int32) bool { return i%7 == 3 } // a seventh of the catalogue
		for _, c := range []struct {
			quant   Quant
			rescore bool
		}{{Int8, true}, {Int8, false}, {Int8Dim, true}, {Int8Dim, false}, {PQ, true}} {
			if dim != 64 && !(c.rescore && (c.quant == Int8 || c.quant == PQ)) {
				continue // the odd dimension (padding, unequal sub-vectors) once, with the storages served
			}
			t.Run(fmt.Sprintf("dim=%d/%s/rescore=%v", dim, c.quant, c.rescore), func(t *testing.T) {
				x, err := BuildIVF(context.Background(), dim, vecs, IVFOptions{Seed: 3, Quant: c.quant}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if c.rescore {
					x.SetRescore(exactRescore(vecs, dim))
				}
				for _, filter := range []func(int32) bool{nil, category} {
					var exact, approx [][]Hit
					for i := 0; i < len(queries)/dim; i++ {
						q := queries[i*dim : (i+1)*dim]
						exact = append(exact, f.Search(q, 10, filter))
						got := x.Search(q, 10, filter)
						if len(got) != 10 {
							t.Fatalf("query %d: %d hits, want 10", i, len(got))
						}
						for _, h := range got {
							if filter != nil && !filter(h.Index) {
								t.Fatalf("query %d: item %d does not pass the filter", i, h.Index)
							}
						}
						approx = append(approx, got)
					}
					r := recallAt(exact, approx)
					t.Logf("recall@10 %.3f (filtered %v)", r, filter != nil)
					if r < 0.95 {
						t.Fatalf("recall@10 = %.3f (filtered %v), want ≥ 0.95", r, filter != nil)
					}
				}
			})
		}
	}
}

// TestQuantScoresCloseToExact bounds the int8 error: without a rescorer the
// returned scores are int8 estimates within 2% of the vectors' product of
// lengths; with one they are the exact dot products.
func TestQuantScoresCloseToExact(t *testing.T) {
	const dim = 48
	vecs := uniform(3000, dim, 8)
	qs := uniform(10, dim, 9)
	for _, quant := range []Quant{Int8, Int8Dim} {
		for _, rescore := range []bool{false, true} {
			x, err := BuildIVF(context.Background(), dim, vecs, IVFOptions{Lists: 10, Seed: 1, Quant: quant, Rerank: 3000}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rescore {
				x.SetRescore(exactRescore(vecs, dim))
			}
			for i := 0; i < 10; i++ {
				q := qs[i*dim : (i+1)*dim]
				got := x.SearchProbe(q, 20, 10, nil)
				if rescore { // every item in the short list: exact
					sameUpToTies(t, fmt.Sprintf("%s rescored", quant), got, bruteForce(dim, vecs, q, 20, nil))
					continue
				}
				for _, h := range got {
					v := vecs[int(h.Index)*dim : int(h.Index+1)*dim]
					want := vek32.Dot(q, v)
					tol := 0.02 * vek32.Norm(q) * vek32.Norm(v)
					if math.Abs(float64(h.Score-want)) > float64(tol) {
						t.Fatalf("%s: item %d scores %.4f, exact %.4f (tolerance %.4f)", quant, h.Index, h.Score, want, tol)
					}
				}
			}
		}
	}
}

func TestQuantAddAndEdgeVectors(t *testing.T) {
	const dim = 16
	vecs := clustered(2000, dim, 20, 0.3, 11)
	for _, quant := range []Quant{Int8, Int8Dim, PQ} {
		x, err := BuildIVF(context.Background(), dim, vecs[:1500*dim], IVFOptions{Seed: 1, Quant: quant, Rerank: 2000}, nil)
		if err != nil {
			t.Fatal(err)
		}
		x.SetRescore(exactRescore(vecs, dim))
		for i := 1500; i < 2000; i++ {
			if id, err := x.Add(vecs[i*dim : (i+1)*dim]); err != nil || id != int32(i) {
				t.Fatalf("%s: Add #%d = %d, %v", quant, i, id, err)
			}
		}
		q := vecs[1700*dim : 1701*dim]
		sameUpToTies(t, quant.String()+" after Add", x.SearchProbe(q, 10, x.Lists(), nil), bruteForce(dim, vecs, q, 10, nil))
		// a zero vector and a query of zeros do not break the scan
		if _, err := x.Add(make([]float32, dim)); err != nil {
			t.Fatal(err)
		}
		if got := x.Search(make([]float32, dim), 5, nil); len(got) != 5 {
			t.Fatalf("%s: zero query gave %d hits", quant, len(got))
		}
	}
}

func TestParseQuant(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Quant
		ok   bool
	}{{"float32", Float32, true}, {"int8", Int8, true}, {"int8dim", Int8Dim, true}, {"pq", PQ, true}, {"PQ", 0, false}, {"", 0, false}} {
		got, err := ParseQuant(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseQuant(%q) = %v, %v", c.in, got, err)
		}
	}
}

// sameUpToTies is sameHits where two items whose scores differ by float
// rounding (1e-4) may come in either order.
func sameUpToTies(t *testing.T, what string, got, want []Hit) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d hits, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i].Score-want[i].Score)) > 1e-4 {
			t.Fatalf("%s: hit %d = %v, want %v\n got %v\nwant %v", what, i, got[i], want[i], got, want)
		}
		if got[i].Index != want[i].Index {
			ok := (i > 0 && got[i].Index == want[i-1].Index) || (i+1 < len(want) && got[i].Index == want[i+1].Index)
			if !ok {
				t.Fatalf("%s: hit %d = %v, want %v\n got %v\nwant %v", what, i, got[i], want[i], got, want)
			}
		}
	}
}

func TestCodeScoresAndDecodes(t *testing.T) {
	vecs := uniform(50, 37, 12)
	qv := uniform(1, 37, 13)
	q := NewQuery(qv)
	for i := 0; i < 50; i++ {
		v := vecs[i*37 : (i+1)*37]
		c := Encode(v)
		if c.Len() != 37 || c.Bytes() != 48+4 {
			t.Fatalf("Len %d Bytes %d", c.Len(), c.Bytes())
		}
		want := vek32.Dot(v, qv)
		tol := float64(0.02 * vek32.Norm(v) * vek32.Norm(qv))
		if got := q.Score(c); math.Abs(float64(got-want)) > tol {
			t.Fatalf("Score %v, exact %v", got, want)
		}
		if got := c.Dot(qv); math.Abs(float64(got-want)) > tol {
			t.Fatalf("Dot %v, exact %v", got, want)
		}
		for d, x := range c.Decode(nil) {
			if math.Abs(float64(x-v[d])) > float64(c.scale) {
				t.Fatalf("Decode[%d] = %v, want %v", d, x, v[d])
			}
		}
	}
	if s := q.Score(Code{}); s == s {
		t.Fatalf("score of no vector = %v, want NaN", s)
	}
	if s := q.Score(Encode(make([]float32, 36))); s == s {
		t.Fatalf("score of another dimension = %v, want NaN", s)
	}
}

// TestPQCodes checks the product quantiser on its own: sub-vectors cover
// the dimensions exactly (unequal lengths included), codes decode to the
// nearest centroid of each sub-vector, ADC scores equal the dot product
// with the decoded vector, and PQ costs m bytes an item in the index.
func TestPQCodes(t *testing.T) {
	for _, c := range []struct{ dim, m int }{{16, 4}, {17, 5}, {33, 33}, {8, 1}} {
		t.Run(fmt.Sprintf("dim=%d/m=%d", c.dim, c.m), func(t *testing.T) {
			vecs := clustered(1200, c.dim, 12, 0.4, 4)
			x, err := BuildIVF(context.Background(), c.dim, vecs, IVFOptions{Seed: 1, Quant: PQ, PQSub: c.m, Lists: 8}, nil)
			if err != nil {
				t.Fatal(err)
			}
			b := x.pq
			if b.m() != c.m || b.bounds[0] != 0 || b.bounds[c.m] != c.dim {
				t.Fatalf("bounds %v for dim %d, m %d", b.bounds, c.dim, c.m)
			}
			for s := 0; s < c.m; s++ {
				if b.bounds[s+1] <= b.bounds[s] {
					t.Fatalf("empty sub-vector %d: %v", s, b.bounds)
				}
			}
			if got := x.VectorBytes(); got != int64(1200*(c.m+4)) {
				t.Fatalf("VectorBytes %d, want %d", got, 1200*(c.m+4))
			}
			q := uniform(1, c.dim, 5)
			lut := b.table(q)
			code := make([]int8, c.m)
			dec := make([]float32, c.dim)
			var errSum, normSum float64
			for i := 0; i < 1200; i++ {
				v := vecs[i*c.dim : (i+1)*c.dim]
				b.encode(code, v)
				b.decode(dec, code)
				var sc [1]float32
				scorePQ(sc[:], code, lut, c.m)
				if want := vek32.Dot(q, dec); math.Abs(float64(sc[0]-want)) > 1e-4*(1+math.Abs(float64(want))) {
					t.Fatalf("item %d: ADC %v, dot with decoded %v", i, sc[0], want)
				}
				errSum += float64(vek32.Distance(v, dec))
				normSum += float64(vek32.Norm(v))
			}
			// 12 clusters, ≥ 256 centroids a sub-vector: the codes are close
			if r := errSum / normSum; r > 0.35 {
				t.Fatalf("relative reconstruction error %.3f", r)
			}
		})
	}
	if _, err := BuildIVF(context.Background(), 4, uniform(10, 4, 1), IVFOptions{Quant: PQ, PQSub: 5}, nil); err == nil {
		t.Fatal("5 sub-vectors of 4 dimensions built")
	}
	if _, err := BuildIVF(context.Background(), 4, nil, IVFOptions{Quant: PQ}, nil); err == nil {
		t.Fatal("PQ index built without training vectors")
	}
}

// TestTable checks the int8 table: every score is within 2% of the
// product of lengths of the exact dot product, the batch kernel (Scores)
// and the single-row Score agree, rows decode to within one step of the
// scale, and the table holds a quarter of the float32 bytes (plus scales).
func TestTable(t *testing.T) {
	for _, c := range []struct{ n, dim int }{{1, 7}, {1500, 64}, {2049, 37}} {
		t.Run(fmt.Sprintf("n=%d/dim=%d", c.n, c.dim), func(t *testing.T) {
			vecs := uniform(c.n, c.dim, 31)
			q := uniform(1, c.dim, 32)
			tb, err := NewTable(c.dim, vecs)
			if err != nil {
				t.Fatal(err)
			}
			if tb.Len() != c.n || tb.Dim() != c.dim || tb.Bytes() != int64(c.n*(padDim(c.dim)+4)) {
				t.Fatalf("Len %d Dim %d Bytes %d", tb.Len(), tb.Dim(), tb.Bytes())
			}
			scores := tb.Scores(make([]float32, c.n+3), q)
			dec := tb.Decode()
			for r := 0; r < c.n; r++ {
				v := vecs[r*c.dim : (r+1)*c.dim]
				want := vek32.Dot(q, v)
				tol := 0.02 * float64(vek32.Norm(q)*vek32.Norm(v))
				if math.Abs(float64(scores[r]-want)) > tol {
					t.Fatalf("row %d: Scores %v, exact %v", r, scores[r], want)
				}
				if one := tb.Score(q, int32(r)); math.Abs(float64(one-scores[r])) > tol/4 {
					t.Fatalf("row %d: Score %v, Scores %v", r, one, scores[r])
				}
				for d, x := range dec[r*c.dim : (r+1)*c.dim] {
					if math.Abs(float64(x-v[d])) > float64(tb.scales[r]) {
						t.Fatalf("row %d dim %d: decoded %v, was %v", r, d, x, v[d])
					}
				}
			}
		})
	}
	if _, err := NewTable(3, make([]float32, 4)); err == nil {
		t.Fatal("4 floats made vectors of dimension 3")
	}
}
