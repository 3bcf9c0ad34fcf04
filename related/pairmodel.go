package related

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// The learned complement model (Config.ComplementModel): instead of a
// linear blend of the complement signals whose weights coordinate ascent
// picks, a conditional logit ("which of these candidates did the shopper
// buy?") over pair features that include the interactions a blend cannot
// express — same leaf × title similarity (another one of the same kind),
// same leaf × how often the leaf's baskets hold two of it (pens in colours
// are bought in variety, calculators are not). It is fitted by Newton's
// method on the same hold-out as the blend (the shopper's or basket's next
// purchase), with the anchor's candidates and popularity-matched random
// items as the alternatives, and replaces the blend only when it ranks
// the held-out purchases better under two-fold cross-fitting.

// Pair features of the complement model, in the order of pairModel.w.
const (
	pfBehaviour     = iota // shrunk cosine of the shoppers in common
	pfBehaviourSqrt        // its square root (rare pairs count more than linearly)
	pfBasket               // basket score
	pfBasketSqrt
	pfLeaf         // same leaf category
	pfPath         // share of the category path
	pfBrand        // same brand
	pfText         // title/description cosine
	pfLeafText     // same leaf × title cosine: another one of the same kind
	pfLeafBrand    // same leaf and brand: the same product line
	pfLeafRepeat   // same leaf × share of the leaf's shoppers buying two of it
	pfCatPair      // leaf-pair lift of the same shoppers (shrunk)
	pfCatPairPop   // the same × j's popularity in its leaf (the blend's signal)
	pfPopInLeaf    // j's popularity relative to its leaf's top item
	pfRecentInLeaf // the same relative to its leaf's top item
	pfCatPairRec   // leaf-pair lift × j's recent popularity in its leaf
	pfFactor       // factor model cosine
	pfEmbed        // text embedder cosine
	numPF
)

var pfNames = [numPF]string{"behaviour", "sqrt-behaviour", "basket", "sqrt-basket", "leaf", "path", "brand", "text",
	"leaf×text", "leaf×brand", "leaf×repeat", "catpair", "catpair×pop", "pop-in-leaf", "recent-in-leaf", "catpair×recent", "factor", "embed"}

// pfSignal is the blend signal a pair feature's contribution is reported
// under in reasons.
var pfSignal = [numPF]int{SigBehaviour, SigBehaviour, SigBasket, SigBasket, SigLeaf, SigPath, SigBrand, SigText,
	SigText, SigBrand, SigLeaf, SigCatPair, SigCatPair, SigPopular, SigPopular, SigCatPair, SigFactor, SigEmbed}

type pairVec [numPF]float64

// pairFeatures extends a candidate's complement signals f with the
// model's own features.
func (ix *Index) pairFeatures(a, j int32, f *features) pairVec {
	var x pairVec
	x[pfBehaviour] = f[SigBehaviour]
	x[pfBehaviourSqrt] = math.Sqrt(f[SigBehaviour])
	x[pfBasket] = f[SigBasket]
	x[pfBasketSqrt] = math.Sqrt(f[SigBasket])
	x[pfLeaf] = f[SigLeaf]
	x[pfPath] = f[SigPath]
	x[pfBrand] = f[SigBrand]
	x[pfText] = f[SigText]
	x[pfLeafText] = f[SigLeaf] * f[SigText]
	x[pfLeafBrand] = f[SigLeaf] * f[SigBrand]
	x[pfLeafRepeat] = f[SigLeaf] * ix.beh.leafRepeat(ix.content.leaf[a])
	x[pfCatPair] = ix.beh.catPair(ix.content.leaf[a], ix.content.leaf[j])
	x[pfCatPairPop] = f[SigCatPair]
	x[pfPopInLeaf] = ix.beh.popInLeaf(j)
	x[pfRecentInLeaf] = ix.beh.recentInLeaf(j)
	x[pfCatPairRec] = x[pfCatPair] * x[pfRecentInLeaf]
	x[pfFactor] = ix.factor.cos(a, j)
	x[pfEmbed] = ix.embed.cos(a, j)
	return x
}

// pairModel is a fitted conditional logit over standardised pair
// features.
type pairModel struct {
	mean, scale pairVec // x̃ = (x − mean) · scale
	w           pairVec
}

func (m *pairModel) logit(x *pairVec) float64 {
	var s float64
	for k := range x {
		s += m.w[k] * (x[k] - m.mean[k]) * m.scale[k]
	}
	return s
}

// score is the logit squashed into (0, 1): every candidate keeps a
// positive score, ranked by the logit.
func (m *pairModel) score(x *pairVec) float64 { return 1 / (1 + math.Exp(-m.logit(x))) }

// reason names the signals whose features raised the candidate most.
func (m *pairModel) reason(x *pairVec) string {
	var contrib features
	for k := range x {
		contrib[pfSignal[k]] += m.w[k] * (x[k] - m.mean[k]) * m.scale[k]
	}
	var ones Weights
	for k := range ones.W {
		ones.W[k] = 1
	}
	return ones.reason(&contrib, true)
}

// String lists the weights by feature (per standard deviation).
func (m *pairModel) String() string {
	var parts []string
	for k, v := range m.w {
		if v != 0 {
			parts = append(parts, fmt.Sprintf("%s=%.3g", pfNames[k], v))
		}
	}
	return "logit " + strings.Join(parts, " ")
}

// choiceGroup is one anchor's alternatives: the rows the shopper chose
// from and which of them were bought.
type choiceGroup struct {
	x   []pairVec
	rel []bool
	// ranked is how many of x (the first) are the anchor's candidates,
	// which NDCG is measured on; the rest are random negatives, fitted
	// only.
	ranked int
	nRel   int       // held-out items, reachable or not
	blend  []float64 // the blend's scores of the ranked rows
}

// pairL2 is the ridge penalty on the standardised weights.
const pairL2 = 1.0

// fitPairModel fits a conditional logit on the groups by Newton's method
// with a ridge penalty: the probability of a bought row is the softmax of
// the logits over its group.
func fitPairModel(groups []choiceGroup) *pairModel {
	m := &pairModel{}
	var n float64
	var sq pairVec
	for _, g := range groups {
		for q := range g.x {
			n++
			for k, v := range g.x[q] {
				m.mean[k] += v
				sq[k] += v * v
			}
		}
	}
	if n == 0 {
		return m
	}
	for k := range m.mean {
		m.mean[k] /= n
		if sd := math.Sqrt(max(sq[k]/n-m.mean[k]*m.mean[k], 0)); sd > 1e-9 {
			m.scale[k] = 1 / sd
		}
	}
	ll := func(w pairVec) float64 {
		t := *m
		t.w = w
		var s float64
		for _, g := range groups {
			s += groupLogLik(&t, g)
		}
		for _, v := range w {
			s -= pairL2 / 2 * v * v
		}
		return s
	}
	cur := ll(m.w)
	for iter := 0; iter < 30; iter++ {
		var grad pairVec
		var hess [numPF][numPF]float64
		for _, g := range groups {
			groupNewton(m, g, &grad, &hess)
		}
		for k := range grad {
			grad[k] -= pairL2 * m.w[k]
			hess[k][k] += pairL2
		}
		step, ok := solveSym(hess, grad)
		if !ok {
			break
		}
		// step halving keeps every iteration an ascent
		t := 1.0
		for ; t > 1e-4; t /= 2 {
			var w pairVec
			for k := range w {
				w[k] = m.w[k] + t*step[k]
			}
			if v := ll(w); v >= cur {
				m.w, cur = w, v
				break
			}
		}
		var norm float64
		for _, v := range step {
			norm += v * v
		}
		if t <= 1e-4 || t*math.Sqrt(norm) < 1e-6 {
			break
		}
	}
	return m
}

// groupLogLik is the mean log-probability of a group's bought rows.
func groupLogLik(m *pairModel, g choiceGroup) float64 {
	npos := 0
	for _, r := range g.rel {
		if r {
			npos++
		}
	}
	if npos == 0 || npos == len(g.x) {
		return 0
	}
	z := make([]float64, len(g.x))
	mx := math.Inf(-1)
	for q := range g.x {
		z[q] = m.logit(&g.x[q])
		mx = max(mx, z[q])
	}
	var sum float64
	for _, v := range z {
		sum += math.Exp(v - mx)
	}
	lse := mx + math.Log(sum)
	var s float64
	for q, r := range g.rel {
		if r {
			s += z[q] - lse
		}
	}
	return s / float64(npos)
}

// groupNewton adds a group's gradient and (negated) Hessian of its mean
// log-probability of the bought rows, in standardised features.
func groupNewton(m *pairModel, g choiceGroup, grad *pairVec, hess *[numPF][numPF]float64) {
	npos := 0
	for _, r := range g.rel {
		if r {
			npos++
		}
	}
	if npos == 0 || npos == len(g.x) {
		return
	}
	xs := make([]pairVec, len(g.x))
	z := make([]float64, len(g.x))
	mx := math.Inf(-1)
	for q := range g.x {
		for k := range xs[q] {
			xs[q][k] = (g.x[q][k] - m.mean[k]) * m.scale[k]
		}
		z[q] = m.logit(&g.x[q])
		mx = max(mx, z[q])
	}
	var sum float64
	for q := range z {
		z[q] = math.Exp(z[q] - mx)
		sum += z[q]
	}
	var e pairVec
	var exx [numPF][numPF]float64
	for q := range xs {
		p := z[q] / sum
		for k := range e {
			e[k] += p * xs[q][k]
			for l := k; l < numPF; l++ {
				exx[k][l] += p * xs[q][k] * xs[q][l]
			}
		}
	}
	for q, r := range g.rel {
		if r {
			for k := range grad {
				grad[k] += (xs[q][k] - e[k]) / float64(npos)
			}
		}
	}
	for k := 0; k < numPF; k++ {
		for l := k; l < numPF; l++ {
			v := exx[k][l] - e[k]*e[l]
			hess[k][l] += v
			if l != k {
				hess[l][k] += v
			}
		}
	}
}

// solveSym solves A x = b for a symmetric positive definite A
// (Cholesky); false when A is not.
func solveSym(a [numPF][numPF]float64, b pairVec) (pairVec, bool) {
	var l [numPF][numPF]float64
	for i := 0; i < numPF; i++ {
		for j := 0; j <= i; j++ {
			s := a[i][j]
			for k := 0; k < j; k++ {
				s -= l[i][k] * l[j][k]
			}
			if i == j {
				if s <= 0 {
					return b, false
				}
				l[i][i] = math.Sqrt(s)
			} else {
				l[i][j] = s / l[j][j]
			}
		}
	}
	var y, x pairVec
	for i := 0; i < numPF; i++ {
		s := b[i]
		for k := 0; k < i; k++ {
			s -= l[i][k] * y[k]
		}
		y[i] = s / l[i][i]
	}
	for i := numPF - 1; i >= 0; i-- {
		s := y[i]
		for k := i + 1; k < numPF; k++ {
			s -= l[k][i] * x[k]
		}
		x[i] = s / l[i][i]
	}
	return x, true
}

// ndcg is the mean NDCG@10 of the groups' held-out items among their
// ranked candidates under m.
func (m *pairModel) ndcg(groups []choiceGroup) float64 {
	if len(groups) == 0 {
		return 0
	}
	var sum float64
	var scores []float64
	for _, g := range groups {
		scores = scores[:0]
		for q := range g.x[:g.ranked] {
			scores = append(scores, m.score(&g.x[q]))
		}
		sum += ndcgAt10(scores, g.rel[:g.ranked], g.nRel)
	}
	return sum / float64(len(groups))
}

// blendNDCG is the mean NDCG@10 of the groups under the blend that
// ranked their candidates.
func blendNDCG(groups []choiceGroup) float64 {
	if len(groups) == 0 {
		return 0
	}
	var sum float64
	for _, g := range groups {
		sum += ndcgAt10(g.blend, g.rel[:g.ranked], g.nRel)
	}
	return sum / float64(len(groups))
}

// crossFit is the model's NDCG@10 on the groups when each half is ranked
// by a model fitted on the other half.
func crossFit(groups []choiceGroup) float64 {
	var folds [2][]choiceGroup
	for k, g := range groups {
		folds[k%2] = append(folds[k%2], g)
	}
	if len(folds[0]) == 0 || len(folds[1]) == 0 {
		return 0
	}
	var sum float64
	for f := range folds {
		m := fitPairModel(folds[1-f])
		sum += m.ndcg(folds[f]) * float64(len(folds[f]))
	}
	return sum / float64(len(groups))
}

// randomNegatives is how many popularity-matched random items join each
// anchor's candidates as alternatives while fitting.
const randomNegatives = 30

// choiceGroups builds the model's training groups for the anchors: the
// anchor's complement candidates (substitutes left out, as when serving;
// the best maxLearnCands by the current blend and every held-out one) and
// randomNegatives items drawn in proportion to their shoppers, so the
// negatives are as popular as the positives are.
func (ix *Index) choiceGroups(anchors []int32, held map[int32][]int32, seed uint64) []choiceGroup {
	// cumulative shopper counts for drawing items by popularity
	cum := make([]float64, len(ix.beh.count))
	var tot float64
	for i, c := range ix.beh.count {
		tot += c
		cum[i] = tot
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	draw := func() int32 {
		v := rng.Float64() * tot
		lo, hi := 0, len(cum)-1
		for lo < hi {
			mid := (lo + hi) / 2
			if cum[mid] > v {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		return int32(lo)
	}
	type cand struct {
		j int32
		s float64
		r bool
		x pairVec
	}
	groups := make([]choiceGroup, 0, len(anchors))
	for _, a := range anchors {
		var cs []cand
		seen := map[int32]bool{a: true}
		// admit gives j's features once, unless j is no candidate (seen,
		// deleted or a substitute of a)
		admit := func(j int32) (features, bool) {
			if seen[j] || ix.content.deleted[j] {
				return features{}, false
			}
			seen[j] = true
			return ix.complementOf(a, j)
		}
		for _, j := range ix.complementCandidates(a, true) {
			if f, ok := admit(j); ok {
				cs = append(cs, cand{j, ix.compW.score(&f), slices.Contains(held[a], j), ix.pairFeatures(a, j, &f)})
			}
		}
		slices.SortStableFunc(cs, func(x, y cand) int { return cmp.Compare(y.s, x.s) })
		g := choiceGroup{nRel: len(held[a])}
		for k, c := range cs {
			if k < maxLearnCands || c.r {
				g.x = append(g.x, c.x)
				g.rel = append(g.rel, c.r)
				g.blend = append(g.blend, c.s)
			}
		}
		g.ranked = len(g.x)
		if tot > 0 {
			for t := 0; t < randomNegatives*3 && len(g.x) < g.ranked+randomNegatives; t++ {
				j := draw()
				if f, ok := admit(j); ok {
					g.x = append(g.x, ix.pairFeatures(a, j, &f))
					g.rel = append(g.rel, slices.Contains(held[a], j))
				}
			}
		}
		groups = append(groups, g)
	}
	return groups
}
