package sasrec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// checkGrad compares an analytic gradient with central finite differences
// of f at the entries idx of x.
func checkGrad(t *testing.T, name string, x []float32, analytic []float32, idx []int, f func() float64) {
	t.Helper()
	const eps = 1e-2
	for _, i := range idx {
		old := x[i]
		x[i] = old + eps
		fp := f()
		x[i] = old - eps
		fm := f()
		x[i] = old
		num := (fp - fm) / (2 * eps)
		a := float64(analytic[i])
		if diff := math.Abs(a - num); diff > 2e-3+3e-2*math.Max(math.Abs(a), math.Abs(num)) {
			t.Errorf("%s[%d]: analytic %.6g, numeric %.6g", name, i, a, num)
		}
	}
}

// pick returns up to k distinct indices of a slice of length n.
func pick(rng *rand.Rand, n, k int) []int {
	if n <= k {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	return rng.Perm(n)[:k]
}

func randVec(rng *rand.Rand, n int, std float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64() * std)
	}
	return s
}

// weighted is Σ c_i·y_i, a loss whose gradient w.r.t. y is c.
func weighted(c, y []float32) float64 {
	var s float64
	for i := range c {
		s += float64(c[i]) * float64(y[i])
	}
	return s
}

func TestGradLayerNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, d = 3, 6
	x, gamma, beta := randVec(rng, n*d, 1), randVec(rng, d, 1), randVec(rng, d, 1)
	c := randVec(rng, n*d, 1)
	y, xh, rs := make([]float32, n*d), make([]float32, n*d), make([]float32, n)
	f := func() float64 {
		layerNorm(y, xh, rs, x, gamma, beta, n, d)
		return weighted(c, y)
	}
	f()
	dx, dg, db := make([]float32, n*d), make([]float32, d), make([]float32, d)
	layerNormBack(dx, dg, db, c, xh, rs, gamma, n, d)
	checkGrad(t, "x", x, dx, pick(rng, n*d, n*d), f)
	checkGrad(t, "gamma", gamma, dg, pick(rng, d, d), f)
	checkGrad(t, "beta", beta, db, pick(rng, d, d), f)
}

func TestGradLinearGELU(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, in, out = 4, 5, 7
	x, w, b := randVec(rng, n*in, 1), randVec(rng, out*in, 0.5), randVec(rng, out, 0.5)
	c := randVec(rng, n*out, 1)
	pre, y := make([]float32, n*out), make([]float32, n*out)
	f := func() float64 {
		linear(pre, x, w, b, n, in, out)
		for i := range pre {
			y[i] = gelu(pre[i])
		}
		return weighted(c, y)
	}
	f()
	dpre := make([]float32, n*out)
	for i := range dpre {
		dpre[i] = c[i] * geluGrad(pre[i])
	}
	dx, dw, db := make([]float32, n*in), make([]float32, out*in), make([]float32, out)
	linearBack(dx, dw, db, dpre, x, w, n, in, out, make([]float32, n*in+out*n+out*in))
	checkGrad(t, "x", x, dx, pick(rng, n*in, n*in), f)
	checkGrad(t, "w", w, dw, pick(rng, out*in, out*in), f)
	checkGrad(t, "b", b, db, pick(rng, out, out), f)
}

func TestGradSoftmaxLoss(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	dm := dims{items: 9, d: 4, heads: 1, ffn: 4, maxLen: 4, layers: 1}
	ws := newWorkspace(dm)
	emb := randVec(rng, dm.items*dm.d, 1)
	h := randVec(rng, 3*dm.d, 1)
	targets := []int32{2, -1, 8}
	embT := make([]float32, len(emb))
	dh, dEmbT := make([]float32, len(h)), make([]float32, len(emb))
	f := func() float64 {
		transpose(embT, emb, dm.items, dm.d)
		return softmaxLoss(emb, embT, ws, h, targets, 0.5, make([]float32, len(h)), make([]float32, len(emb)))
	}
	transpose(embT, emb, dm.items, dm.d)
	softmaxLoss(emb, embT, ws, h, targets, 0.5, dh, dEmbT)
	dEmb := make([]float32, len(emb))
	addTransposed(dEmb, dEmbT, dm.items, dm.d)
	checkGrad(t, "h", h, dh, pick(rng, len(h), len(h)), f)
	checkGrad(t, "emb", emb, dEmb, pick(rng, len(emb), len(emb)), f)
	for i := dm.d; i < 2*dm.d; i++ {
		if dh[i] != 0 {
			t.Fatalf("row without target has gradient %g", dh[i])
		}
	}
}

// TestGradNetwork checks the gradient of the whole model (embedding,
// positions, every attention, layer-norm and feed-forward parameter, through
// the softmax loss) against finite differences, with dropout on and fixed.
func TestGradNetwork(t *testing.T) {
	cases := []struct {
		layers, heads, n int
		drop             float32
	}{
		{1, 1, 1, 0},
		{1, 2, 4, 0},
		{2, 2, 5, 0.3},
		{2, 1, 3, 0.5},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("layers%d_heads%d_n%d_drop%g", tc.layers, tc.heads, tc.n, tc.drop), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(tc.n)))
			dm := dims{items: 11, d: 8, heads: tc.heads, ffn: 12, maxLen: 6, layers: tc.layers}
			w := randVec(rng, dm.size(), 0.3)
			p := dm.layout(w)
			for _, s := range [][]float32{p.ln0g} {
				for i := range s {
					s[i] += 1
				}
			}
			for i := range p.blocks {
				for _, s := range [][]float32{p.blocks[i].ln1g, p.blocks[i].ln2g} {
					for j := range s {
						s[j] += 1
					}
				}
			}
			seq := make([]int32, tc.n+1)
			for i := range seq {
				seq[i] = int32(rng.IntN(dm.items))
			}
			seq[1] = seq[0] // a repeated item sums two gradients into one row
			ws := newWorkspace(dm)
			embT := make([]float32, len(p.emb))
			run := func(g params, dEmbT []float32) float64 {
				transpose(embT, p.emb, dm.items, dm.d)
				r := rand.New(rand.NewPCG(99, 1))
				h := forward(p, ws, seq[:tc.n], tc.drop, tc.drop, r)
				dh := make([]float32, len(h))
				loss := softmaxLoss(p.emb, embT, ws, h, seq[1:], 1/float32(tc.n), dh, dEmbT)
				if g.flat != nil {
					backward(p, g, ws, dh)
				}
				return loss
			}
			gflat := make([]float32, len(w))
			g := dm.layout(gflat)
			dEmbT := make([]float32, len(p.emb))
			run(g, dEmbT)
			addTransposed(g.emb, dEmbT, dm.items, dm.d)
			f := func() float64 { return run(params{}, make([]float32, len(p.emb))) }
			groups := []struct {
				name string
				x, g []float32
			}{
				{"emb", p.emb, g.emb}, {"pos", p.pos, g.pos}, {"ln0g", p.ln0g, g.ln0g}, {"ln0b", p.ln0b, g.ln0b},
			}
			for i := range p.blocks {
				b, gb := &p.blocks[i], &g.blocks[i]
				pre := fmt.Sprintf("block%d.", i)
				groups = append(groups, []struct {
					name string
					x, g []float32
				}{
					{pre + "wq", b.wq, gb.wq}, {pre + "bq", b.bq, gb.bq}, {pre + "wk", b.wk, gb.wk}, {pre + "bk", b.bk, gb.bk},
					{pre + "wv", b.wv, gb.wv}, {pre + "bv", b.bv, gb.bv}, {pre + "wo", b.wo, gb.wo}, {pre + "bo", b.bo, gb.bo},
					{pre + "ln1g", b.ln1g, gb.ln1g}, {pre + "ln1b", b.ln1b, gb.ln1b},
					{pre + "w1", b.w1, gb.w1}, {pre + "b1", b.b1, gb.b1}, {pre + "w2", b.w2, gb.w2}, {pre + "b2", b.b2, gb.b2},
					{pre + "ln2g", b.ln2g, gb.ln2g}, {pre + "ln2b", b.ln2b, gb.ln2b},
				}...)
			}
			for _, gr := range groups {
				checkGrad(t, gr.name, gr.x, gr.g, pick(rng, len(gr.x), 12), f)
			}
			// the table rows of the items in the sequence must be among those checked
			checkGrad(t, "emb(seq)", p.emb, g.emb, []int{int(seq[0]) * dm.d, int(seq[tc.n-1])*dm.d + 3}, f)
		})
	}
}

func TestExpf(t *testing.T) {
	for x := float32(-87); x <= 10; x += 0.137 {
		want := math.Exp(float64(x))
		got := float64(expf(x))
		if math.Abs(got-want) > 3e-7*want {
			t.Fatalf("expf(%g) = %g, want %g", x, got, want)
		}
	}
	if expf(-100) != 0 {
		t.Fatal("expf(-100) should underflow to 0")
	}
}

func TestGradSampledLoss(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	dm := dims{items: 9, d: 4, heads: 1, ffn: 4, maxLen: 4, layers: 1}
	ws := newWorkspace(dm)
	emb := randVec(rng, dm.items*dm.d, 1)
	h := randVec(rng, 3*dm.d, 1)
	targets := []int32{2, -1, 5}
	negs := []int32{1, 5, 7, 1, 0} // 5 is the third row's target: left out there
	negE, negT := make([]float32, len(negs)*dm.d), make([]float32, len(negs)*dm.d)
	run := func(dh, dEmb, dNegT []float32) float64 {
		for k, it := range negs {
			copy(negE[k*dm.d:k*dm.d+dm.d], emb[int(it)*dm.d:])
		}
		transpose(negT, negE, len(negs), dm.d)
		return sampledLoss(emb, negs, negE, negT, ws, h, targets, 0.5, dh, dEmb, dNegT)
	}
	dh, dEmb, dNegT := make([]float32, len(h)), make([]float32, len(emb)), make([]float32, len(negE))
	run(dh, dEmb, dNegT)
	for k, it := range negs {
		for c := 0; c < dm.d; c++ {
			dEmb[int(it)*dm.d+c] += dNegT[c*len(negs)+k]
		}
	}
	f := func() float64 {
		return run(make([]float32, len(h)), make([]float32, len(emb)), make([]float32, len(negE)))
	}
	checkGrad(t, "h", h, dh, pick(rng, len(h), len(h)), f)
	checkGrad(t, "emb", emb, dEmb, pick(rng, len(emb), len(emb)), f)
}

func TestGradAttributeComposition(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 11))
	const items, numAttrs, d = 5, 4, 3
	a, err := newItemAttrs([][]int32{{0, 2}, {}, {1}, {3, 0, 1}, {2}}, items, numAttrs)
	if err != nil {
		t.Fatal(err)
	}
	emb, attr := randVec(rng, items*d, 1), randVec(rng, numAttrs*d, 1)
	c := randVec(rng, items*d, 1)
	f := make([]float32, items*d)
	loss := func() float64 {
		a.compose(f, emb, attr, d)
		return weighted(c, f)
	}
	loss()
	dAttr := make([]float32, numAttrs*d)
	a.composeBack(dAttr, c, d) // dF = c, and dE = dF
	checkGrad(t, "attr", attr, dAttr, pick(rng, len(attr), len(attr)), loss)
	checkGrad(t, "emb", emb, c, pick(rng, len(emb), len(emb)), loss)
	if _, err := newItemAttrs([][]int32{{0}, {4}}, 2, 4); err == nil {
		t.Fatal("attribute id 4 of 4 accepted")
	}
	if _, err := newItemAttrs([][]int32{{0}}, 2, 4); err == nil {
		t.Fatal("attribute lists shorter than the catalogue accepted")
	}
}

func TestGradInfoNCE(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 13))
	const b, d = 4, 5
	z1, z2 := randVec(rng, b*d, 1), randVec(rng, b*d, 1)
	s := make([]float32, 2*b*b)
	f := func() float64 {
		return infoNCE(z1, z2, b, d, 0.7, 0.3, make([]float32, b*d), make([]float32, b*d), s)
	}
	dz1, dz2 := make([]float32, b*d), make([]float32, b*d)
	infoNCE(z1, z2, b, d, 0.7, 0.3, dz1, dz2, s)
	checkGrad(t, "z1", z1, dz1, pick(rng, b*d, b*d), f)
	checkGrad(t, "z2", z2, dz2, pick(rng, b*d, b*d), f)
	// matching views of orthogonal sequences have almost no loss, swapped
	// views a large one
	clear(z1)
	clear(z2)
	for i := 0; i < b; i++ {
		z1[i*d+i], z2[i*d+i] = 3, 3
	}
	if l := f(); l > 1e-3 {
		t.Fatalf("loss %g for matching views", l)
	}
	clear(z2)
	for i := 0; i < b; i++ {
		z2[i*d+(i+1)%b] = 3
	}
	if l := f(); l < 1 {
		t.Fatalf("loss %g for mismatched views", l)
	}
}
