package experiment

import (
	"math"
	"testing"
)

// Reference values were computed independently with Python's math module
// (erfc for the normal and χ²(1) tails, exp(−x/2) for the χ²(2) tail) and
// textbook formulas; see docs/experiments.md.

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.12g, want %.12g (±%g)", what, got, want, tol)
	}
}

func TestRatioMeanAndProportion(t *testing.T) {
	// a proportion: 50 successes of 100 → 0.5 ± 1.959964·√(0.25/100)
	var p Ratio
	for i := range 100 {
		y := 0.0
		if i < 50 {
			y = 1
		}
		p.Add(1, y)
	}
	ci := p.CI()
	near(t, "p", ci.Value, 0.5, 1e-12)
	near(t, "p high", ci.High, 0.5+1.959963984540054*0.05, 1e-9)
	// a ratio whose denominators differ: Σy/Σx = 6/6 over (x,y) = (1,2), (2,1), (3,3)
	var r Ratio
	r.Add(1, 2)
	r.Add(2, 1)
	r.Add(3, 3)
	near(t, "ratio", r.Value(), 1, 1e-12)
	// μx=2, σ²x=2/3, σ²y=2/3, σxy=1/3: (2/3 − 2/3 + 2/3)/(3·4) = 1/18
	near(t, "ratio var", r.Var(), 1.0/18, 1e-12)
}

func TestSRM(t *testing.T) {
	chi, p := SRM([]float64{5000, 5200}, []float64{50, 50})
	near(t, "χ² 5000/5200", chi, 3.9215686274509802, 1e-9)
	near(t, "p 5000/5200", p, 0.04767038065616148, 1e-9)
	chi, p = SRM([]float64{100, 130, 70}, []float64{1, 1, 1})
	near(t, "χ² 3 arms", chi, 18, 1e-9)
	near(t, "p 3 arms", p, 0.00012340980408667956, 1e-12)
	if _, p := SRM([]float64{500, 500}, []float64{1, 1}); p != 1 {
		t.Errorf("a perfect split has p %v, want 1", p)
	}
}

func TestMSPRTAndZ(t *testing.T) {
	near(t, "msprt", MSPRT(0.02, 1e-4, 0.01), 0.5202600950228887, 1e-12)
	near(t, "z", ZTest(0.02, 1e-4), 0.04550026389635842, 1e-12)
	if p := MSPRT(0, 1e-4, 0.01); p != 1 {
		t.Errorf("no difference: mSPRT p %v, want 1", p)
	}
	if Sequential(0.3, 0.5) != 0.3 || Sequential(0, 0.5) != 0.5 {
		t.Error("Sequential does not keep the running minimum")
	}
}

func TestHolm(t *testing.T) {
	got := Holm([]float64{0.01, 0.04, 0.03, 0.005})
	want := []float64{0.03, 0.06, 0.06, 0.02}
	for i := range want {
		near(t, "holm", got[i], want[i], 1e-12)
	}
}

func TestSampleSize(t *testing.T) {
	// baseline conversion 10%, 10% relative lift, α 0.05, power 0.8
	if n := SampleSize(0.1*0.9, 0.01, 0.05, 0.8); n != 14128 {
		t.Errorf("sample size %v, want 14128", n)
	}
}

func TestSignTest(t *testing.T) {
	// 60 wins, 40 losses: z = (20−1)/10 = 1.9 → 2·(1−Φ(1.9)) = 0.0574327
	near(t, "sign", SignTest(60, 40), 0.05743312, 1e-6)
	if SignTest(0, 0) != 1 {
		t.Error("no decisions must give p 1")
	}
}

func TestCompareLift(t *testing.T) {
	var c, tr Ratio
	for i := range 1000 {
		c.Add(1, b2f(i < 100))
		tr.Add(1, b2f(i < 120))
	}
	cmp := Compare(tr, c, 0.01)
	near(t, "lift", cmp.Lift.Value, 0.2, 1e-12)
	if !(cmp.Lift.Low < 0.2 && cmp.Lift.High > 0.2) || cmp.PValue < cmp.PFixed {
		t.Errorf("compare %+v: interval must hold the lift, the always-valid p must not be below the fixed one", cmp)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Per-variant intervals stay where the metric can be: a proportion's is
// Wilson's (Newcombe 1998, Table I: 0/10 → [0, 0.2775]; 1/3 → [0.0615,
// 0.7923]), a rate's or revenue's lower limit is not below 0. Before, the
// results of 1 conversion in 3 users said [−0.200, 0.867].
func TestVariantIntervalsStayInRange(t *testing.T) {
	var s Summary
	s.Add(2, 1, 1, 1, 3) // one of three converts
	s.Add(3, 0, 0, 0, 0)
	s.Add(2, 0, 0, 0, 0)
	v := Analyse([]Summary{s}, []string{"a"}, "conversion", 0.05, nil)[0]
	near(t, "conversion low", v.Conversion.Low, 0.0615, 1e-4)
	near(t, "conversion high", v.Conversion.High, 0.7923, 1e-4)
	near(t, "conversion", v.Conversion.Value, 1.0/3, 1e-12)
	near(t, "cart low", v.AddToCartRate.Low, 0.0615, 1e-4)
	for name, iv := range map[string]Interval{"ctr": v.CTR, "revenue per user": v.RevenuePerUser} {
		if iv.Low != 0 || iv.High <= iv.Value {
			t.Errorf("%s: %+v, want the lower limit clamped at 0", name, iv)
		}
	}
	var z Summary
	for range 10 {
		z.Add(1, 0, 0, 0, 0)
	}
	w := Analyse([]Summary{z}, []string{"a"}, "conversion", 0.05, nil)[0].Conversion
	near(t, "0/10 low", w.Low, 0, 1e-12)
	near(t, "0/10 high", w.High, 0.2775, 1e-4)
}
