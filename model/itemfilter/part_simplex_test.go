package itemfilter_test

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/aisle-dev/aisle/eval"
	"github.com/aisle-dev/aisle/model"
)

// sxConfig configures simplexPart.
type sxConfig struct {
	dim, negs      int
	margin, negw   float64
	epochs         int
	lr, gamma, reg float64
	sgd            bool // plain SGD instead of lazy Adam (keeps the loss's weights in the item updates)
	seed           uint64
}

// simplexPart is a SimpleX-style factor model (Mao et al., CIKM 2021): the
// user vector is g·U_u + (1−g)·mean of the history's input vectors H_i,
// items are scored by cosine, and the loss is the cosine contrastive loss
// (1 − cos(p, E_i)) per positive plus negw·mean over sampled negatives of
// max(0, cos(p, E_j) − margin) per positive. The negatives are shared by a
// user's positives (same expected gradient, |row| + negs cosines per user
// instead of |row|·negs). Lazy Adam on the touched rows; hogwild over cores
// (unsynchronised updates: a harness, skipped unless AISLE_EXP is set, so
// never run under -race).
func simplexPart(ctx context.Context, ds *model.Dataset, c sxConfig) (func(cs *eval.Case, out []float32), error) {
	nu, n, d := ds.NumUsers(), ds.NumItems(), c.dim
	rng := rand.New(rand.NewPCG(c.seed, 7))
	newMat := func(rows int) []float32 {
		m := make([]float32, rows*d)
		for i := range m {
			m[i] = float32(rng.NormFloat64() * 0.1)
		}
		return m
	}
	type adam struct{ w, m, v []float32 }
	mk := func(rows int) *adam {
		return &adam{w: newMat(rows), m: make([]float32, rows*d), v: make([]float32, rows*d)}
	}
	E, U, H := mk(n), mk(nu), mk(n)
	const b1, b2, eps = 0.9, 0.999, 1e-8
	step := 0
	var mu sync.Mutex
	update := func(a *adam, row int, g []float32, lrT float32) {
		w, m, v := a.w[row*d:(row+1)*d], a.m[row*d:(row+1)*d], a.v[row*d:(row+1)*d]
		if c.sgd {
			for k := range g {
				w[k] -= float32(c.lr) * (g[k] + float32(c.reg)*w[k])
			}
			return
		}
		for k := range g {
			gk := g[k] + float32(c.reg)*w[k]
			m[k] = b1*m[k] + (1-b1)*gk
			v[k] = b2*v[k] + (1-b2)*gk*gk
			w[k] -= lrT * m[k] / (float32(math.Sqrt(float64(v[k]))) + eps)
		}
	}
	norm := func(x []float32) float32 {
		s := float32(0)
		for _, v := range x {
			s += v * v
		}
		return float32(math.Sqrt(float64(s))) + 1e-12
	}
	workers := runtime.GOMAXPROCS(0)
	for ep := range c.epochs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		order := rng.Perm(nu)
		var wg sync.WaitGroup
		for wk := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(c.seed+uint64(ep)*1000+uint64(wk), 11))
				p := make([]float32, d)
				gp := make([]float32, d)
				ge := make([]float32, d)
				gh := make([]float32, d)
				for oi := wk; oi < len(order); oi += workers {
					u := order[oi]
					row := ds.Row(u)
					if len(row) == 0 {
						continue
					}
					mu.Lock()
					step++
					t := step
					mu.Unlock()
					// bias-corrected rate with a global step (lazy Adam)
					tt := float64(t)/float64(workers) + 1
					lrT := float32(c.lr * math.Sqrt(1-math.Pow(b2, tt)) / (1 - math.Pow(b1, tt)))
					uw := U.w[u*d : (u+1)*d]
					clear(p)
					for _, h := range row {
						hw := H.w[int(h)*d : (int(h)+1)*d]
						for k := range p {
							p[k] += hw[k]
						}
					}
					inv := float32((1 - c.gamma) / float64(len(row)))
					for k := range p {
						p[k] = float32(c.gamma)*uw[k] + inv*p[k]
					}
					pn := norm(p)
					clear(gp)
					// cosine gradient: ∂c/∂p = (ê − c·p̂)/|p|, ∂c/∂e = (p̂ − c·ê)/|e|
					// positives
					for _, i := range row {
						ew := E.w[int(i)*d : (int(i)+1)*d]
						en := norm(ew)
						dot := float32(0)
						for k := range ew {
							dot += ew[k] * p[k]
						}
						cs := dot / (en * pn)
						// loss 1 − c: gradient −∂c
						for k := range ge {
							ge[k] = -(p[k]/pn - cs*ew[k]/en) / en
							gp[k] += -(ew[k]/en - cs*p[k]/pn) / pn
						}
						update(E, int(i), ge, lrT)
					}
					coef := float32(c.negw * float64(len(row)) / float64(c.negs))
					for range c.negs {
						j := r.IntN(n)
						ew := E.w[j*d : (j+1)*d]
						en := norm(ew)
						dot := float32(0)
						for k := range ew {
							dot += ew[k] * p[k]
						}
						cs := dot / (en * pn)
						if float64(cs) <= c.margin {
							continue
						}
						for k := range ge {
							ge[k] = coef * (p[k]/pn - cs*ew[k]/en) / en
							gp[k] += coef * (ew[k]/en - cs*p[k]/pn) / pn
						}
						update(E, j, ge, lrT)
					}
					for k := range gh {
						gh[k] = float32(c.gamma) * gp[k]
					}
					update(U, u, gh, lrT)
					for k := range gh {
						gh[k] = inv * gp[k]
					}
					for _, h := range row {
						update(H, int(h), gh, lrT)
					}
				}
			}()
		}
		wg.Wait()
	}
	// Scoring: p·ê_j.
	en := make([]float32, n*d)
	for j := range n {
		ew := E.w[j*d : (j+1)*d]
		nn := norm(ew)
		for k := range ew {
			en[j*d+k] = ew[k] / nn
		}
	}
	return func(cs *eval.Case, out []float32) {
		p := make([]float32, d)
		hist := cs.History
		if len(hist) > 0 {
			inv := float32((1 - c.gamma) / float64(len(hist)))
			for _, h := range hist {
				hw := H.w[int(h)*d : (int(h)+1)*d]
				for k := range p {
					p[k] += inv * hw[k]
				}
			}
		}
		if u := int(cs.User); u >= 0 && u < nu {
			uw := U.w[u*d : (u+1)*d]
			for k := range p {
				p[k] += float32(c.gamma) * uw[k]
			}
		}
		for j := range n {
			e := en[j*d : (j+1)*d]
			s := float32(0)
			for k, v := range e {
				s += v * p[k]
			}
			out[j] = s
		}
	}, nil
}
