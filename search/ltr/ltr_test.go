package ltr

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestLambdasHandComputed(t *testing.T) {
	d1 := 1 - 1/math.Log2(3) // ΔnDCG of swapping ranks 0 and 1, IDCG 1
	r2 := 1 / (1 + math.Exp(-2))
	tests := []struct {
		name       string
		scores     []float64
		labels     []float64
		k          int
		grad, hess []float64
	}{
		{"tie, better doc second", []float64{0, 0}, []float64{0, 1}, 10,
			[]float64{-0.5 * d1, 0.5 * d1}, []float64{0.25 * d1, 0.25 * d1}},
		{"cut-off 1: only pairs touching rank 0", []float64{2, 1, 0}, []float64{0, 0, 1}, 1,
			[]float64{-r2, 0, r2}, []float64{r2 * (1 - r2), 0, r2 * (1 - r2)}},
		{"all labels equal: no gradient", []float64{1, 2}, []float64{1, 1}, 10,
			[]float64{0, 0}, []float64{0, 0}},
		{"graded labels, right order", []float64{1, 0}, []float64{1, 0.1}, 10,
			[]float64{0.9 * d1 / (1 + 0.1/math.Log2(3)) * (1 / (1 + math.E)), -0.9 * d1 / (1 + 0.1/math.Log2(3)) * (1 / (1 + math.E))},
			[]float64{0.9 * d1 / (1 + 0.1/math.Log2(3)) * (1 / (1 + math.E)) * (math.E / (1 + math.E)), 0.9 * d1 / (1 + 0.1/math.Log2(3)) * (1 / (1 + math.E)) * (math.E / (1 + math.E))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := make([]float64, len(tc.scores))
			h := make([]float64, len(tc.scores))
			lambdas(tc.scores, tc.labels, tc.k, g, h)
			for i := range g {
				if math.Abs(g[i]-tc.grad[i]) > 1e-12 || math.Abs(h[i]-tc.hess[i]) > 1e-12 {
					t.Fatalf("doc %d: grad %g hess %g, want %g %g", i, g[i], h[i], tc.grad[i], tc.hess[i])
				}
			}
		})
	}
}

func TestNDCG(t *testing.T) {
	tests := []struct {
		scores, labels []float64
		k              int
		want           float64
	}{
		{[]float64{3, 2, 1}, []float64{1, 0.1, 0}, 10, 1},
		{[]float64{1, 2, 3}, []float64{1, 0, 0}, 10, 1 / math.Log2(4)},
		{[]float64{1, 2, 3}, []float64{1, 0, 0}, 2, 0},
		{[]float64{1, 1}, []float64{0, 0}, 10, 0},
		{[]float64{5, 5}, []float64{0, 1}, 10, 1 / math.Log2(3)}, // ties by index
	}
	for i, tc := range tests {
		if got := NDCG(tc.scores, tc.labels, tc.k); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("case %d: nDCG %g, want %g", i, got, tc.want)
		}
	}
}

func TestQuantileCuts(t *testing.T) {
	tests := []struct {
		vals []float32
		bins int
		want int // number of cuts
	}{
		{[]float32{1, 1, 1}, 8, 0},
		{[]float32{1, 2, 3}, 8, 2},
		{[]float32{0, 0, 0, 0, 0, 0, 0, 1}, 4, 1},
	}
	for i, tc := range tests {
		c := quantileCuts(tc.vals, tc.bins)
		if len(c) != tc.want {
			t.Errorf("case %d: %d cuts %v, want %d", i, len(c), c, tc.want)
		}
		for _, v := range tc.vals { // bins agree with thresholds
			b := binOf(c, v)
			if b < uint8(len(c)) && v > c[b] || b > 0 && v <= c[b-1] {
				t.Errorf("case %d: value %g in bin %d of %v", i, v, b, c)
			}
		}
	}
	many := make([]float32, 10000)
	for i := range many {
		many[i] = float32(i % 1000)
	}
	if c := quantileCuts(many, 64); len(c) != 63 {
		t.Errorf("1000 distinct values, 64 bins: %d cuts", len(c))
	}
}

// synth makes queries whose labels follow a known, non-linear function of
// the features, plus an irrelevant noise feature.
func synth(seed uint64, queries, docs int) []Query {
	rng := rand.New(rand.NewPCG(seed, 1))
	var qs []Query
	for q := 0; q < queries; q++ {
		var qq Query
		for d := 0; d < docs; d++ {
			x := []float32{rng.Float32(), rng.Float32(), rng.Float32(), rng.Float32()}
			var l float64
			switch {
			case x[0] > 0.7 && x[1] < 0.5:
				l = 1
			case x[0] > 0.7 || x[2] > 0.9:
				l = 0.1
			case x[1] > 0.9:
				l = 0.01
			}
			qq.Features = append(qq.Features, x)
			qq.Labels = append(qq.Labels, l)
		}
		qs = append(qs, qq)
	}
	return qs
}

var synthNames = []string{"a", "b", "c", "noise"}

func TestTrainLearnsKnownFunction(t *testing.T) {
	train, valid, test := synth(1, 60, 60), synth(2, 20, 60), synth(3, 40, 60)
	base := MeanNDCG((&Model{algo: AlgorithmLinear, features: synthNames, mean: make([]float64, 4), scale: []float64{0, 0, 0, 1}, weight: []float64{0, 0, 0, 1}}).Score, test, 10)
	tests := []struct {
		algo Algorithm
		min  float64
	}{
		{AlgorithmLambdaMART, 0.9},
		{AlgorithmLinear, 0.6},
		{AlgorithmAuto, 0.9},
	}
	for _, tc := range tests {
		t.Run(string(tc.algo), func(t *testing.T) {
			p := DefaultParams(synthNames)
			p.Algorithm = tc.algo
			p.Trees = 120
			var first, last float64
			p.Progress = func(round int, tr, _ float64) {
				if round == 1 {
					first = tr
				}
				last = tr
			}
			m, err := Train(context.Background(), train, valid, p)
			if err != nil {
				t.Fatal(err)
			}
			got := MeanNDCG(m.Score, test, 10)
			t.Logf("%s: test nDCG@10 %.3f (noise feature alone %.3f), %d trees", m.Algorithm(), got, base, m.Trees())
			if got < tc.min || got < base+0.3 {
				t.Errorf("test nDCG@10 %.3f, want >= %.2f (noise feature alone: %.3f)", got, tc.min, base)
			}
			if last <= first && tc.algo != AlgorithmLinear {
				t.Errorf("training nDCG did not improve: first round %.3f, last %.3f", first, last)
			}
			if tc.algo == AlgorithmAuto && m.Algorithm() != AlgorithmLambdaMART {
				t.Errorf("auto chose %s on a non-linear target", m.Algorithm())
			}
			if imp := m.Importances(); imp[len(imp)-1].Feature != "noise" && tc.algo != AlgorithmLinear {
				t.Errorf("noise is not the least important feature: %v", imp)
			}
		})
	}
}

func TestTrainDeterministicAndRoundTrip(t *testing.T) {
	train, valid := synth(4, 30, 40), synth(5, 10, 40)
	for _, algo := range []Algorithm{AlgorithmLambdaMART, AlgorithmLinear} {
		t.Run(string(algo), func(t *testing.T) {
			p := DefaultParams(synthNames)
			p.Algorithm = algo
			p.Trees = 40
			p.FeatureFraction = 0.75
			p.QueryFraction = 0.8
			p.Seed = 7
			var bufs [2]bytes.Buffer
			var models [2]*Model
			for i := range bufs {
				m, err := Train(context.Background(), train, valid, p)
				if err != nil {
					t.Fatal(err)
				}
				if err := m.Save(&bufs[i]); err != nil {
					t.Fatal(err)
				}
				models[i] = m
			}
			if !bytes.Equal(bufs[0].Bytes(), bufs[1].Bytes()) {
				t.Fatal("two trainings with the same seed differ")
			}
			m2, err := Load(bytes.NewReader(bufs[0].Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range valid {
				for _, x := range q.Features {
					if a, b := models[0].Score(x), m2.Score(x); a != b {
						t.Fatalf("score %g after load, %g before", b, a)
					}
				}
			}
			if err := m2.Check(synthNames); err != nil {
				t.Errorf("Check own schema: %v", err)
			}
			if m2.Algorithm() != algo || m2.K() != 10 {
				t.Errorf("loaded %s K %d", m2.Algorithm(), m2.K())
			}
		})
	}
}

func TestIgnoreFeatures(t *testing.T) {
	train, valid := synth(15, 30, 40), synth(16, 10, 40)
	for _, algo := range []Algorithm{AlgorithmLambdaMART, AlgorithmLinear} {
		p := DefaultParams(synthNames)
		p.Algorithm = algo
		p.Trees = 30
		p.FeatureFraction = 0.5
		p.Ignore = []string{"a", "noise"}
		m, err := Train(context.Background(), train, valid, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range m.Importances() {
			if (im.Feature == "a" || im.Feature == "noise") && im.Value != 0 {
				t.Errorf("%s uses ignored feature %s (%g)", algo, im.Feature, im.Value)
			}
		}
	}
	p := DefaultParams(synthNames)
	p.Ignore = []string{"zzz"}
	if _, err := Train(context.Background(), train, valid, p); err == nil {
		t.Error("unknown ignored feature: no error")
	}
}

func TestCheckSchema(t *testing.T) {
	m := &Model{algo: AlgorithmLinear, features: []string{"a", "b"}}
	tests := []struct {
		names []string
		err   string
	}{
		{[]string{"a", "b"}, ""},
		{[]string{"a"}, "2 features"},
		{[]string{"a", "c"}, `"b" in the model but "c"`},
		{[]string{"b", "a"}, "feature 0"},
		{[]string{"a", "b", "c"}, ""}, // features appended after training: accepted
		{[]string{"a", "c", "b"}, `"b" in the model but "c"`},
		{[]string{"c", "a", "b"}, "feature 0"},
	}
	for _, tc := range tests {
		err := m.Check(tc.names)
		if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("Check(%v) = %v, want error containing %q", tc.names, err, tc.err)
		}
	}
}

func TestTrainRejectsBadInput(t *testing.T) {
	good := synth(6, 3, 10)
	nan := synth(6, 3, 10)
	nan[1].Features[2][1] = float32(math.NaN())
	short := synth(6, 3, 10)
	short[0].Features[0] = short[0].Features[0][:3]
	neg := synth(6, 3, 10)
	neg[2].Labels[0] = -1
	flat := []Query{{Features: [][]float32{{1, 2, 3, 4}, {2, 3, 4, 5}}, Labels: []float64{1, 1}}}
	tests := []struct {
		name  string
		train []Query
		p     func(*Params)
		err   string
	}{
		{"NaN feature", nan, nil, "is NaN"},
		{"short vector", short, nil, "3 features, want 4"},
		{"negative label", neg, nil, "label -1"},
		{"no signal", flat, nil, "different labels"},
		{"no names", good, func(p *Params) { p.Features = nil }, "Features is empty"},
		{"duplicate names", good, func(p *Params) { p.Features = []string{"a", "a", "b", "c"} }, "named twice"},
		{"auto without validation", good, func(p *Params) { p.Algorithm = AlgorithmAuto }, "needs validation"},
		{"unknown algorithm", good, func(p *Params) { p.Algorithm = "svm" }, "unknown algorithm"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams(synthNames)
			p.Trees = 2
			if tc.p != nil {
				tc.p(&p)
			}
			_, err := Train(context.Background(), tc.train, nil, p)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}

func TestTrainCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := DefaultParams(synthNames)
	if _, err := Train(ctx, synth(8, 5, 20), nil, p); err == nil {
		t.Fatal("training with a cancelled context succeeded")
	}
}

func TestLoadRejectsDamage(t *testing.T) {
	p := DefaultParams(synthNames)
	p.Trees = 5
	m, err := Train(context.Background(), synth(9, 10, 30), nil, p)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := m.Save(&b); err != nil {
		t.Fatal(err)
	}
	good := b.Bytes()
	flip := bytes.Clone(good)
	flip[len(flip)/2] ^= 0x10
	ver := bytes.Clone(good)
	ver[len(magic)] = 9
	tests := []struct {
		name string
		data []byte
		err  string
	}{
		{"empty", nil, "not a ranking model"},
		{"foreign", []byte("PK\x03\x04 something else entirely"), "not a ranking model"},
		{"truncated", good[:len(good)-7], "checksum"},
		{"bit flip", flip, "checksum"},
		{"version", ver, "format version 9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(bytes.NewReader(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}

func FuzzLoad(f *testing.F) {
	p := DefaultParams(synthNames)
	p.Trees = 3
	p.MaxLeaves = 4
	for _, algo := range []Algorithm{AlgorithmLambdaMART, AlgorithmLinear} {
		p.Algorithm = algo
		m, err := Train(context.Background(), synth(10, 5, 30), nil, p)
		if err != nil {
			f.Fatal(err)
		}
		var b bytes.Buffer
		if err := m.Save(&b); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	f.Add([]byte(magic + "\x01\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Load(bytes.NewReader(data))
		if err != nil {
			return
		}
		// a loaded model must score any vector without panicking or looping
		x := make([]float32, len(m.Features()))
		for i := range x {
			x[i] = float32(i) - 1
		}
		_ = m.Score(x)
		_ = m.Score(nil)
		var b bytes.Buffer
		if err := m.Save(&b); err != nil {
			t.Fatal(err)
		}
		m2, err := Load(&b)
		if err != nil {
			t.Fatalf("a loaded model saves to an unreadable file: %v", err)
		}
		if a, c := m.Score(x), m2.Score(x); a != c && !(math.IsNaN(a) && math.IsNaN(c)) {
			t.Fatalf("score %g after a save and load, %g before", c, a)
		}
	})
}

func TestTrainCV(t *testing.T) {
	qs, test := synth(11, 60, 50), synth(12, 40, 50)
	for _, algo := range []Algorithm{AlgorithmLambdaMART, AlgorithmLinear, AlgorithmAuto} {
		t.Run(string(algo), func(t *testing.T) {
			p := DefaultParams(synthNames)
			p.Algorithm = algo
			p.Trees = 60
			m, err := TrainCV(context.Background(), qs, p, 4)
			if err != nil {
				t.Fatal(err)
			}
			got := MeanNDCG(m.Score, test, 10)
			t.Logf("%s: %d trees, CV nDCG %.3f, test %.3f", m.Algorithm(), m.Trees(), m.ValidNDCG, got)
			if m.ValidNDCG <= 0 || m.ValidNDCG > 1 {
				t.Errorf("CV nDCG %g", m.ValidNDCG)
			}
			if algo != AlgorithmLinear && got < 0.9 {
				t.Errorf("test nDCG %.3f", got)
			}
		})
	}
	p := DefaultParams(synthNames)
	p.Bags, p.Trees = 3, 30
	m1, err := TrainCV(context.Background(), qs, p, 3)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := TrainCV(context.Background(), qs, p, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := MeanNDCG(m1.Score, test, 10); got < 0.9 || m1.Score(test[0].Features[0]) != m2.Score(test[0].Features[0]) {
		t.Errorf("bagged: test nDCG %.3f, or two runs differ", got)
	}
	for _, n := range []int{1, 2} {
		if _, err := TrainCV(context.Background(), qs[:n], DefaultParams(synthNames), 4); err != nil {
			t.Errorf("%d queries, 4 folds: %v", n, err)
		}
	}
	if _, err := TrainCV(context.Background(), nil, DefaultParams(synthNames), 4); err == nil {
		t.Error("no queries: no error")
	}
}

func TestBaseFeature(t *testing.T) {
	// the label is a step function of feature a: starting from a alone
	// ranks perfectly, and zero trees must remain a valid outcome
	train, valid := synth(13, 30, 40), synth(14, 10, 40)
	for _, q := range append(train, valid...) {
		for d, x := range q.Features {
			x[3] = float32(q.Labels[d]) // "noise" now is the label itself
		}
	}
	p := DefaultParams(synthNames)
	p.BaseFeature = "noise"
	p.Trees = 20
	m, err := Train(context.Background(), train, valid, p)
	if err != nil {
		t.Fatal(err)
	}
	name, w := m.BaseFeature()
	if name != "noise" || w <= 0 {
		t.Fatalf("base %q weight %g", name, w)
	}
	if got := MeanNDCG(m.Score, valid, 10); got < 0.999 {
		t.Errorf("a perfect base feature gives validation nDCG %.4f", got)
	}
	var b bytes.Buffer
	if err := m.Save(&b); err != nil {
		t.Fatal(err)
	}
	m2, err := Load(&b)
	if err != nil {
		t.Fatal(err)
	}
	if n2, w2 := m2.BaseFeature(); n2 != name || w2 != w {
		t.Errorf("base after load %q %g", n2, w2)
	}
	p.BaseFeature = "missing"
	if _, err := Train(context.Background(), train, valid, p); err == nil {
		t.Error("unknown base feature: no error")
	}
}
