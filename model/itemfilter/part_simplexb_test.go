package itemfilter_test

import (
	"context"
	"math"
	"math/rand/v2"

	"github.com/aisle-dev/aisle/eval"
	"github.com/aisle-dev/aisle/model"
)

// sxbConfig configures simplexBatchPart.
type sxbConfig struct {
	dim, negs, batch int
	margin, negw     float64
	epochs           int
	lr, gamma, reg   float64
	seed             uint64
}

// simplexBatchPart is SimpleX (Mao et al., CIKM 2021) trained in mini-batches,
// unlike session 10's one-user-per-step simplexPart: the user vector is
// p_u = γ·U_u + (1−γ)·mean of the history's vectors H_i, items are scored
// by cos(p_u, E_j), and the loss per positive (u, i) is the cosine
// contrastive loss (1 − cos(p_u, E_i)) + negw/N·Σ_j max(0, cos(p_u, E_j) −
// margin) over N uniform negatives shared by the whole batch of users (so
// the negative term is one B×N cosine block per batch). Loss averaged over
// the batch's positives, plain (dense) Adam over all three tables per batch,
// L2 reg on the rows the batch touched. Single-threaded and deterministic.
func simplexBatchPart(ctx context.Context, ds *model.Dataset, c sxbConfig) (func(cs *eval.Case, out []float32), error) {
	nu, n, d := ds.NumUsers(), ds.NumItems(), c.dim
	rng := rand.New(rand.NewPCG(c.seed, 7))
	type table struct{ w, g, m, v []float64 }
	mk := func(rows int) *table {
		t := &table{w: make([]float64, rows*d), g: make([]float64, rows*d), m: make([]float64, rows*d), v: make([]float64, rows*d)}
		for i := range t.w {
			t.w[i] = rng.NormFloat64() * 0.1
		}
		return t
	}
	E, U, H := mk(n), mk(nu), mk(n)
	tables := []*table{E, U, H}
	const b1, b2, eps = 0.9, 0.999, 1e-8
	step := 0
	norm := func(x []float64) float64 {
		s := 0.0
		for _, v := range x {
			s += v * v
		}
		return math.Sqrt(s) + 1e-12
	}
	// backNorm adds to g the gradient w.r.t. x given gh, the gradient w.r.t.
	// x̂ = x/|x|: (gh − (gh·x̂)x̂)/|x|.
	backNorm := func(g, gh, xh []float64, nx float64) {
		dot := 0.0
		for k := range gh {
			dot += gh[k] * xh[k]
		}
		for k := range gh {
			g[k] += (gh[k] - dot*xh[k]) / nx
		}
	}
	B, N := c.batch, c.negs
	P := make([]float64, B*d)  // p_u
	Ph := make([]float64, B*d) // p̂_u
	pn := make([]float64, B)
	gP := make([]float64, B*d) // dL/dp̂
	negs := make([]int, N)
	En := make([]float64, N*d) // ê of the negatives
	enn := make([]float64, N)
	gEn := make([]float64, N*d) // dL/dê of the negatives
	eh := make([]float64, d)
	ge := make([]float64, d)
	gp := make([]float64, d)
	for ep := range c.epochs {
		order := rng.Perm(nu)
		for lo := 0; lo < nu; lo += B {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			us := order[lo:min(lo+B, nu)]
			for _, t := range tables {
				clear(t.g)
			}
			total := 0
			for _, u := range us {
				total += len(ds.Row(u))
			}
			if total == 0 {
				continue
			}
			scale := 1 / float64(total)
			// user vectors
			for b, u := range us {
				p := P[b*d : (b+1)*d]
				row := ds.Row(u)
				clear(p)
				for _, h := range row {
					hw := H.w[int(h)*d : (int(h)+1)*d]
					for k := range p {
						p[k] += hw[k]
					}
				}
				inv := (1 - c.gamma) / float64(max(len(row), 1))
				uw := U.w[u*d : (u+1)*d]
				for k := range p {
					p[k] = c.gamma*uw[k] + inv*p[k]
				}
				pn[b] = norm(p)
				for k := range p {
					Ph[b*d+k] = p[k] / pn[b]
				}
			}
			clear(gP[:len(us)*d])
			// positives: loss 1 − c, dL/dp̂ = −ê, dL/dê = −p̂
			for b, u := range us {
				ph := Ph[b*d : (b+1)*d]
				gph := gP[b*d : (b+1)*d]
				for _, i := range ds.Row(u) {
					ew := E.w[int(i)*d : (int(i)+1)*d]
					en := norm(ew)
					for k := range eh {
						eh[k] = ew[k] / en
						gph[k] -= scale * eh[k]
						ge[k] = -scale * ph[k]
					}
					backNorm(E.g[int(i)*d:(int(i)+1)*d], ge, eh, en)
				}
			}
			// shared negatives
			for j := range negs {
				negs[j] = rng.IntN(n)
				ew := E.w[negs[j]*d : (negs[j]+1)*d]
				enn[j] = norm(ew)
				for k := range d {
					En[j*d+k] = ew[k] / enn[j]
				}
			}
			clear(gEn)
			for b, u := range us {
				coef := scale * c.negw * float64(len(ds.Row(u))) / float64(N)
				ph := Ph[b*d : (b+1)*d]
				gph := gP[b*d : (b+1)*d]
				for j := range N {
					e := En[j*d : (j+1)*d]
					cs := 0.0
					for k, x := range e {
						cs += x * ph[k]
					}
					if cs <= c.margin {
						continue
					}
					ge := gEn[j*d : (j+1)*d]
					for k := range d {
						gph[k] += coef * e[k]
						ge[k] += coef * ph[k]
					}
				}
			}
			for j, it := range negs {
				backNorm(E.g[it*d:(it+1)*d], gEn[j*d:(j+1)*d], En[j*d:(j+1)*d], enn[j])
			}
			// back through p = γ·U_u + (1−γ)/|row|·Σ H_h
			for b, u := range us {
				clear(gp)
				backNorm(gp, gP[b*d:(b+1)*d], Ph[b*d:(b+1)*d], pn[b])
				ug := U.g[u*d : (u+1)*d]
				for k := range gp {
					ug[k] += c.gamma * gp[k]
				}
				row := ds.Row(u)
				inv := (1 - c.gamma) / float64(max(len(row), 1))
				for _, h := range row {
					hg := H.g[int(h)*d : (int(h)+1)*d]
					for k := range gp {
						hg[k] += inv * gp[k]
					}
				}
			}
			step++
			lrT := c.lr * math.Sqrt(1-math.Pow(b2, float64(step))) / (1 - math.Pow(b1, float64(step)))
			for _, t := range tables {
				for x, g := range t.g {
					if g == 0 {
						continue
					}
					g += c.reg * t.w[x]
					t.m[x] = b1*t.m[x] + (1-b1)*g
					t.v[x] = b2*t.v[x] + (1-b2)*g*g
					t.w[x] -= lrT * t.m[x] / (math.Sqrt(t.v[x]) + eps)
				}
			}
		}
		_ = ep
	}
	en := make([]float32, n*d)
	for j := range n {
		ew := E.w[j*d : (j+1)*d]
		nn := norm(ew)
		for k := range ew {
			en[j*d+k] = float32(ew[k] / nn)
		}
	}
	return func(cs *eval.Case, out []float32) {
		p := make([]float32, d)
		hist := cs.History
		if len(hist) > 0 {
			inv := (1 - c.gamma) / float64(len(hist))
			for _, h := range hist {
				hw := H.w[int(h)*d : (int(h)+1)*d]
				for k := range p {
					p[k] += float32(inv * hw[k])
				}
			}
		}
		if u := int(cs.User); u >= 0 && u < nu {
			uw := U.w[u*d : (u+1)*d]
			for k := range p {
				p[k] += float32(c.gamma * uw[k])
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
