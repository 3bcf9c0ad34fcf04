package ltr

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
)

// linearSteps are the weight changes tried per feature in coordinate
// ascent, on standardised features with the weights' L1 norm kept at 1.
var linearSteps = []float64{-1, -0.5, -0.25, -0.1, -0.05, -0.02, -0.005, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1}

// trainLinear fits weights of standardised features by coordinate ascent
// on the mean training nDCG@K (Metzler and Croft 2007), starting from the
// best single feature, and keeps the pass with the best validation nDCG.
func trainLinear(ctx context.Context, train, valid []Query, p *Params) (*Model, error) {
	nf := len(p.Features)
	m := &Model{algo: AlgorithmLinear, features: slices.Clone(p.Features), k: p.K,
		mean: make([]float64, nf), scale: make([]float64, nf), weight: make([]float64, nf)}
	var n float64
	for _, q := range train {
		for _, x := range q.Features {
			for f, v := range x {
				m.mean[f] += float64(v)
			}
			n++
		}
	}
	for f := range m.mean {
		m.mean[f] /= n
	}
	for _, q := range train {
		for _, x := range q.Features {
			for f, v := range x {
				d := float64(v) - m.mean[f]
				m.scale[f] += d * d
			}
		}
	}
	for f := range m.scale {
		if sd := math.Sqrt(m.scale[f] / n); sd > 1e-12 && !slices.Contains(p.Ignore, p.Features[f]) {
			m.scale[f] = 1 / sd
		} else {
			m.scale[f] = 0
		}
	}
	// standardised columns per query
	z := make([][][]float64, len(train)) // query → feature → doc
	for qi, q := range train {
		z[qi] = make([][]float64, nf)
		for f := 0; f < nf; f++ {
			col := make([]float64, len(q.Features))
			for d, x := range q.Features {
				col[d] = (float64(x[f]) - m.mean[f]) * m.scale[f]
			}
			z[qi][f] = col
		}
	}
	scores := make([][]float64, len(train))
	for qi, q := range train {
		scores[qi] = make([]float64, len(q.Labels))
	}
	setScores := func(w []float64) {
		for qi := range train {
			s := scores[qi]
			clear(s)
			for f, wf := range w {
				if wf == 0 {
					continue
				}
				for d, v := range z[qi][f] {
					s[d] += wf * v
				}
			}
		}
	}
	trainNDCG := func() float64 { return meanNDCG(scores, train, p.K) }
	// start from the best single feature, either sign
	w := make([]float64, nf)
	best := math.Inf(-1)
	for f := 0; f < nf; f++ {
		if m.scale[f] == 0 {
			continue
		}
		for _, sgn := range []float64{1, -1} {
			clear(w)
			w[f] = sgn
			setScores(w)
			if v := trainNDCG(); v > best {
				best = v
				copy(m.weight, w)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	copy(w, m.weight)
	setScores(w)
	cur := trainNDCG()
	rng := rand.New(rand.NewPCG(p.Seed, 0x11ea7))
	evalValid := func(w []float64) float64 {
		if len(valid) == 0 {
			return -1
		}
		mm := *m
		mm.weight = w
		return MeanNDCG(mm.Score, valid, p.K)
	}
	bestW := slices.Clone(w)
	bestValid := evalValid(w)
	m.TrainNDCG = cur
	since := 0
	if p.Progress != nil {
		p.Progress(0, cur, bestValid)
	}
	// the features that vary, visited in a seeded random order of their
	// own: a constant (or ignored) column, such as a feature appended to
	// the schema that the data does not have yet, leaves the model as it
	// would be without that column
	var active []int
	for f := range nf {
		if m.scale[f] != 0 {
			active = append(active, f)
		}
	}
	for pass := 0; pass < p.LinearPasses; pass++ {
		improved := false
		for _, k := range rng.Perm(len(active)) {
			f := active[k]
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			bestStep, bestVal := 0.0, cur
			for _, st := range linearSteps {
				for qi := range train {
					for d, v := range z[qi][f] {
						scores[qi][d] += st * v
					}
				}
				if v := trainNDCG(); v > bestVal+1e-9 {
					bestStep, bestVal = st, v
				}
				for qi := range train {
					for d, v := range z[qi][f] {
						scores[qi][d] -= st * v
					}
				}
			}
			if bestStep != 0 {
				w[f] += bestStep
				var l1 float64
				for _, x := range w {
					l1 += math.Abs(x)
				}
				if l1 > 0 {
					for i := range w {
						w[i] /= l1
					}
				}
				setScores(w)
				cur = trainNDCG()
				improved = true
			}
		}
		va := evalValid(w)
		if p.Progress != nil {
			p.Progress(pass+1, cur, va)
		}
		if len(valid) == 0 || va > bestValid+1e-9 {
			bestValid = va
			copy(bestW, w)
			m.TrainNDCG = cur
			since = 0
		} else if since++; since >= 2 {
			break
		}
		if !improved {
			break
		}
	}
	copy(m.weight, bestW)
	m.ValidNDCG = bestValid
	return m, nil
}
