package shopsim

import (
	"fmt"
	"math"

	"github.com/aisle-dev/aisle/experiment"
)

// MinOverlap is the share of a candidate's examination the logged pages
// must have shown before the offline estimate extrapolates to the rest:
// below it the logs only bound the candidate's clicks per page.
const MinOverlap = 0.8

// ClipWeight caps a click's weight θ(k')/θ(k) (a click logged low on a
// page and ranked high by the candidate), trading a little downward bias
// for a bounded variance.
const ClipWeight = 10

// OffPolicy is an offline estimate of a candidate ranker's clicks per page
// from pages another ranker served, under the position-based click model
// (a click on item i at logged position k counts θ(k')/θ(k) when the
// candidate ranks i at k'). What the log never showed carries no click, so
// the estimate says how much of the candidate's page the log covers and
// claims a value only when that is most of it.
type OffPolicy struct {
	Pages int `json:"pages"`
	// Overlap is the mean share of the candidate's examination mass
	// (Σ θ(k') over its page) that falls on items the logged page showed.
	Overlap float64 `json:"overlap"`
	// Covered is the clicks per page the candidate's shown-in-the-log
	// items would get (clipped inverse propensity, 95% interval over
	// pages): a lower bound of the candidate's clicks per page.
	Covered experiment.Interval `json:"covered"`
	// Upper is Covered's upper limit plus the candidate's mean examination
	// mass on items the log never showed (each such item clicked whenever
	// examined): the upper bound the log allows.
	Upper float64 `json:"upper"`
	// SelfNormalised is Covered / Overlap (ratio estimator, delta-method
	// interval): the candidate's clicks per page if its unshown items were
	// clicked like its shown ones. Set only when Overlap ≥ MinOverlap.
	SelfNormalised *experiment.Interval `json:"self_normalised,omitempty"`
	// Extrapolated is Covered's value / Overlap whatever the overlap:
	// SelfNormalised's value, shown but not trusted below MinOverlap.
	Extrapolated float64 `json:"extrapolated"`
	// Clipped is how many click weights ClipWeight capped.
	Clipped int `json:"clipped"`
	// Verdict says which of the above to read.
	Verdict string `json:"verdict"`
}

// Value is the estimate to compare with the A/B test: the self-normalised
// one when the overlap allows it, otherwise the lower bound.
func (o OffPolicy) Value() float64 {
	if o.SelfNormalised != nil {
		return o.SelfNormalised.Value
	}
	return o.Covered.Value
}

func (o OffPolicy) String() string {
	if o.Pages == 0 {
		return "no logged pages"
	}
	s := fmt.Sprintf("overlap %.2f; from shown items %.3f [%.3f, %.3f]", o.Overlap, o.Covered.Value, o.Covered.Low, o.Covered.High)
	if o.SelfNormalised != nil {
		s += fmt.Sprintf("; self-normalised %.3f [%.3f, %.3f]", o.SelfNormalised.Value, o.SelfNormalised.Low, o.SelfNormalised.High)
	}
	return s + "; " + o.Verdict
}

// offPolicy estimates a candidate's clicks per page from logged pages;
// p.cand, or else lists[p.user], is the candidate's page for that page's
// shopper (item → position from 1) and theta(k) the examination of position k (k ≥ 1).
// n is the length of the candidate's page.
func offPolicy(pages []page, lists map[string]map[string]int, theta func(k int) float64, n int) OffPolicy {
	o := OffPolicy{Pages: len(pages)}
	if len(pages) == 0 {
		o.Verdict = "no logged pages: no estimate"
		return o
	}
	mass := 0.0
	for k := 1; k <= n; k++ {
		mass += theta(k)
	}
	var sx, sxx, sc, scc, sxc, su float64
	for _, p := range pages {
		cand := p.cand
		if cand == nil {
			cand = lists[p.user]
		}
		logged := make(map[string]int, len(p.items))
		for k, id := range p.items {
			logged[id] = k + 1
		}
		x, c, u := 0.0, 0.0, 0.0
		for id, kc := range cand {
			if kc > n {
				continue
			}
			k, shown := logged[id]
			if !shown {
				u += theta(kc)
				continue
			}
			c += theta(kc)
			if p.clicked[id] {
				w := theta(kc) / theta(k)
				if w > ClipWeight {
					w = ClipWeight
					o.Clipped++
				}
				x += w
			}
		}
		c /= mass
		sx, sxx, sc, scc, sxc, su = sx+x, sxx+x*x, sc+c, scc+c*c, sxc+x*c, su+u
	}
	nf := float64(len(pages))
	mx, mc := sx/nf, sc/nf
	vx := 0.0
	if len(pages) > 1 {
		vx = max(sxx-nf*mx*mx, 0) / (nf - 1)
	}
	h := z95 * math.Sqrt(vx/nf)
	o.Overlap = mc
	o.Covered = experiment.Interval{Value: mx, Low: max(mx-h, 0), High: mx + h}
	o.Upper = o.Covered.High + su/nf
	if mc > 0 {
		o.Extrapolated = mx / mc
	}
	if mc < MinOverlap || len(pages) < 2 {
		o.Verdict = fmt.Sprintf("overlap too small (%.2f < %.2f): the logs bound the candidate's clicks per page to [%.3f, %.3f] (extrapolating from the shown items would say %.3f, not trusted); run an A/B test or interleave",
			mc, MinOverlap, o.Covered.Low, o.Upper, o.Extrapolated)
		return o
	}
	r := mx / mc
	// Var(X − R·C) per page, the delta method's variance of the ratio
	vd := (sxx - 2*r*sxc + r*r*scc - nf*(mx-r*mc)*(mx-r*mc)) / (nf - 1)
	hr := z95 * math.Sqrt(max(vd, 0)/nf) / mc
	o.SelfNormalised = &experiment.Interval{Value: r, Low: max(r-hr, 0), High: r + hr}
	o.Verdict = "estimate (the candidate's unshown items assumed clicked like its shown ones)"
	return o
}

// z95 is the two-sided 95% normal quantile.
const z95 = 1.959963984540054
