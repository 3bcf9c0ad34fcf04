package eval

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-4 || (math.IsNaN(a) && math.IsNaN(b)) }

func TestRankingMetrics(t *testing.T) {
	T, F := true, false
	tests := []struct {
		name                       string
		hits                       []bool
		k, nRel                    int
		prec, recall, ndcg, ap, hr float64
	}{
		// DCG = 1 + 1/log2(4) = 1.5; IDCG(2) = 1 + 1/log2(3) = 1.63093.
		{"two of two", []bool{T, F, T}, 3, 2, 2.0 / 3, 1, 0.91972, (1 + 2.0/3) / 2, 1},
		// IDCG over min(k=3, 5) = 1 + 0.63093 + 0.5 = 2.13093; AP divides by min(3,5).
		{"two of five", []bool{T, F, T}, 3, 5, 2.0 / 3, 0.4, 0.70392, (1 + 2.0/3) / 3, 1},
		{"none", []bool{F, F, F}, 3, 1, 0, 0, 0, 0, 0},
		// Only the top 1 counts.
		{"cut at 1", []bool{F, T, T}, 1, 2, 0, 0, 0, 0, 0},
		// A list shorter than k: the missing ranks are misses.
		{"short list", []bool{F, T}, 5, 1, 0.2, 1, 1 / math.Log2(3), 0.5, 1},
		{"no targets", []bool{T}, 1, 0, 1, 0, 0, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Precision(tc.hits, tc.k); !near(got, tc.prec) {
				t.Errorf("Precision = %v, want %v", got, tc.prec)
			}
			if got := Recall(tc.hits, tc.k, tc.nRel); !near(got, tc.recall) {
				t.Errorf("Recall = %v, want %v", got, tc.recall)
			}
			if got := NDCG(tc.hits, tc.k, tc.nRel); !near(got, tc.ndcg) {
				t.Errorf("NDCG = %v, want %v", got, tc.ndcg)
			}
			if got := AP(tc.hits, tc.k, tc.nRel); !near(got, tc.ap) {
				t.Errorf("AP = %v, want %v", got, tc.ap)
			}
			if got := HR(tc.hits, tc.k); !near(got, tc.hr) {
				t.Errorf("HR = %v, want %v", got, tc.hr)
			}
		})
	}
}

func TestAUC(t *testing.T) {
	tests := []struct {
		name     string
		pos, neg []float32
		want     float64
	}{
		// 3 beats all three; 1 beats 0, ties 1: (3 + 1.5) / 6.
		{"ties count half", []float32{3, 1}, []float32{2, 0, 1}, 0.75},
		{"perfect", []float32{5}, []float32{1, 2}, 1},
		{"worst", []float32{0}, []float32{1, 2}, 0},
		{"no negatives", []float32{1}, nil, math.NaN()},
	}
	for _, tc := range tests {
		if got := AUC(tc.pos, tc.neg); !near(got, tc.want) {
			t.Errorf("%s: AUC = %v, want %v", tc.name, got, tc.want)
		}
	}
	// The sorted path (many targets) agrees with counting pairs.
	r := rand.New(rand.NewPCG(1, 2))
	pos, neg := make([]float32, 50), make([]float32, 200)
	for i := range pos {
		pos[i] = float32(r.IntN(20))
	}
	for i := range neg {
		neg[i] = float32(r.IntN(20))
	}
	var wins float64
	for _, p := range pos {
		for _, n := range neg {
			if p > n {
				wins++
			} else if p == n {
				wins += 0.5
			}
		}
	}
	if got, want := AUC(pos, neg), wins/50/200; !near(got, want) {
		t.Errorf("AUC with 50 targets = %v, want %v", got, want)
	}
}

func TestRatingMetrics(t *testing.T) {
	pred, truth := []float32{1, 2, 3}, []float32{1, 3, 5}
	if got := RMSE(pred, truth); !near(got, math.Sqrt(5.0/3)) {
		t.Errorf("RMSE = %v, want %v", got, math.Sqrt(5.0/3))
	}
	if got := MAE(pred, truth); !near(got, 1) {
		t.Errorf("MAE = %v, want 1", got)
	}
	if !math.IsNaN(RMSE(nil, nil)) || !math.IsNaN(MAE(nil, nil)) {
		t.Error("empty input must give NaN")
	}
}

func TestCoverage(t *testing.T) {
	if got := Coverage([]bool{true, false, true, false}, 4); got != 0.5 {
		t.Errorf("Coverage = %v, want 0.5", got)
	}
	if got := Coverage(nil, 0); got != 0 {
		t.Errorf("Coverage of empty catalogue = %v, want 0", got)
	}
}

func TestTopK(t *testing.T) {
	nan := float32(math.NaN())
	tests := []struct {
		name       string
		scores     []float32
		candidates []int32
		excluded   []bool
		k          int
		want       []int32
	}{
		{"ties by index, excluded skipped", []float32{1, 3, 3, 2}, nil, []bool{false, false, true, false}, 2, []int32{1, 3}},
		{"all", []float32{1, 3, 3, 2}, nil, nil, 10, []int32{1, 2, 3, 0}},
		{"candidates", []float32{9, 1, 5, 2}, []int32{1, 3, 2}, nil, 2, []int32{2, 3}},
		{"NaN never ranks", []float32{nan, 1}, nil, nil, 2, []int32{1}},
		{"k zero", []float32{1}, nil, nil, 0, []int32{}},
	}
	for _, tc := range tests {
		got := topK(tc.scores, tc.candidates, tc.excluded, tc.k, nil)
		if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("%s: topK = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func BenchmarkTopK(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	scores := make([]float32, 3043) // ML-1M's catalogue
	for i := range scores {
		scores[i] = r.Float32()
	}
	excluded := make([]bool, len(scores))
	for i := 0; i < 130; i++ {
		excluded[r.IntN(len(scores))] = true
	}
	dst := make([]int32, 0, 20)
	b.ResetTimer()
	for b.Loop() {
		dst = topK(scores, nil, excluded, 20, dst)
	}
}

func BenchmarkAUC(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	pos, neg := make([]float32, 16), make([]float32, 3000)
	for i := range pos {
		pos[i] = r.Float32()
	}
	for i := range neg {
		neg[i] = r.Float32()
	}
	for b.Loop() {
		AUC(pos, neg)
	}
}
