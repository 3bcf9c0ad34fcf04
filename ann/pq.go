package ann

import (
	"context"
	"fmt"
	"math/rand/v2"
)

// Product quantisation (Quant PQ): the dimensions are cut into M
// contiguous sub-vectors, each sub-vector is replaced by the index of its
// nearest of (up to) 256 centroids learnt by k-means on a sample, so an item
// is M bytes. A query is scored against every code by asymmetric distance
// computation (ADC): a lookup table holds the query's dot product with every
// sub-centroid, and an item's score is the sum of M table entries. The
// approximation is coarser than int8's, so a PQ index is meant to be used
// with a rescorer (SetRescore) that re-ranks a short list (DefaultPQRerank)
// in full precision (the model's float32 vectors, or int8 codes held
// elsewhere). See docs/vectors.md for the measured loss.

// pqK is the number of centroids of each sub-quantiser: one byte a code.
const pqK = 256

// DefaultPQRerank is the default short-list length of a PQ search with a
// rescorer: PQ's scores are coarser than int8's, so more candidates are
// re-scored (docs/benchmarks.md, "Product quantisation").
const DefaultPQRerank = 200

// pqTrainMax bounds the vectors each sub-quantiser's k-means trains on.
const pqTrainMax = 64 * pqK

// pqBook is a trained product quantiser.
type pqBook struct {
	dim    int
	bounds []int     // M+1 offsets: sub-vector s is dims bounds[s]..bounds[s+1]
	k      int       // centroids a sub-quantiser (≤ pqK)
	cent   []float32 // for each s: k × (bounds[s+1]−bounds[s]), in order
	off    []int     // offset of sub-quantiser s's centroids in cent
}

// DefaultPQSub returns the default number of sub-quantisers for dim: one
// for every 4 dimensions (16 bytes an item at 64 dimensions), at least 1.
func DefaultPQSub(dim int) int { return max(1, (dim+3)/4) }

// newPQBook lays out a quantiser of m sub-vectors over dim dimensions with
// k centroids each (centroids zero until trained or read).
func newPQBook(dim, m, k int) (*pqBook, error) {
	if m <= 0 || m > dim {
		return nil, fmt.Errorf("ann: %d product-quantiser sub-vectors for dimension %d (want 1..%d)", m, dim, dim)
	}
	if k <= 0 || k > pqK {
		return nil, fmt.Errorf("ann: %d centroids a sub-quantiser (want 1..%d)", k, pqK)
	}
	b := &pqBook{dim: dim, k: k, bounds: make([]int, m+1), off: make([]int, m+1)}
	for s := 0; s <= m; s++ {
		b.bounds[s] = s * dim / m // as equal as possible, contiguous
	}
	for s := 0; s < m; s++ {
		b.off[s+1] = b.off[s] + k*(b.bounds[s+1]-b.bounds[s])
	}
	b.cent = make([]float32, b.off[m])
	return b, nil
}

// m is the number of sub-quantisers (bytes a code).
func (b *pqBook) m() int { return len(b.bounds) - 1 }

// trainPQ learns the sub-quantisers' centroids from the row-major sample.
func trainPQ(ctx context.Context, sample []float32, dim, m, iters, workers int, rng *rand.Rand) (*pqBook, error) {
	n := len(sample) / dim
	if n == 0 {
		return nil, fmt.Errorf("ann: no vectors to train a product quantiser on")
	}
	if n > pqTrainMax { // every n/pqTrainMax-th vector, over the whole sample
		sub := make([]float32, 0, pqTrainMax*dim)
		for j := 0; j < pqTrainMax; j++ {
			i := j * n / pqTrainMax
			sub = append(sub, sample[i*dim:(i+1)*dim]...)
		}
		sample, n = sub, pqTrainMax
	}
	b, err := newPQBook(dim, m, min(pqK, n))
	if err != nil {
		return nil, err
	}
	for s := 0; s < m; s++ {
		lo, hi := b.bounds[s], b.bounds[s+1]
		sd := hi - lo
		sub := make([]float32, 0, n*sd)
		for i := 0; i < n; i++ {
			sub = append(sub, sample[i*dim+lo:i*dim+hi]...)
		}
		c, err := kmeans(ctx, sub, sd, b.k, iters, workers, rng, nil)
		if err != nil {
			return nil, err
		}
		copy(b.cent[b.off[s]:b.off[s+1]], c)
	}
	return b, nil
}

// encode writes the code of v (len dim) into code (len m): the nearest
// centroid of each sub-vector.
func (b *pqBook) encode(code []int8, v []float32) {
	for s := range code {
		lo, hi := b.bounds[s], b.bounds[s+1]
		sd := hi - lo
		x := v[lo:hi]
		best, bestD := 0, float32(0)
		for c := 0; c < b.k; c++ {
			row := b.cent[b.off[s]+c*sd : b.off[s]+(c+1)*sd]
			var d float32
			for j, y := range row {
				e := x[j] - y
				d += e * e
			}
			if c == 0 || d < bestD {
				best, bestD = c, d
			}
		}
		code[s] = int8(uint8(best))
	}
}

// decode writes the approximate vector of code into dst (len dim).
func (b *pqBook) decode(dst []float32, code []int8) {
	for s, c := range code {
		lo, hi := b.bounds[s], b.bounds[s+1]
		sd := hi - lo
		at := b.off[s] + int(uint8(c))*sd
		copy(dst[lo:hi], b.cent[at:at+sd])
	}
}

// table returns the ADC lookup table of q: entry s·pqK + c is the dot
// product of q's sub-vector s with centroid c of sub-quantiser s.
func (b *pqBook) table(q []float32) []float32 {
	lut := make([]float32, b.m()*pqK)
	for s := 0; s < b.m(); s++ {
		lo, hi := b.bounds[s], b.bounds[s+1]
		sd := hi - lo
		x := q[lo:hi]
		t := lut[s*pqK : s*pqK+b.k]
		for c := range t {
			row := b.cent[b.off[s]+c*sd : b.off[s]+(c+1)*sd]
			var d float32
			for j, y := range row {
				d += x[j] * y
			}
			t[c] = d
		}
	}
	return lut
}

// scorePQ writes into scores[r] the ADC score of row r of codes (m bytes a
// row) with the lookup table lut.
func scorePQ(scores []float32, codes []int8, lut []float32, m int) {
	for r := range scores {
		code := codes[r*m : (r+1)*m]
		var s0, s1 float32
		s := 0
		for ; s+2 <= m; s += 2 {
			s0 += lut[s*pqK+int(uint8(code[s]))]
			s1 += lut[(s+1)*pqK+int(uint8(code[s+1]))]
		}
		if s < m {
			s0 += lut[s*pqK+int(uint8(code[s]))]
		}
		scores[r] = s0 + s1
	}
}
