package search

import (
	"math"
	"reflect"
	"slices"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		norm  string
		in    []float64
		want  []float64
		floor float64
	}{
		{"minmax", []float64{4, 2, 0}, []float64{1, 0.5, 0}, 0},
		{"", []float64{3, 3}, []float64{1, 1}, 0},
		{"zscore", []float64{3, 1}, []float64{1, -1}, -1},
		{"zscore", []float64{2, 2}, []float64{0, 0}, 0},
		{"rank", []float64{0.1, 0.9, 0.5, 0.7}, []float64{0.25, 1, 0.5, 0.75}, 0},
		{"rank", nil, []float64{}, 0},
	}
	for _, tc := range tests {
		got, floor := normalize(tc.in, tc.norm)
		if !slices.EqualFunc(got, tc.want, func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }) || floor != tc.floor {
			t.Errorf("%s %v: got %v floor %g, want %v floor %g", tc.norm, tc.in, got, floor, tc.want, tc.floor)
		}
	}
}

func TestFusionMethods(t *testing.T) {
	kw := []scored{{doc: 1, score: 9, exact: true}, {doc: 2, score: 5}, {doc: 3, score: 1}}
	sem := []scored{{doc: 4, score: 0.9}, {doc: 3, score: 0.8}, {doc: 5, score: 0.1}}
	sims := map[uint32]float64{1: 0.2, 3: 0.8, 4: 0.9, 5: 0.1} // doc 2 has no vector
	sim := func(d uint32) (float64, bool) { v, ok := sims[d]; return v, ok }
	docs := func(l []scored) []uint32 {
		out := make([]uint32, len(l))
		for i, s := range l {
			out[i] = s.doc
		}
		return out
	}
	tests := []struct {
		name string
		f    Fusion
		want []uint32
	}{
		// rerank keeps the keyword candidates only; doc 3's similarity
		// lifts it over doc 2, whose missing vector counts as average
		{"rerank", Fusion{Method: FusionRerank, Alpha: 0.4}, []uint32{1, 3, 2}},
		{"rerank rank", Fusion{Method: FusionRerank, Norm: NormRank, Alpha: 0.4}, []uint32{1, 3, 2}},
		// convex adds semantic-only docs
		{"convex", Fusion{Method: FusionConvex, Alpha: 0.5}, []uint32{1, 4, 3, 2, 5}},
		{"convex zscore", Fusion{Method: FusionConvex, Norm: NormZScore, Alpha: 0.9}, []uint32{1, 2, 4, 3, 5}},
		{"rrf", Fusion{Method: FusionRRF, Alpha: 0.5, RRFK: 60}, []uint32{1, 3, 4, 2, 5}},
	}
	for _, tc := range tests {
		if err := tc.f.Validate(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := fuseWith(kw, sem, sim, tc.f)
		if !slices.Equal(docs(got), tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, docs(got), tc.want)
		}
		for i := 1; i < len(got); i++ {
			if got[i].score > got[i-1].score {
				t.Errorf("%s: scores increase at %d: %v", tc.name, i, got)
			}
		}
		// one list empty: the other is the answer
		if g := fuseWith(nil, sem, sim, tc.f); !reflect.DeepEqual(g, sem) {
			t.Errorf("%s: empty keyword list: %v", tc.name, g)
		}
		if g := fuseWith(kw, nil, sim, tc.f); !reflect.DeepEqual(g, kw) {
			t.Errorf("%s: empty semantic list: %v", tc.name, g)
		}
	}
	// gating: with every keyword result exact, semantic has no say
	allExact := []scored{{doc: 2, score: 9, exact: true}, {doc: 3, score: 8, exact: true}}
	got := fuseWith(allExact, sem, sim, Fusion{Method: FusionConvex, Alpha: 0.2, Gate: 1})
	if !slices.Equal(docs(got)[:2], []uint32{2, 3}) || got[2].score != 0 {
		t.Errorf("gate 1 with exact keyword results: %v", got)
	}
}

func TestFusionValidate(t *testing.T) {
	bad := []Fusion{
		{Method: "sum", Alpha: 0.5},
		{Method: FusionConvex, Alpha: 1.5},
		{Method: FusionConvex, Alpha: 0.5, Norm: "log"},
		{Method: FusionRerank, Alpha: 0.5, Gate: -0.1},
	}
	for _, f := range bad {
		if err := f.Validate(); err == nil {
			t.Errorf("%+v accepted", f)
		}
	}
}

// BenchmarkFuse fuses two lists of the default depth (200) that share half
// their docs.
func BenchmarkFuse(b *testing.B) {
	const n = 200
	kw := make([]scored, n)
	sem := make([]scored, n)
	for i := range n {
		kw[i] = scored{doc: uint32(i), score: float64(n - i), exact: i%17 == 0}
		sem[i] = scored{doc: uint32(i + n/2), score: 1 - float64(i)/n}
	}
	sim := func(d uint32) (float64, bool) { return float64(d%100) / 100, d%7 != 0 }
	for _, f := range []Fusion{
		{Method: FusionConvex, Norm: NormMinMax, Alpha: 0.8, Gate: 1},
		{Method: FusionRerank, Norm: NormZScore, Alpha: 0.8},
		{Method: FusionRRF, Alpha: 0.5, RRFK: 60},
	} {
		b.Run(f.Method+"/"+f.Norm, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				fuseWith(kw, sem, sim, f)
			}
		})
	}
}
