package sasrec

import (
	"math"
	"math/rand/v2"
)

// dims are the shapes of the network.
type dims struct {
	items, d, heads, ffn, maxLen, layers int
	attrs                                int // attribute ids with a learned vector (0: no side information)
}

// block holds one transformer block's parameters (or their gradients).
type block struct {
	wq, bq, wk, bk, wv, bv, wo, bo []float32 // attention: W is d×d (out×in)
	ln1g, ln1b                     []float32
	w1, b1, w2, b2                 []float32 // feed-forward: W1 is ffn×d, W2 is d×ffn
	ln2g, ln2b                     []float32
}

// params are views into one flat slice holding every parameter, so that
// Adam, gradient reduction and Save/Load each work on a single slice.
type params struct {
	flat   []float32
	emb    []float32 // items×d, shared by the input and the output layer
	pos    []float32 // maxLen×d learned positions
	ln0g   []float32
	ln0b   []float32
	blocks []block
	attr   []float32 // attrs×d attribute vectors (side information)
}

// size returns the number of float32 in the flat parameter slice.
func (dm dims) size() int {
	d, f := dm.d, dm.ffn
	per := 4*(d*d+d) + 2*d + f*d + f + d*f + d + 2*d
	return dm.items*d + dm.maxLen*d + 2*d + dm.layers*per + dm.attrs*d
}

// layout cuts flat (len dm.size()) into named views.
func (dm dims) layout(flat []float32) params {
	off := 0
	take := func(n int) []float32 {
		s := flat[off : off+n : off+n]
		off += n
		return s
	}
	d, f := dm.d, dm.ffn
	p := params{flat: flat}
	p.emb = take(dm.items * d)
	p.pos = take(dm.maxLen * d)
	p.ln0g, p.ln0b = take(d), take(d)
	p.blocks = make([]block, dm.layers)
	for i := range p.blocks {
		b := &p.blocks[i]
		b.wq, b.bq = take(d*d), take(d)
		b.wk, b.bk = take(d*d), take(d)
		b.wv, b.bv = take(d*d), take(d)
		b.wo, b.bo = take(d*d), take(d)
		b.ln1g, b.ln1b = take(d), take(d)
		b.w1, b.b1 = take(f*d), take(f)
		b.w2, b.b2 = take(d*f), take(d)
		b.ln2g, b.ln2b = take(d), take(d)
	}
	p.attr = take(dm.attrs * d)
	return p
}

// initParams draws weights from N(0, 0.02²) and sets layer-norm gains to 1,
// biases to 0 (the BERT initialisation used by SASRec's successors).
func (dm dims) initParams(p params, rng *rand.Rand) {
	normal := func(s []float32) {
		for i := range s {
			s[i] = float32(rng.NormFloat64() * 0.02)
		}
	}
	ones := func(s []float32) {
		for i := range s {
			s[i] = 1
		}
	}
	clear(p.flat)
	normal(p.emb)
	normal(p.pos)
	normal(p.attr)
	ones(p.ln0g)
	for i := range p.blocks {
		b := &p.blocks[i]
		normal(b.wq)
		normal(b.wk)
		normal(b.wv)
		normal(b.wo)
		normal(b.w1)
		normal(b.w2)
		ones(b.ln1g)
		ones(b.ln2g)
	}
}

// blockCache keeps what one block's backward pass needs.
type blockCache struct {
	in         []float32 // n×d input
	q, k, v    []float32 // n×d
	att        []float32 // heads×L×L softmax probabilities (row i, columns ≤ i)
	attMask    []float32 // heads×L×L dropout scale of each probability
	ctx        []float32 // n×d attention output before the projection
	oMask      []float32 // n×d dropout scale after the projection
	r1         []float32 // n×d residual sum before LN1
	ln1x, ln1s []float32
	h1         []float32 // n×d LN1 output = FFN input
	f1, g      []float32 // n×ffn pre-activation and GELU output
	f2         []float32 // n×d
	fMask      []float32 // n×d dropout scale after the FFN
	r2         []float32
	ln2x, ln2s []float32
	out        []float32 // n×d block output
}

// workspace is one goroutine's scratch memory for a sequence of up to maxLen
// items: forward caches, backward scratch and the catalogue-wide logits.
type workspace struct {
	dm         dims
	n          int
	items      []int32
	buf        []int32   // Score's history scratch
	qemb       []float32 // Score: the history's rows read from the item table
	qpos       []int32   // Score: 0..n-1, the rows of qemb
	x0         []float32
	ln0x, ln0s []float32
	m0         []float32
	h0         []float32
	blocks     []blockCache
	// backward scratch
	da, db, dc, dq, dk, dv, df []float32
	// loss scratch
	logits []float32 // maxLen×items
	dh     []float32 // maxLen×d
	tz     []float32 // maxLen target-logit gradients of sampledLoss
	hT     []float32 // d×maxLen transposed outputs
	lin    []float32 // linearBack scratch
	prod   []float32 // d×items product scratch of softmaxLoss
}

func newWorkspace(dm dims) *workspace {
	L, d, f := dm.maxLen, dm.d, dm.ffn
	nd := L * d
	mk := func(n int) []float32 { return make([]float32, n) }
	ws := &workspace{dm: dm, x0: mk(nd), ln0x: mk(nd), ln0s: mk(L), m0: mk(nd), h0: mk(nd),
		da: mk(nd), db: mk(nd), dc: mk(nd), dq: mk(nd), dk: mk(nd), dv: mk(nd), df: mk(L * f),
		dh: mk(nd), tz: mk(L), hT: mk(nd), lin: mk(2*L*max(d, f) + max(d, f)*max(d, f))}
	ws.blocks = make([]blockCache, dm.layers)
	for i := range ws.blocks {
		ws.blocks[i] = blockCache{q: mk(nd), k: mk(nd), v: mk(nd),
			att: mk(dm.heads * L * L), attMask: mk(dm.heads * L * L), ctx: mk(nd), oMask: mk(nd),
			r1: mk(nd), ln1x: mk(nd), ln1s: mk(L), h1: mk(nd), f1: mk(L * f), g: mk(L * f), f2: mk(nd),
			fMask: mk(nd), r2: mk(nd), ln2x: mk(nd), ln2s: mk(L), out: mk(nd)}
	}
	return ws
}

// ensureLogits allocates the catalogue-wide logits buffer on first use, so
// that workspaces used only for serving stay small.
func (ws *workspace) ensureLogits() {
	if ws.logits == nil {
		ws.logits = make([]float32, ws.dm.maxLen*ws.dm.items)
		ws.prod = make([]float32, ws.dm.d*ws.dm.items)
	}
}

// dropMask fills m[:n] with 0 (dropped, probability p) or 1/(1-p) (kept);
// with rng nil or p 0 every scale is 1.
func dropMask(m []float32, p float32, rng *rand.Rand) {
	if rng == nil || p <= 0 {
		for i := range m {
			m[i] = 1
		}
		return
	}
	keep := 1 / (1 - p)
	for i := range m {
		if rng.Float32() < p {
			m[i] = 0
		} else {
			m[i] = keep
		}
	}
}

// forward runs the network over items (at most maxLen, oldest first) and
// returns the n×d output. Dropout is applied when rng is not nil. Item i of
// an n-item sequence sits at position maxLen-n+i, so the most recent item
// always has the last position, in training and in serving alike.
func forward(p params, ws *workspace, items []int32, drop, attDrop float32, rng *rand.Rand) []float32 {
	dm := ws.dm
	d, L, H, f := dm.d, dm.maxLen, dm.heads, dm.ffn
	n := len(items)
	ws.n = n
	ws.items = items
	nd := n * d
	off := L - n
	for t, it := range items {
		x := ws.x0[t*d : t*d+d]
		copy(x, p.emb[int(it)*d:int(it)*d+d])
		axpy(1, p.pos[(off+t)*d:(off+t)*d+d], x)
	}
	layerNorm(ws.h0, ws.ln0x, ws.ln0s, ws.x0, p.ln0g, p.ln0b, n, d)
	dropMask(ws.m0[:nd], drop, rng)
	for i := 0; i < nd; i++ {
		ws.h0[i] *= ws.m0[i]
	}
	in := ws.h0
	dh := d / H
	scale := float32(1 / math.Sqrt(float64(dh)))
	for bi := range p.blocks {
		b := &p.blocks[bi]
		c := &ws.blocks[bi]
		c.in = in
		linear(c.q, in, b.wq, b.bq, n, d, d)
		linear(c.k, in, b.wk, b.bk, n, d, d)
		linear(c.v, in, b.wv, b.bv, n, d, d)
		clear(c.ctx[:nd])
		for h := 0; h < H; h++ {
			ho := h * dh
			for i := 0; i < n; i++ {
				row := c.att[(h*L+i)*L : (h*L+i)*L+i+1]
				mrow := c.attMask[(h*L+i)*L : (h*L+i)*L+i+1]
				qi := c.q[i*d+ho : i*d+ho+dh]
				mx := float32(math.Inf(-1))
				for j := 0; j <= i; j++ {
					s := dot(qi, c.k[j*d+ho:j*d+ho+dh]) * scale
					row[j] = s
					mx = max(mx, s)
				}
				var sum float32
				for j := range row {
					e := expf(row[j] - mx)
					row[j] = e
					sum += e
				}
				inv := 1 / sum
				dropMask(mrow, attDrop, rng)
				ci := c.ctx[i*d+ho : i*d+ho+dh]
				for j := range row {
					row[j] *= inv
					axpy(row[j]*mrow[j], c.v[j*d+ho:j*d+ho+dh], ci)
				}
			}
		}
		linear(c.r1, c.ctx, b.wo, b.bo, n, d, d)
		dropMask(c.oMask[:nd], drop, rng)
		for i := 0; i < nd; i++ {
			c.r1[i] = in[i] + c.r1[i]*c.oMask[i]
		}
		layerNorm(c.h1, c.ln1x, c.ln1s, c.r1, b.ln1g, b.ln1b, n, d)
		linear(c.f1, c.h1, b.w1, b.b1, n, d, f)
		for i := 0; i < n*f; i++ {
			c.g[i] = gelu(c.f1[i])
		}
		linear(c.f2, c.g, b.w2, b.b2, n, f, d)
		dropMask(c.fMask[:nd], drop, rng)
		for i := 0; i < nd; i++ {
			c.r2[i] = c.h1[i] + c.f2[i]*c.fMask[i]
		}
		layerNorm(c.out, c.ln2x, c.ln2s, c.r2, b.ln2g, b.ln2b, n, d)
		in = c.out
	}
	return in[:nd]
}

// backward propagates dOut (n×d, the gradient of the output of the last
// forward call; it is overwritten) into the gradients g.
func backward(p, g params, ws *workspace, dOut []float32) {
	dm := ws.dm
	d, L, H, f := dm.d, dm.maxLen, dm.heads, dm.ffn
	n := ws.n
	nd := n * d
	dh := d / H
	scale := float32(1 / math.Sqrt(float64(dh)))
	dcur := dOut // gradient w.r.t. the current block's output
	for bi := len(p.blocks) - 1; bi >= 0; bi-- {
		b := &p.blocks[bi]
		gb := &g.blocks[bi]
		c := &ws.blocks[bi]
		// LN2: dr2 in ws.da
		dr2 := ws.da[:nd]
		layerNormBack(dr2, gb.ln2g, gb.ln2b, dcur, c.ln2x, c.ln2s, b.ln2g, n, d)
		// r2 = h1 + f2·mask
		dh1 := ws.db[:nd]
		copy(dh1, dr2)
		df2 := ws.dc[:nd]
		for i := 0; i < nd; i++ {
			df2[i] = dr2[i] * c.fMask[i]
		}
		dg := ws.df[:n*f]
		clear(dg)
		linearBack(dg, gb.w2, gb.b2, df2, c.g, b.w2, n, f, d, ws.lin)
		for i := range dg {
			dg[i] *= geluGrad(c.f1[i])
		}
		linearBack(dh1, gb.w1, gb.b1, dg, c.h1, b.w1, n, d, f, ws.lin)
		// LN1: dr1 in ws.da
		dr1 := ws.da[:nd]
		layerNormBack(dr1, gb.ln1g, gb.ln1b, dh1, c.ln1x, c.ln1s, b.ln1g, n, d)
		// r1 = in + o·mask; din accumulates in ws.db
		din := ws.db[:nd]
		copy(din, dr1)
		do := ws.dc[:nd]
		for i := 0; i < nd; i++ {
			do[i] = dr1[i] * c.oMask[i]
		}
		dctx := ws.da[:nd] // dr1 is no longer needed
		clear(dctx)
		linearBack(dctx, gb.wo, gb.bo, do, c.ctx, b.wo, n, d, d, ws.lin)
		dq, dk, dv := ws.dq[:nd], ws.dk[:nd], ws.dv[:nd]
		clear(dq)
		clear(dk)
		clear(dv)
		for h := 0; h < H; h++ {
			ho := h * dh
			for i := 0; i < n; i++ {
				row := c.att[(h*L+i)*L : (h*L+i)*L+i+1]
				mrow := c.attMask[(h*L+i)*L : (h*L+i)*L+i+1]
				dci := dctx[i*d+ho : i*d+ho+dh]
				// dA (pre-dropout) into a scratch row of ws.dc
				dA := ws.dc[:i+1]
				var sum float32
				for j := 0; j <= i; j++ {
					vj := c.v[j*d+ho : j*d+ho+dh]
					axpy(row[j]*mrow[j], dci, dv[j*d+ho:j*d+ho+dh])
					a := dot(dci, vj) * mrow[j]
					dA[j] = a
					sum += a * row[j]
				}
				qi := c.q[i*d+ho : i*d+ho+dh]
				dqi := dq[i*d+ho : i*d+ho+dh]
				for j := 0; j <= i; j++ {
					ds := row[j] * (dA[j] - sum) * scale
					if ds == 0 {
						continue
					}
					axpy(ds, c.k[j*d+ho:j*d+ho+dh], dqi)
					axpy(ds, qi, dk[j*d+ho:j*d+ho+dh])
				}
			}
		}
		linearBack(din, gb.wq, gb.bq, dq, c.in, b.wq, n, d, d, ws.lin)
		linearBack(din, gb.wk, gb.bk, dk, c.in, b.wk, n, d, d, ws.lin)
		linearBack(din, gb.wv, gb.bv, dv, c.in, b.wv, n, d, d, ws.lin)
		// din becomes the next (earlier) block's output gradient
		copy(dcur[:nd], din)
	}
	// embedding dropout and LN0
	for i := 0; i < nd; i++ {
		dcur[i] *= ws.m0[i]
	}
	dx0 := ws.da[:nd]
	layerNormBack(dx0, g.ln0g, g.ln0b, dcur, ws.ln0x, ws.ln0s, p.ln0g, n, d)
	off := L - n
	for t, it := range ws.items {
		x := dx0[t*d : t*d+d]
		axpy(1, x, g.emb[int(it)*d:int(it)*d+d])
		axpy(1, x, g.pos[(off+t)*d:(off+t)*d+d])
	}
}
