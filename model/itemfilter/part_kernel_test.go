package itemfilter_test

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/aisle-dev/aisle/eval"
	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/internal/gram"
	"github.com/aisle-dev/aisle/model/internal/linalg"
)

// Candidate parts of session 10 (issue 19 item 6) for BenchmarkPart; each
// returns a scorer of one validation case.

// dlaePart is Steck's (E)DLAE (NeurIPS 2020) on the plain Gram G = XᵀX:
// P = (G + Λ)⁻¹ with Λ = λ + q·diag(G), q = p/(1−p); DLAE's weights are
// I − P·Λ (a diagonal kept, here irrelevant: the history is excluded),
// EDLAE's −P_ij/P_jj (zero diagonal). Off the diagonal they differ only in
// the column scale: Λ_j for DLAE, 1/P_jj for EDLAE.
func dlaePart(ctx context.Context, ds *model.Dataset, p, lam float64, emphasised bool) ([]float32, error) {
	n := ds.NumItems()
	g, err := gram.Of(ctx, ds, false, nil)
	if err != nil {
		return nil, err
	}
	q := p / (1 - p)
	reg := make([]float64, n)
	for i := range n {
		reg[i] = lam + q*g[i*n+i]
		g[i*n+i] += reg[i]
	}
	if emphasised {
		return linalg.EASEWeights(ctx, g, n)
	}
	if err := linalg.InvertSPD(ctx, g, n); err != nil {
		return nil, err
	}
	b := make([]float32, n*n)
	for i := range n {
		for j := range n {
			if i != j {
				b[i*n+j] = float32(-g[i*n+j] * reg[j])
			}
		}
	}
	return b, nil
}

// ntk is the neural tangent kernel of a one-hidden-layer ReLU network
// (no biases) between inputs with Gram entries sxy, sxx, syy.
func ntk(sxy, sxx, syy float64) float64 {
	if sxx <= 0 || syy <= 0 {
		return 0
	}
	r := math.Sqrt(sxx * syy)
	c := max(-1, min(1, sxy/r))
	th := math.Acos(c)
	return sxy*(math.Pi-th)/(2*math.Pi) + r*(math.Sin(th)+(math.Pi-th)*c)/(2*math.Pi)
}

// infAEPart is the infinite-width autoencoder (∞-AE, Sachdeva et al.,
// NeurIPS 2022): kernel ridge regression over the training users with the
// NTK of a one-hidden-layer ReLU network, X̂ = K(x, X)·(K + λ·I)⁻¹·X, λ
// scaled by the mean diagonal of K. bias adds bias·(mean xᵀx) to every
// first-layer inner product. The score is the reconstruction minus the
// input (for a training user that is −λ·row u of (K+λI)⁻¹X; the input
// only touches the excluded history).
func infAEPart(ctx context.Context, ds *model.Dataset, lam, bias float64) (func(cs *eval.Case, out []float32), error) {
	nu, n := ds.NumUsers(), ds.NumItems()
	colPtr, colUser, _, err := ds.Columns()
	if err != nil {
		return nil, err
	}
	// The user Gram XXᵀ as the Gram of the transposed data set.
	tr := &model.Dataset{ItemIDs: make([]string, nu), UserPtr: colPtr, Items: colUser}
	tr.UserIDs = make([]string, n)
	s, err := gram.Of(ctx, tr, false, nil)
	if err != nil {
		return nil, err
	}
	mean := 0.0
	for u := range nu {
		mean += s[u*nu+u]
	}
	mean /= float64(nu)
	b := bias * mean
	diag := make([]float64, nu)
	for u := range nu {
		diag[u] = s[u*nu+u] + b
	}
	md := 0.0
	for u := range nu {
		row := s[u*nu : (u+1)*nu]
		for v := range row {
			row[v] = ntk(row[v]+b, diag[u], diag[v])
		}
		md += row[u]
	}
	md /= float64(nu)
	l := lam * md
	for u := range nu {
		s[u*nu+u] += l
	}
	if err := linalg.InvertSPD(ctx, s, nu); err != nil {
		return nil, fmt.Errorf("∞-AE: %w", err)
	}
	// α = (K+λI)⁻¹·X, users × items.
	alpha := make([]float32, nu*n)
	var wg sync.WaitGroup
	w := runtime.GOMAXPROCS(0)
	for k := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := k; u < nu; u += w {
				p := s[u*nu : (u+1)*nu]
				a := alpha[u*n : (u+1)*n]
				for j := range n {
					t := 0.0
					for c := colPtr[j]; c < colPtr[j+1]; c++ {
						t += p[colUser[c]]
					}
					a[j] = float32(t)
				}
			}
		}()
	}
	wg.Wait()
	s = nil
	rows := make([][]int32, nu)
	for u := range nu {
		rows[u] = slices.Sorted(slices.Values(ds.Row(u)))
	}
	return func(cs *eval.Case, out []float32) {
		h := slices.Sorted(slices.Values(cs.History))
		h = slices.Compact(h)
		if u := int(cs.User); u >= 0 && u < nu && slices.Equal(h, rows[u]) {
			a := alpha[u*n : (u+1)*n]
			for j, v := range a {
				out[j] = float32(-l) * v
			}
			return
		}
		// General path: k(h, x_v) for every training user v.
		dot := make([]float64, nu)
		for _, it := range h {
			for c := colPtr[it]; c < colPtr[it+1]; c++ {
				dot[colUser[c]]++
			}
		}
		hh := float64(len(h)) + b
		clear(out)
		for v := range nu {
			kv := float32(ntk(dot[v]+b, hh, diag[v]))
			if kv == 0 {
				continue
			}
			a := alpha[v*n : (v+1)*n]
			for j, x := range a {
				out[j] += kv * x
			}
		}
		for _, it := range h {
			out[it]--
		}
	}, nil
}
