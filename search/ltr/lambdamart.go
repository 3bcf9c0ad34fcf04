package ltr

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// sigma is the steepness of the pairwise logistic loss of LambdaRank.
const sigma = 1.0

// binned is the training set as histogram bins, one column per feature.
type binned struct {
	cuts  [][]float32 // per feature: increasing cut points; bin b holds x <= cuts[b] (and > cuts[b-1])
	cols  [][]uint8   // per feature: bin of each document
	qoff  []int       // query q's documents are [qoff[q], qoff[q+1])
	label []float64
}

// quantileCuts returns at most bins-1 cut points splitting vals into bins
// of about equal counts, each a midpoint between two distinct values.
func quantileCuts(vals []float32, bins int) []float32 {
	s := slices.Clone(vals)
	slices.Sort(s)
	distinct := s[:0:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			distinct = append(distinct, v)
		}
	}
	mid := func(a, b float32) float32 { return float32((float64(a) + float64(b)) / 2) }
	var cuts []float32
	if len(distinct) <= bins {
		for i := 0; i+1 < len(distinct); i++ {
			cuts = append(cuts, mid(distinct[i], distinct[i+1]))
		}
		return cuts
	}
	for b := 1; b < bins; b++ {
		i := b * len(s) / bins
		v := s[i-1]
		// cut after v, at the midpoint to the next larger value
		j := sort.Search(len(distinct), func(k int) bool { return distinct[k] > v })
		if j >= len(distinct) {
			break
		}
		c := mid(v, distinct[j])
		if len(cuts) == 0 || c > cuts[len(cuts)-1] {
			cuts = append(cuts, c)
		}
	}
	return cuts
}

func binOf(cuts []float32, x float32) uint8 {
	return uint8(sort.Search(len(cuts), func(i int) bool { return x <= cuts[i] }))
}

func binQueries(qs []Query, nf, bins int) *binned {
	b := &binned{qoff: make([]int, len(qs)+1)}
	n := 0
	for i, q := range qs {
		n += len(q.Labels)
		b.qoff[i+1] = n
		b.label = append(b.label, q.Labels...)
	}
	b.cuts = make([][]float32, nf)
	b.cols = make([][]uint8, nf)
	vals := make([]float32, 0, n)
	for f := 0; f < nf; f++ {
		vals = vals[:0]
		for _, q := range qs {
			for _, x := range q.Features {
				vals = append(vals, x[f])
			}
		}
		b.cuts[f] = quantileCuts(vals, bins)
		col := make([]uint8, n)
		for i, v := range vals {
			col[i] = binOf(b.cuts[f], v)
		}
		b.cols[f] = col
	}
	return b
}

// lambdas computes the LambdaRank gradients (grad, pushing a document up
// when positive) and their second derivatives (hess) of one query with
// current scores s and labels l, for nDCG@k with linear gains: for every
// pair i, j with l_i > l_j,
//
//	ρ = 1 / (1 + exp(σ(s_i - s_j))),  Δ = |(l_i - l_j)(D(r_i) - D(r_j))| / IDCG@k
//	grad_i += σρΔ, grad_j -= σρΔ,  hess_i, hess_j += σ²ρ(1-ρ)Δ
//
// where r is the rank under the current scores and D(r) = 1/log2(r+2) for
// r < k, else 0. Pairs where both documents rank below k have Δ = 0.
func lambdas(s, l []float64, k int, grad, hess []float64) {
	for i := range grad {
		grad[i], hess[i] = 0, 0
	}
	idcg := idealDCG(l, k)
	if idcg == 0 {
		return
	}
	order, disc := rankDiscounts(s, k)
	for a := range order {
		i := order[a]
		for b := range order {
			j := order[b]
			if l[i] <= l[j] || (a >= k && b >= k) {
				continue
			}
			delta := math.Abs((l[i] - l[j]) * (disc[i] - disc[j]) / idcg)
			if delta == 0 {
				continue
			}
			rho := 1 / (1 + math.Exp(sigma*(s[i]-s[j])))
			g := sigma * rho * delta
			h := sigma * sigma * rho * (1 - rho) * delta
			grad[i] += g
			grad[j] -= g
			hess[i] += h
			hess[j] += h
		}
	}
}

// rankDiscounts returns the documents by decreasing score s (ties by index)
// and each document's discount D(rank) at that rank, 0 from rank k on.
func rankDiscounts(s []float64, k int) (order []int, disc []float64) {
	order = rankOrder(s)
	disc = make([]float64, len(s))
	for r, d := range order {
		if r < k {
			disc[d] = discount(r)
		}
	}
	return order, disc
}

type histBin struct {
	g, h float64
	n    int
}

// leafState is a leaf of the growing tree: its documents and histograms.
type leafState struct {
	docs  []int32
	hist  [][]histBin // per feature (nil for features not sampled)
	g, h  float64
	depth int
	// best split
	gain   float64
	feat   int
	bin    int
	ready  bool
	parent int32 // internal node whose child this leaf is (-1: root)
	isLeft bool
}

type grower struct {
	b        *binned
	p        *Params
	grad     []float64
	hess     []float64
	features []int
}

func (gr *grower) histogram(docs []int32) [][]histBin {
	hs := make([][]histBin, len(gr.b.cols))
	for _, f := range gr.features {
		h := make([]histBin, len(gr.b.cuts[f])+1)
		col := gr.b.cols[f]
		for _, d := range docs {
			e := &h[col[d]]
			e.g += gr.grad[d]
			e.h += gr.hess[d]
			e.n++
		}
		hs[f] = h
	}
	return hs
}

func (gr *grower) findSplit(l *leafState) {
	l.ready, l.gain = true, 0
	if l.depth >= gr.p.MaxDepth || len(l.docs) < 2*gr.p.MinDocsPerLeaf {
		return
	}
	lam := gr.p.L2
	parent := l.g * l.g / (l.h + lam)
	n := len(l.docs)
	for _, f := range gr.features {
		var gl, hl float64
		nl := 0
		h := l.hist[f]
		for b := 0; b+1 < len(h); b++ {
			gl += h[b].g
			hl += h[b].h
			nl += h[b].n
			if nl < gr.p.MinDocsPerLeaf {
				continue
			}
			if n-nl < gr.p.MinDocsPerLeaf {
				break
			}
			gr2, hr := l.g-gl, l.h-hl
			gain := gl*gl/(hl+lam) + gr2*gr2/(hr+lam) - parent
			if gain > l.gain+1e-12 {
				l.gain, l.feat, l.bin = gain, f, b
			}
		}
	}
}

// grow fits one tree to the gradients of the given documents.
func (gr *grower) grow(docs []int32) tree {
	var t tree
	root := &leafState{docs: docs, parent: -1}
	for _, d := range docs {
		root.g += gr.grad[d]
		root.h += gr.hess[d]
	}
	root.hist = gr.histogram(docs)
	leaves := []*leafState{root}
	for len(leaves) < gr.p.MaxLeaves {
		best := -1
		for i, l := range leaves {
			if !l.ready {
				gr.findSplit(l)
			}
			if l.gain > 0 && (best < 0 || l.gain > leaves[best].gain) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		l := leaves[best]
		col := gr.b.cols[l.feat]
		var ld, rd []int32
		for _, d := range l.docs {
			if int(col[d]) <= l.bin {
				ld = append(ld, d)
			} else {
				rd = append(rd, d)
			}
		}
		node := int32(len(t.feat))
		t.feat = append(t.feat, int32(l.feat))
		t.thr = append(t.thr, gr.b.cuts[l.feat][l.bin])
		t.left = append(t.left, 0)
		t.right = append(t.right, 0)
		t.link(l.parent, l.isLeft, node)
		// histogram of the smaller child, the larger one by subtraction
		small, large := ld, rd
		if len(rd) < len(ld) {
			small, large = rd, ld
		}
		hs := gr.histogram(small)
		hl := make([][]histBin, len(hs))
		for _, f := range gr.features {
			hl[f] = make([]histBin, len(hs[f]))
			for b := range hs[f] {
				p, s := l.hist[f][b], hs[f][b]
				hl[f][b] = histBin{g: p.g - s.g, h: p.h - s.h, n: p.n - s.n}
			}
		}
		mk := func(docs []int32, hist [][]histBin) *leafState {
			c := &leafState{docs: docs, hist: hist, depth: l.depth + 1}
			for _, d := range docs {
				c.g += gr.grad[d]
				c.h += gr.hess[d]
			}
			return c
		}
		var lc, rc *leafState
		if len(rd) < len(ld) {
			lc, rc = mk(large, hl), mk(small, hs)
		} else {
			lc, rc = mk(small, hs), mk(large, hl)
		}
		lc.parent, lc.isLeft = node, true
		rc.parent = node
		leaves[best] = lc
		leaves = append(leaves, rc)
	}
	t.leaf = make([]float64, len(leaves))
	for i, l := range leaves {
		t.leaf[i] = l.g / (l.h + gr.p.L2)
		t.link(l.parent, l.isLeft, ^int32(i))
	}
	return t
}

// link sets the left or right child of internal node parent (none when
// parent < 0: the root).
func (t *tree) link(parent int32, isLeft bool, child int32) {
	switch {
	case parent < 0:
	case isLeft:
		t.left[parent] = child
	default:
		t.right[parent] = child
	}
}

func trainLambdaMART(ctx context.Context, train, valid []Query, p *Params) (*Model, error) {
	nf := len(p.Features)
	b := binQueries(train, nf, p.Bins)
	n := len(b.label)
	rng := rand.New(rand.NewPCG(p.Seed, 0x5eed1a7b))
	m := &Model{algo: AlgorithmLambdaMART, features: slices.Clone(p.Features), k: p.K, baseFeat: -1}
	score := make([]float64, n)
	if p.BaseFeature != "" {
		m.baseFeat = slices.Index(p.Features, p.BaseFeature)
		m.baseW = baseScale(train, m.baseFeat, p.K)
		for q := range train {
			for j, x := range train[q].Features {
				score[b.qoff[q]+j] = m.baseW * float64(x[m.baseFeat])
			}
		}
	}
	grad := make([]float64, n)
	hess := make([]float64, n)
	vscore := make([][]float64, len(valid))
	for i, q := range valid {
		vscore[i] = make([]float64, len(q.Labels))
		if m.baseFeat >= 0 {
			for j, x := range q.Features {
				vscore[i][j] = m.baseW * float64(x[m.baseFeat])
			}
		}
	}
	tscore := make([][]float64, len(train))
	for i := range train {
		tscore[i] = score[b.qoff[i]:b.qoff[i+1]]
	}
	gr := &grower{b: b, p: p, grad: grad, hess: hess}
	bestValid, bestRound, since := math.Inf(-1), 0, 0
	if len(valid) > 0 && m.baseFeat >= 0 {
		bestValid = meanNDCG(vscore, valid, p.K) // zero trees is a candidate
	}
	var allF []int
	for f := 0; f < nf; f++ {
		if !slices.Contains(p.Ignore, p.Features[f]) {
			allF = append(allF, f)
		}
	}
	nq := len(train)
	if p.Progress != nil {
		p.Progress(0, meanNDCG(tscore, train, p.K), meanNDCG(vscore, valid, p.K))
	}
	for round := 0; round < p.Trees; round++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for q := 0; q < nq; q++ {
			lo, hi := b.qoff[q], b.qoff[q+1]
			lambdas(score[lo:hi], b.label[lo:hi], p.GradientK, grad[lo:hi], hess[lo:hi])
		}
		// sample features and queries
		gr.features = allF
		if p.FeatureFraction < 1 && len(allF) > 0 {
			perm := rng.Perm(len(allF))
			k := max(1, int(math.Round(p.FeatureFraction*float64(len(allF)))))
			gr.features = make([]int, k)
			for i := range gr.features {
				gr.features[i] = allF[perm[i]]
			}
			slices.Sort(gr.features)
		}
		qs := rng.Perm(nq)
		if p.QueryFraction < 1 {
			qs = qs[:max(1, int(math.Round(p.QueryFraction*float64(nq))))]
		}
		slices.Sort(qs)
		var docs []int32
		for _, q := range qs {
			for d := b.qoff[q]; d < b.qoff[q+1]; d++ {
				docs = append(docs, int32(d))
			}
		}
		t := gr.grow(docs)
		for i := range t.leaf {
			t.leaf[i] *= p.LearningRate
		}
		m.trees = append(m.trees, t)
		for q := range train {
			for j, x := range train[q].Features {
				tscore[q][j] += t.eval(x)
			}
		}
		for i, q := range valid {
			for d, x := range q.Features {
				vscore[i][d] += t.eval(x)
			}
		}
		tr := meanNDCG(tscore, train, p.K)
		va := meanNDCG(vscore, valid, p.K)
		if p.Progress != nil {
			p.Progress(round+1, tr, va)
		}
		if len(valid) > 0 {
			if va > bestValid+1e-9 {
				bestValid, bestRound, since = va, round+1, 0
				m.TrainNDCG = tr
			} else if since++; since >= p.EarlyStopping {
				break
			}
		} else {
			bestRound = round + 1
			m.TrainNDCG = tr
		}
	}
	m.trees = m.trees[:bestRound]
	if bestRound == 0 {
		m.TrainNDCG = meanNDCG(baseScores(train, m), train, p.K)
	}
	m.ValidNDCG = -1
	if len(valid) > 0 {
		m.ValidNDCG = bestValid
	}
	return m, nil
}

// baseScale returns the weight w of feature f that minimises the
// LambdaRank pairwise loss Σ Δ·log(1+exp(-σw(x_i-x_j))) over the training
// pairs, searched on a log grid (0 when the feature ranks worse than
// nothing).
func baseScale(qs []Query, f, k int) float64 {
	type pair struct{ d, delta float64 }
	var pairs []pair
	for _, q := range qs {
		s := make([]float64, len(q.Features))
		for i, x := range q.Features {
			s[i] = float64(x[f])
		}
		idcg := idealDCG(q.Labels, k)
		if idcg == 0 {
			continue
		}
		_, disc := rankDiscounts(s, k)
		for i := range s {
			for j := range s {
				if q.Labels[i] > q.Labels[j] {
					// weight by the gain difference at the better of the two ranks
					delta := (q.Labels[i] - q.Labels[j]) * max(disc[i], disc[j]) / idcg
					if delta > 0 {
						pairs = append(pairs, pair{s[i] - s[j], delta})
					}
				}
			}
		}
	}
	best, bestLoss := 0.0, math.Inf(1)
	for w := 0.25; w <= 1024; w *= math.Sqrt2 {
		var loss float64
		for _, p := range pairs {
			loss += p.delta * softplus(-sigma*w*p.d)
		}
		if loss < bestLoss {
			best, bestLoss = w, loss
		}
	}
	return best
}

func baseScores(qs []Query, m *Model) [][]float64 {
	out := make([][]float64, len(qs))
	for i, q := range qs {
		out[i] = make([]float64, len(q.Features))
		for j, x := range q.Features {
			out[i][j] = m.Score(x)
		}
	}
	return out
}

// softplus is log(1+e^z) without overflow.
func softplus(z float64) float64 {
	if z > 30 {
		return z
	}
	return math.Log1p(math.Exp(z))
}
