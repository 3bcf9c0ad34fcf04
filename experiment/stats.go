package experiment

import (
	"math"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// Ratio accumulates a per-unit ratio metric Σy/Σx over units (a mean when
// every x is 1): the sums the delta method needs for its variance.
type Ratio struct {
	N             float64 // units
	SX, SY        float64
	SXX, SYY, SXY float64
}

// Add adds one unit with denominator x and numerator y.
func (r *Ratio) Add(x, y float64) {
	r.N++
	r.SX += x
	r.SY += y
	r.SXX += x * x
	r.SYY += y * y
	r.SXY += x * y
}

// Value is Σy/Σx (0 when Σx is 0).
func (r Ratio) Value() float64 {
	if r.SX == 0 {
		return 0
	}
	return r.SY / r.SX
}

// Var is the variance of Value by the delta method:
// (σ²_y − 2R·σ_xy + R²·σ²_x) / (n·μ_x²), with population moments. For a
// mean (x ≡ 1) it is σ²_y/n; for a proportion p(1−p)/n.
func (r Ratio) Var() float64 {
	if r.N == 0 || r.SX == 0 {
		return 0
	}
	n := r.N
	mx, my := r.SX/n, r.SY/n
	vx := r.SXX/n - mx*mx
	vy := r.SYY/n - my*my
	cxy := r.SXY/n - mx*my
	R := my / mx
	v := (vy - 2*R*cxy + R*R*vx) / (n * mx * mx)
	return max(v, 0)
}

// UnitVar is the variance of the metric per unit (n·Var), used for the
// sample size.
func (r Ratio) UnitVar() float64 { return r.Var() * r.N }

// Interval is an estimate with its 95% confidence interval.
type Interval struct {
	Value float64 `json:"value"`
	Low   float64 `json:"low"`
	High  float64 `json:"high"`
}

// z95 is the two-sided 95% normal quantile.
var z95 = distuv.UnitNormal.Quantile(0.975)

// CI is Value ± 1.96·√Var.
func (r Ratio) CI() Interval {
	v, h := r.Value(), z95*math.Sqrt(r.Var())
	return Interval{Value: v, Low: v - h, High: v + h}
}

// WilsonCI is the Wilson score interval of a proportion (every x 1, every
// y 0 or 1): unlike Value ± 1.96·√Var it stays within [0, 1] and keeps its
// coverage for few units or a rate near 0 or 1. Value is the proportion.
func (r Ratio) WilsonCI() Interval {
	if r.N == 0 {
		return Interval{}
	}
	n, p := r.N, r.Value()
	z2 := z95 * z95
	d := 1 + z2/n
	c := (p + z2/(2*n)) / d
	h := z95 / d * math.Sqrt(p*(1-p)/n+z2/(4*n*n))
	return Interval{Value: p, Low: max(c-h, 0), High: min(c+h, 1)}
}

// NonNegCI is CI for a metric that cannot be negative (a rate, revenue):
// the lower limit is at least 0.
func (r Ratio) NonNegCI() Interval {
	ci := r.CI()
	ci.Low = max(ci.Low, 0)
	return ci
}

// Comparison is a treatment against the control on one metric.
type Comparison struct {
	// Lift is the relative difference treatment/control − 1 with its 95%
	// interval (delta method); zero when the control is 0.
	Lift Interval `json:"lift"`
	// PValue is the always-valid p-value of the mixture sequential
	// probability ratio test: it may be looked at after every day and
	// still holds its level. PFixed is the classical two-sided z-test
	// p-value, valid only at a sample size fixed in advance.
	PValue float64 `json:"p_value"`
	PFixed float64 `json:"p_fixed"`
	// PAdjusted is PValue after Holm's correction across every variant
	// and metric of the experiment.
	PAdjusted   float64 `json:"p_adjusted"`
	Significant bool    `json:"significant"` // PAdjusted < 0.05
}

// Compare compares treatment t with control c. tau is the standard
// deviation of the normal mixing distribution of the mSPRT over the
// difference t − c (see MSPRT), in the metric's unit.
func Compare(t, c Ratio, tau float64) Comparison {
	rt, rc := t.Value(), c.Value()
	vt, vc := t.Var(), c.Var()
	var cmp Comparison
	if rc != 0 {
		l := rt/rc - 1
		vl := (rt / rc) * (rt / rc) * (vt/(rt*rt+1e-300) + vc/(rc*rc))
		if rt == 0 {
			vl = vt / (rc * rc)
		}
		h := z95 * math.Sqrt(vl)
		cmp.Lift = Interval{Value: l, Low: l - h, High: l + h}
	}
	d, v := rt-rc, vt+vc
	cmp.PFixed = ZTest(d, v)
	cmp.PValue = MSPRT(d, v, tau)
	cmp.PAdjusted = cmp.PValue
	return cmp
}

// ZTest is the two-sided p-value of a difference d with variance v.
func ZTest(d, v float64) float64 {
	if v <= 0 {
		if d == 0 {
			return 1
		}
		return 0
	}
	return 2 * distuv.UnitNormal.Survival(math.Abs(d)/math.Sqrt(v))
}

// MSPRT is the p-value at one look of the mixture sequential probability
// ratio test of Johari, Pekelis and Walsh ("Always valid inference", 2017)
// for a normal difference d with variance v under H0: difference 0, with
// a normal N(0, τ²) mixture over the alternative:
//
//	Λ = √(v/(v+τ²)) · exp(τ²·d² / (2v(v+τ²))),  p = min(1, 1/Λ).
//
// The always-valid p-value after several looks is the smallest of these
// (see Sequential): P(it ever falls below α under H0) ≤ α.
func MSPRT(d, v, tau float64) float64 {
	if v <= 0 {
		return ZTest(d, v) // no spread: the difference is exact
	}
	if tau <= 0 {
		return 1 // no effect size to test against yet
	}
	t2 := tau * tau
	logL := 0.5*math.Log(v/(v+t2)) + t2*d*d/(2*v*(v+t2))
	if logL <= 0 {
		return 1
	}
	return math.Min(1, math.Exp(-logL))
}

// Sequential keeps the running minimum of an always-valid p-value.
func Sequential(prev, now float64) float64 {
	if prev <= 0 || prev > 1 {
		return now
	}
	return math.Min(prev, now)
}

// SRM is the p-value of Pearson's χ² test that the observed units per
// variant follow the weights: a p-value below 0.001 is a sample ratio
// mismatch (assignment or logging is broken, results cannot be trusted).
func SRM(observed []float64, weights []float64) (chi2, p float64) {
	if len(observed) < 2 || len(observed) != len(weights) {
		return 0, 1
	}
	var n, w float64
	for i := range observed {
		n += observed[i]
		w += weights[i]
	}
	if n == 0 || w == 0 {
		return 0, 1
	}
	for i := range observed {
		e := n * weights[i] / w
		if e > 0 {
			chi2 += (observed[i] - e) * (observed[i] - e) / e
		}
	}
	return chi2, distuv.ChiSquared{K: float64(len(observed) - 1)}.Survival(chi2)
}

// Holm returns Holm's step-down adjusted p-values (same order as p): they
// control the family-wise error rate across all the comparisons.
func Holm(p []float64) []float64 {
	m := len(p)
	idx := make([]int, m)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	out := make([]float64, m)
	run := 0.0
	for k, i := range idx {
		v := math.Min(1, float64(m-k)*p[i])
		run = math.Max(run, v)
		out[i] = run
	}
	return out
}

// SampleSize is the units per variant a two-sided test at level alpha
// needs to detect an absolute difference delta with the given power, when
// the metric's per-unit variance is unitVar in both arms:
// n = (z_{1−α/2} + z_{power})² · 2σ² / δ².
func SampleSize(unitVar, delta, alpha, power float64) float64 {
	if delta == 0 || unitVar <= 0 {
		return math.Inf(1)
	}
	z := distuv.UnitNormal.Quantile(1-alpha/2) + distuv.UnitNormal.Quantile(power)
	return math.Ceil(z * z * 2 * unitVar / (delta * delta))
}

// SignTest is the two-sided p-value that wins and losses (ties left out)
// are equally likely, by the normal approximation to the binomial with
// continuity correction: the verdict of an interleaving comparison.
func SignTest(wins, losses float64) float64 {
	n := wins + losses
	if n == 0 {
		return 1
	}
	d := math.Max(0, math.Abs(wins-losses)-1)
	return math.Min(1, 2*distuv.UnitNormal.Survival(d/math.Sqrt(n)))
}
