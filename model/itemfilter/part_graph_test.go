package itemfilter_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/aisle-dev/aisle/eval"
	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/itemfilter"
)

// Candidate parts of session 11 (issue 19 item 6) for BenchmarkPart.

// userKNNPart scores a case by its k nearest training users: similarity
// sim_v = overlap(h, r_v)^1 · |r_v|^-beta, the overlap counting each shared
// item i as deg_i^-gamma (gamma 0: plain counts; beta ½: cosine up to the
// case's own constant), neighbours other than the case's own user, score_j
// = Σ_v sim_v^pw · r_vj · deg_j^-delta.
func userKNNPart(ds *model.Dataset, k int, beta, gamma, pw, delta float64) func(cs *eval.Case, out []float32) {
	nu, n := ds.NumUsers(), ds.NumItems()
	deg := make([]int, n)
	for _, it := range ds.Items {
		deg[it]++
	}
	// item → users CSR
	ptr := make([]int, n+1)
	for i, d := range deg {
		ptr[i+1] = ptr[i] + d
	}
	users := make([]int32, len(ds.Items))
	fill := slices.Clone(ptr[:n])
	for u := range nu {
		for _, it := range ds.Row(u) {
			users[fill[it]] = int32(u)
			fill[it]++
		}
	}
	iw := make([]float32, n)
	ow := make([]float32, n)
	for i, d := range deg {
		if d > 0 {
			iw[i] = float32(math.Pow(float64(d), -gamma))
			ow[i] = float32(math.Pow(float64(d), -delta))
		}
	}
	un := make([]float32, nu)
	for u := range nu {
		if l := len(ds.Row(u)); l > 0 {
			un[u] = float32(math.Pow(float64(l), -beta))
		}
	}
	type nb struct {
		u int32
		s float32
	}
	return func(cs *eval.Case, out []float32) {
		ov := make([]float32, nu)
		for _, h := range cs.History {
			if h < 0 || int(h) >= n {
				continue
			}
			for _, v := range users[ptr[h]:ptr[h+1]] {
				ov[v] += iw[h]
			}
		}
		top := make([]nb, 0, k+1)
		for v, o := range ov {
			if o == 0 || int32(v) == cs.User {
				continue
			}
			s := o * un[v]
			if len(top) == k && s <= top[k-1].s {
				continue
			}
			if len(top) < k {
				top = append(top, nb{int32(v), s})
			} else {
				top[k-1] = nb{int32(v), s}
			}
			for a := len(top) - 1; a > 0 && top[a].s > top[a-1].s; a-- {
				top[a], top[a-1] = top[a-1], top[a]
			}
		}
		clear(out)
		for _, t := range top {
			w := float32(math.Pow(float64(t.s), pw))
			for _, it := range ds.Row(int(t.u)) {
				out[it] += w
			}
		}
		for j := range n {
			out[j] *= ow[j]
		}
	}
}

// bspmPart is BSPM's item-item operator (Choi et al., "Blurring-Sharpening
// Process Models for Collaborative Filtering", SIGIR 2023) with one Euler
// step of blurring and `steps` Euler steps of sharpening over time ts:
// M = (P̃ + idl·L)·(I − (ts/steps)·P̃)^steps, P̃ GF-CF's normalised item
// Gram and L its ideal low-pass of rank k; plus resid·I (the early
// "t-point combination" of the input, irrelevant here since the history is
// excluded, so it is left out).
func bspmPart(ctx context.Context, ds *model.Dataset, k int, idl, ts float64, steps int) ([]float32, error) {
	n := ds.NumItems()
	p, l, err := itemfilter.GraphFilterParts(ctx, ds, k)
	if err != nil {
		return nil, err
	}
	a := mat.NewDense(n, n, nil)
	pm := mat.NewDense(n, n, nil)
	for i := range n {
		for j := range n {
			a.Set(i, j, float64(p[i*n+j])+idl*float64(l[i*n+j]))
			pm.Set(i, j, float64(p[i*n+j]))
		}
	}
	h := ts / float64(max(steps, 1))
	tmp := mat.NewDense(n, n, nil)
	for range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tmp.Mul(a, pm)
		tmp.Scale(-h, tmp)
		a.Add(a, tmp)
	}
	out := make([]float32, n*n)
	for i := range n {
		for j := range n {
			out[i*n+j] = float32(a.At(i, j))
		}
	}
	return out, nil
}

// pgspPart is PGSP (Liu et al., "Personalized Graph Signal Processing for
// Collaborative Filtering", WWW 2023): the augmented graph A = [[Cu, R],
// [Rᵀ, Ci]] with Cu = R·D_I⁻¹·Rᵀ and Ci = Rᵀ·D_U⁻¹·R (its column sums are
// 2·d, so A_norm = D⁻½·A·D⁻½ with D = 2·diag(d_U, d_I)); V its k leading
// eigenvectors (block subspace iteration on (A_norm + I)/2, matrix-free
// through sparse products with R, iters iterations); the personalised
// signal r_b = [Cu0(u,:), r_u] with Cu0 = R̃·R̃ᵀ, R̃ = D_U^-½·R·D_I^-½; the
// score φ·P0 + (1−φ)·P1 with P0 = r·D_I^-½·R̃ᵀR̃·D_I^½ and P1 the item
// columns of r_b·D_b^-½·V·Vᵀ·D_b^½ (D_b the column sums of [Cu0, R]).
func pgspPart(ctx context.Context, ds *model.Dataset, k, iters int, phi float64) (func(cs *eval.Case, out []float32), error) {
	nu, n := ds.NumUsers(), ds.NumItems()
	N := nu + n
	du := make([]float64, nu)
	di := make([]float64, n)
	for u := range nu {
		for _, it := range ds.Row(u) {
			du[u]++
			di[it]++
		}
	}
	inv := func(x, p float64) float64 {
		if x == 0 {
			return 0
		}
		return math.Pow(x, p)
	}
	// R·Z (nu×c from n×c) and Rᵀ·Z (n×c from nu×c), row-major.
	rMul := func(z []float64, c int, out []float64) {
		clear(out)
		for u := range nu {
			o := out[u*c : (u+1)*c]
			for _, it := range ds.Row(u) {
				zr := z[int(it)*c : (int(it)+1)*c]
				for x, v := range zr {
					o[x] += v
				}
			}
		}
	}
	rtMul := func(z []float64, c int, out []float64) {
		clear(out)
		for u := range nu {
			zr := z[u*c : (u+1)*c]
			for _, it := range ds.Row(u) {
				o := out[int(it)*c : (int(it)+1)*c]
				for x, v := range zr {
					o[x] += v
				}
			}
		}
	}
	dh := make([]float64, N) // D^-½, D = 2·diag(d_U, d_I)
	for u := range nu {
		dh[u] = inv(2*du[u], -0.5)
	}
	for i := range n {
		dh[nu+i] = inv(2*di[i], -0.5)
	}
	m := min(N, k+max(10, k/4))
	// S·X = (A_norm·X + X)/2 for X N×m row-major.
	tu, ti := make([]float64, nu*m), make([]float64, n*m)
	su, si := make([]float64, nu*m), make([]float64, n*m)
	apply := func(x, y []float64) {
		xs := make([]float64, N*m)
		for r := range N {
			for c := range m {
				xs[r*m+c] = x[r*m+c] * dh[r]
			}
		}
		xu, xi := xs[:nu*m], xs[nu*m:]
		// Cu·xu = R·(D_I⁻¹·(Rᵀ·xu))
		rtMul(xu, m, ti)
		for i := range n {
			s := inv(di[i], -1)
			for c := range m {
				ti[i*m+c] *= s
			}
		}
		rMul(ti, m, su)
		rMul(xi, m, tu) // R·xi
		for j := range su {
			su[j] += tu[j]
		}
		// Ci·xi = Rᵀ·(D_U⁻¹·(R·xi)); tu holds R·xi
		for u := range nu {
			s := inv(du[u], -1)
			for c := range m {
				tu[u*m+c] *= s
			}
		}
		rtMul(tu, m, si)
		rtMul(xu, m, ti) // Rᵀ·xu
		for j := range si {
			si[j] += ti[j]
		}
		for r := range N {
			var src []float64
			if r < nu {
				src = su[r*m : (r+1)*m]
			} else {
				src = si[(r-nu)*m : (r-nu+1)*m]
			}
			for c := range m {
				y[r*m+c] = (src[c]*dh[r] + x[r*m+c]) / 2
			}
		}
	}
	orth := func(x []float64) []float64 {
		var qr mat.QR
		qr.Factorize(mat.NewDense(N, m, x))
		var q mat.Dense
		qr.QTo(&q)
		out := make([]float64, N*m)
		for r := range N {
			for c := range m {
				out[r*m+c] = q.At(r, c)
			}
		}
		return out
	}
	rng := rand.New(rand.NewPCG(1, 0x5eed))
	q := make([]float64, N*m)
	for j := range q {
		q[j] = rng.NormFloat64()
	}
	q = orth(q)
	z := make([]float64, N*m)
	for range iters {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		apply(q, z)
		q = orth(z)
	}
	apply(q, z)
	var t mat.Dense
	t.Mul(mat.NewDense(N, m, q).T(), mat.NewDense(N, m, z))
	sym := mat.NewSymDense(m, nil)
	for i := range m {
		for j := i; j < m; j++ {
			sym.SetSym(i, j, (t.At(i, j)+t.At(j, i))/2)
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(sym, true) {
		return nil, fmt.Errorf("pgsp: projected eigendecomposition failed")
	}
	var w, v mat.Dense
	eig.VectorsTo(&w)
	v.Mul(mat.NewDense(N, m, q), w.Slice(0, m, m-k, m)) // N×k, the k largest
	// D_b: column sums of [Cu0, R] over the training users.
	ci := make([]float64, n)
	for u := range nu {
		for _, it := range ds.Row(u) {
			ci[it] += inv(du[u], -0.5)
		}
	}
	for i := range n {
		ci[i] *= inv(di[i], -1)
	}
	db := make([]float64, N)
	for u := range nu {
		s := 0.0
		for _, it := range ds.Row(u) {
			s += ci[it]
		}
		db[u] = inv(du[u], -0.5) * s
	}
	copy(db[nu:], di)
	vl := make([]float64, N*k) // D_b^-½·V
	vr := make([]float32, n*k) // item rows of D_b^½·V
	for r := range N {
		for c := range k {
			x := v.At(r, c)
			vl[r*k+c] = x * inv(db[r], -0.5)
			if r >= nu {
				vr[(r-nu)*k+c] = float32(x * math.Sqrt(db[r]))
			}
		}
	}
	// P0 = r·D_I^-½·P̃·D_I^½: GraphFilterParts' p is P̃.
	var p0 []float32
	if phi > 0 {
		p, _, err := itemfilter.GraphFilterParts(ctx, ds, 1)
		if err != nil {
			return nil, err
		}
		p0 = p
		for i := range n {
			for j := range n {
				p0[i*n+j] *= float32(inv(di[i], -0.5) * math.Sqrt(di[j]))
			}
		}
	}
	// users of each item, for Cu0's row
	colPtr := make([]int, n+1)
	for i := range n {
		colPtr[i+1] = colPtr[i] + int(di[i])
	}
	colUser := make([]int32, colPtr[n])
	fill := slices.Clone(colPtr[:n])
	for u := range nu {
		for _, it := range ds.Row(u) {
			colUser[fill[it]] = int32(u)
			fill[it]++
		}
	}
	return func(cs *eval.Case, out []float32) {
		h := cs.History
		if len(h) == 0 {
			clear(out)
			return
		}
		a := make([]float64, k)
		// user part: Cu0(u,v) = |h|^-½ Σ_{i∈h} d_i⁻¹ R(v,i) d_v^-½
		cu := make([]float64, nu)
		for _, it := range h {
			s := inv(di[it], -1)
			for _, v := range colUser[colPtr[it]:colPtr[it+1]] {
				cu[v] += s
			}
		}
		hn := math.Pow(float64(len(h)), -0.5)
		for v, x := range cu {
			if x == 0 {
				continue
			}
			x *= hn * inv(du[v], -0.5)
			row := vl[v*k : (v+1)*k]
			for c := range k {
				a[c] += x * row[c]
			}
		}
		for _, it := range h {
			row := vl[(nu+int(it))*k : (nu+int(it)+1)*k]
			for c := range k {
				a[c] += row[c]
			}
		}
		af := make([]float32, k)
		for c := range k {
			af[c] = float32(a[c])
		}
		for j := range n {
			row := vr[j*k : (j+1)*k]
			s := float32(0)
			for c, x := range row {
				s += x * af[c]
			}
			out[j] = float32(1-phi) * s
		}
		if p0 != nil {
			for _, it := range h {
				row := p0[int(it)*n : (int(it)+1)*n]
				for j, x := range row {
					out[j] += float32(phi) * x
				}
			}
		}
	}, nil
}
