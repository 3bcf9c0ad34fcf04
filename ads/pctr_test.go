package ads

import (
	"math"
	"math/rand/v2"
	"testing"
)

// simulate draws ad impressions of a simulated shop: position 1..10, text
// match, popularity, the shopper's affinity and the item's history; the
// true click probability depends on all of them (position bias included).
func simulate(n int, seed uint64) []Example {
	r := rand.New(rand.NewPCG(seed, 7))
	exs := make([]Example, n)
	for i := range exs {
		f := Features{Position: 1 + r.IntN(10), TextMatch: 0.5 + r.Float64()/2, Popularity: r.Float64(), Affinity: r.Float64() * r.Float64(), History: r.Float64() * 0.1}
		z := -4.0 + 2.0/float64(f.Position) + 1.5*f.TextMatch + 1.2*f.Popularity + 2.0*f.Affinity + 8*f.History
		exs[i] = Example{F: f, Clicked: r.Float64() < 1/(1+math.Exp(-z))}
	}
	return exs
}

// positionOnly uses only the bias and the position.
var positionOnly = []bool{true, true, false, false, false, false}

func fitAndScore(t testing.TB) (full, base [2]float64) {
	train, test := simulate(20000, 1), simulate(5000, 2)
	m, err := Fit(train, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Fit(train, 1, positionOnly)
	if err != nil {
		t.Fatal(err)
	}
	full[0], full[1] = Evaluate(&m, test)
	base[0], base[1] = Evaluate(&b, test)
	return full, base
}

// The logistic model on all features beats position alone on held-out
// simulated traffic, in log loss and in AUC.
func TestClickModelBeatsPositionOnly(t *testing.T) {
	full, base := fitAndScore(t)
	t.Logf("log loss %.4f vs position-only %.4f; AUC %.4f vs %.4f", full[0], base[0], full[1], base[1])
	if !(full[0] < base[0]-0.005) || !(full[1] > base[1]+0.05) {
		t.Fatalf("full model log loss %.4f AUC %.4f, position-only %.4f %.4f", full[0], full[1], base[0], base[1])
	}
}

func TestAUC(t *testing.T) {
	for _, c := range []struct {
		p    []float64
		y    []bool
		want float64
	}{
		{[]float64{0.1, 0.9}, []bool{false, true}, 1},
		{[]float64{0.9, 0.1}, []bool{false, true}, 0},
		{[]float64{0.5, 0.5}, []bool{false, true}, 0.5},
		{[]float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.75},
	} {
		if got := AUC(c.p, c.y); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("AUC(%v, %v) = %v, want %v", c.p, c.y, got, c.want)
		}
	}
}

// BenchmarkClickModel reports the held-out log loss and AUC of the click
// model and of the position-only baseline on simulated traffic (20k
// training, 5k test impressions).
func BenchmarkClickModel(b *testing.B) {
	var full, base [2]float64
	for b.Loop() {
		full, base = fitAndScore(b)
	}
	b.ReportMetric(full[0], "logloss")
	b.ReportMetric(full[1], "auc")
	b.ReportMetric(base[0], "logloss_posonly")
	b.ReportMetric(base[1], "auc_posonly")
}

// The auction's memo of click probabilities (pctrMemo) gives exactly
// Model.Predict for every item's features, whether they repeat the last
// auction's, change (an item's history after an impression, another
// shopper's affinity) or the model is retrained; it starts afresh for
// another eligible list, and it computes a probability again only for a
// logit that changed.
func TestPCTRMemoIsPredict(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	listA, listB := make([]eligibleItem, 4), make([]eligibleItem, 4)
	prior, trained := PriorModel(), Model{Weights: [NumFeatures]float64{-3.1, 0.9, 1.3, 0.4, 1.7, 6.2}}
	feats := make([]Features, len(listA))
	for k := range feats {
		feats[k] = Features{Position: 1, TextMatch: r.Float64(), Affinity: r.Float64(), History: r.Float64() * 0.1}
	}
	var pm pctrMemo
	for round := range 200 {
		list, m := listA, &prior
		if round%7 == 6 {
			list = listB
		}
		if round >= 100 {
			m = &trained
		}
		memo := pm.of(list)
		for k := range feats {
			switch r.IntN(4) {
			case 0: // shown: its history moves
				feats[k].History = r.Float64() * 0.1
			case 1: // another shopper
				feats[k].Affinity = r.Float64()
			}
			before := memo.z[k]
			f := feats[k]
			got, want := memo.predict(m, k, &f), m.Predict(feats[k])
			if got != want {
				t.Fatalf("round %d item %d: memo %v, Predict %v", round, k, got, want)
			}
			if z := m.logit(&f); before == z && memo.z[k] != z {
				t.Fatalf("round %d item %d: an unchanged logit was not kept", round, k)
			}
		}
		// the same features again: every probability from the memo
		for k := range feats {
			z := m.logit(&feats[k])
			if memo.z[k] != z || memo.p[k] != m.Predict(feats[k]) {
				t.Fatalf("round %d item %d: memo holds z=%v p=%v, want z=%v p=%v", round, k, memo.z[k], memo.p[k], z, m.Predict(feats[k]))
			}
		}
	}
	if pm.of(listB).list != &listB[0] || !math.IsNaN(pm.of(listA).z[0]) {
		t.Fatal("another eligible list does not start a fresh memo")
	}
}
