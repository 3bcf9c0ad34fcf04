package uselite

import (
	"fmt"
	"math"

	"github.com/viterin/vek/vek32"
)

// Model dimensions, fixed by the graph.
const (
	// Dim is the size of the sentence embedding.
	Dim = 512
	// MaxTokens is how many tokens of a text the encoder reads; the rest is
	// ignored (the graph's ClipToMaxLength).
	MaxTokens = 128

	embDim  = 256  // token embedding width (layer 0 input)
	hidden  = 512  // transformer width after layer 0's residual projection
	ffnDim  = 1536 // feed-forward inner width
	heads   = 4    // attention heads in both layers
	timeDim = 128  // number of timing-signal frequencies (sin and cos each)
)

// layer is one transformer layer of the graph ("KonaTransformer"):
// pre-norm multi-head self-attention and a ReLU feed-forward block, each
// with a residual connection.
type layer struct {
	in            int       // input width (256 for layer 0, 512 for layer 1)
	ln1s, ln1b    []float32 // layer norm before attention, width in
	qkv, qkvB     []float32 // [3*in, in] (transposed) and [3*in]
	qScale        float32   // 1/sqrt(head width), from the graph
	out, outB     []float32 // [hidden, in] and [hidden]
	resid, residB []float32 // [hidden, in] projection of the residual (layer 0 only)
	ln2s, ln2b    []float32 // layer norm before the feed-forward block, width hidden
	ff1, ff1B     []float32 // [ffnDim, hidden]
	ff2, ff2B     []float32 // [hidden, ffnDim]
}

// Weight matrices are stored transposed ([out][in], "output-major") so that
// every output value is one contiguous dot product (see linear).

// model holds the weights of the encoder; it is read-only after loading.
type model struct {
	emb     []float32 // [vocab, embDim]
	vocab   int
	invTime []float32 // [timeDim] timing-signal frequencies
	layers  [2]layer
	lnEps   float32
	tanhW   []float32 // [Dim, hidden] (transposed)
	tanhB   []float32
	l2Eps   float32
}

const (
	prefixApply = "module_apply_default/Encoder_en/KonaTransformer/Encode/"
	prefixVar   = "module/Encoder_en/KonaTransformer/Encode/"
)

// newModel picks the weights the graph uses out of the decoded manifest,
// checks their shapes and copies them (matrices transposed) into the model,
// so the decoded shards can be freed.
func newModel(w map[string]tensor) (*model, error) {
	var err error
	get := func(name string, shape ...int) []float32 {
		if err != nil {
			return nil
		}
		t, ok := w[name]
		if !ok {
			err = fmt.Errorf("weight %q missing", name)
			return nil
		}
		if fmt.Sprint(t.shape) != fmt.Sprint(shape) {
			err = fmt.Errorf("weight %q has shape %v, want %v", name, t.shape, shape)
			return nil
		}
		if n := len(shape); n >= 2 && shape[n-2] > 1 {
			return transpose(t.data, shape[n-2], shape[n-1])
		}
		return append([]float32(nil), t.data...)
	}
	scalar := func(name string) float32 {
		d := get(name)
		if len(d) != 1 {
			if err == nil {
				err = fmt.Errorf("weight %q is not a scalar", name)
			}
			return 0
		}
		return d[0]
	}
	m := &model{}
	emb, ok := w["module/Embeddings_en"]
	if !ok || len(emb.shape) != 2 || emb.shape[1] != embDim {
		return nil, fmt.Errorf("weight module/Embeddings_en missing or not [n,%d]", embDim)
	}
	m.emb, m.vocab = append([]float32(nil), emb.data...), emb.shape[0]
	m.invTime = get(prefixApply+"TransformerStack/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1", 1, timeDim)
	m.lnEps = scalar(prefixApply + "TransformerStack/Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x")
	for i, in := range []int{embDim, hidden} {
		l := &m.layers[i]
		l.in = in
		p := fmt.Sprintf("%sLayer_%d/TransformerLayer/", prefixApply, i)
		v := fmt.Sprintf("%sLayer_%d/TransformerLayer/", prefixVar, i)
		s := fmt.Sprintf("%sTransformerStack/Layer_%d/TransformerLayer/", prefixApply, i)
		l.ln1s = get(p+"layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat", in)
		l.ln1b = get(p+"layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat", in)
		l.qkv = get(v+"MultiheadAttention/qkv_transform_single/kernel/part_0", 1, 1, in, 3*in)
		l.qkvB = get(p+"MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat", 3*in)
		l.qScale = scalar(s + "MultiheadAttention/mul/y")
		l.out = get(v+"MultiheadAttention/output_transform_single/kernel/part_0", 1, 1, in, hidden)
		l.outB = get(p+"MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat", hidden)
		if in != hidden {
			l.resid = get(p+"dense/kernel/ConcatPartitions/concat", in, hidden)
			l.residB = get(p+"dense/bias/ConcatPartitions/concat", hidden)
		}
		l.ln2s = get(p+"FFN/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat", hidden)
		l.ln2b = get(p+"FFN/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat", hidden)
		l.ff1 = get(s+"FFN/conv1/Tensordot/Reshape_1", hidden, ffnDim)
		l.ff1B = get(p+"FFN/conv1/bias/ConcatPartitions/concat", ffnDim)
		l.ff2 = get(s+"FFN/conv2/Tensordot/Reshape_1", ffnDim, hidden)
		l.ff2B = get(p+"FFN/conv2/bias/ConcatPartitions/concat", hidden)
	}
	m.tanhW = get("module/Encoder_en/hidden_layers/tanh_layer_0/weights", hidden, Dim)
	m.tanhB = get("module/Encoder_en/hidden_layers/tanh_layer_0/bias", Dim)
	m.l2Eps = scalar("module_apply_default/Encoder_en/hidden_layers/l2_normalize/Maximum/y")
	if err != nil {
		return nil, err
	}
	return m, nil
}

// transpose returns the [cols, rows] transpose of the row-major [rows, cols]
// matrix a.
func transpose(a []float32, rows, cols int) []float32 {
	const tile = 32 // cache-friendly tiles
	t := make([]float32, len(a))
	for r0 := 0; r0 < rows; r0 += tile {
		for c0 := 0; c0 < cols; c0 += tile {
			for r := r0; r < min(r0+tile, rows); r++ {
				src := a[r*cols : (r+1)*cols]
				for c := c0; c < min(c0+tile, cols); c++ {
					t[c*rows+r] = src[c]
				}
			}
		}
	}
	return t
}

// workspace holds the scratch buffers of one forward pass; one per goroutine.
type workspace struct {
	x, h, qkv, att, y, ff, logits, pooled []float32
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// rowBlock is how many input rows linear keeps hot in cache while it
// streams the weight rows.
const rowBlock = 64

// linear sets dst[rows, out] = x[rows, in] · wT[out, in]ᵀ + b: every
// output value is one contiguous dot product (AVX2 when available), and
// each weight row is read once per block of rowBlock input rows.
func linear(dst, x []float32, rows, in int, wT, b []float32, out int) {
	for r0 := 0; r0 < rows; r0 += rowBlock {
		r1 := min(r0+rowBlock, rows)
		for o := 0; o < out; o++ {
			wr := wT[o*in : (o+1)*in]
			bo := b[o]
			for r := r0; r < r1; r++ {
				dst[r*out+o] = vek32.Dot(x[r*in:(r+1)*in], wr) + bo
			}
		}
	}
}

// layerNorm writes the layer normalisation of each row of x (width d) to dst,
// as the graph computes it: scale*rsqrt(var+eps)*(x-mean) + bias.
func layerNorm(dst, x []float32, rows, d int, scale, bias []float32, eps float32) {
	for r := 0; r < rows; r++ {
		xr, dr := x[r*d:(r+1)*d], dst[r*d:(r+1)*d]
		var sum float64
		for _, v := range xr {
			sum += float64(v)
		}
		mean := float32(sum / float64(d))
		var sq float64
		for _, v := range xr {
			c := v - mean
			sq += float64(c * c)
		}
		variance := float32(sq / float64(d))
		rs := float32(1 / math.Sqrt(float64(variance+eps)))
		for i, v := range xr {
			dr[i] = scale[i]*rs*(v-mean) + bias[i]
		}
	}
}

// attention computes multi-head self-attention of one sentence occupying
// rows [0, t) of qkv (row width 3*d: q, k, v) into out (row width d).
func attention(out, qkv, logits []float32, t, d int, scale float32) {
	dh := d / heads
	ld := 3 * d
	for h := 0; h < heads; h++ {
		for i := 0; i < t; i++ {
			q := qkv[i*ld+h*dh : i*ld+(h+1)*dh]
			row := logits[:t]
			mx := float32(math.Inf(-1))
			for j := 0; j < t; j++ {
				k := qkv[j*ld+d+h*dh : j*ld+d+(h+1)*dh]
				row[j] = scale * vek32.Dot(q, k)
				mx = max(mx, row[j])
			}
			var sum float32
			for j, x := range row {
				e := float32(math.Exp(float64(x - mx)))
				row[j] = e
				sum += e
			}
			o := out[i*d+h*dh : i*d+(h+1)*dh]
			clear(o)
			for j, a := range row {
				a /= sum
				v := qkv[j*ld+2*d+h*dh : j*ld+2*d+(h+1)*dh]
				for c, x := range v {
					o[c] += a * x
				}
			}
		}
	}
}

// forward embeds a batch of tokenized sentences (each already cut to
// MaxTokens) into dst (len(seqs)*Dim floats). All sentences go through the
// position-wise layers as one stacked matrix; attention and pooling are per
// sentence, so no padding is computed and sentences never see each other.
func (m *model) forward(ws *workspace, seqs [][]int32, dst []float32) {
	n := 0
	for _, s := range seqs {
		n += len(s)
	}
	ws.x = grow(ws.x, n*hidden)
	ws.h = grow(ws.h, n*hidden)
	ws.qkv = grow(ws.qkv, n*3*hidden)
	ws.att = grow(ws.att, n*hidden)
	ws.y = grow(ws.y, n*hidden)
	ws.ff = grow(ws.ff, n*ffnDim)
	ws.pooled = grow(ws.pooled, len(seqs)*hidden)

	// Input: the graph scatters the embedding into the dense batch and adds
	// it again together with the timing signal: x = e + (e + timing).
	x := ws.x[:n*embDim]
	r := 0
	for _, s := range seqs {
		for pos, id := range s {
			if int(id) < 0 || int(id) >= m.vocab {
				id = UnknownID
			}
			e := m.emb[int(id)*embDim : (int(id)+1)*embDim]
			xr := x[r*embDim : (r+1)*embDim]
			for i := 0; i < timeDim; i++ {
				a := float32(pos) * m.invTime[i]
				xr[i] = e[i] + (e[i] + float32(math.Sin(float64(a))))
				xr[timeDim+i] = e[timeDim+i] + (e[timeDim+i] + float32(math.Cos(float64(a))))
			}
			r++
		}
	}

	cur := x // layer input, width l.in
	for li := range m.layers {
		l := &m.layers[li]
		d := l.in
		h := ws.h[:n*d]
		layerNorm(h, cur, n, d, l.ln1s, l.ln1b, m.lnEps)
		qkv := ws.qkv[:n*3*d]
		linear(qkv, h, n, d, l.qkv, l.qkvB, 3*d)
		att := ws.att[:n*d]
		off := 0
		for _, s := range seqs {
			t := len(s)
			if t == 0 {
				continue
			}
			ws.logits = grow(ws.logits, t)
			attention(att[off*d:], qkv[off*3*d:], ws.logits, t, d, l.qScale)
			off += t
		}
		// y = attention output projection + residual (projected in layer 0).
		y := ws.y[:n*hidden]
		linear(y, att, n, d, l.out, l.outB, hidden)
		if l.resid != nil {
			res := ws.h[:n*hidden] // h is free again
			linear(res, cur, n, d, l.resid, l.residB, hidden)
			for i := range y {
				y[i] += res[i]
			}
		} else {
			for i := range y {
				y[i] += cur[i]
			}
		}
		// Feed-forward block with residual; the result goes to x.
		h = ws.h[:n*hidden]
		layerNorm(h, y, n, hidden, l.ln2s, l.ln2b, m.lnEps)
		ff := ws.ff[:n*ffnDim]
		linear(ff, h, n, hidden, l.ff1, l.ff1B, ffnDim)
		for i, v := range ff {
			if v < 0 {
				ff[i] = 0
			}
		}
		out := ws.x[:n*hidden]
		linear(out, ff, n, ffnDim, l.ff2, l.ff2B, hidden)
		for i := range out {
			out[i] += y[i]
		}
		cur = out
	}

	// Mean over each sentence's tokens (sum / max(len, 1)).
	pooled := ws.pooled
	clear(pooled)
	off := 0
	for si, s := range seqs {
		p := pooled[si*hidden : (si+1)*hidden]
		for t := 0; t < len(s); t++ {
			row := cur[(off+t)*hidden : (off+t+1)*hidden]
			for i, v := range row {
				p[i] += v
			}
		}
		div := float32(max(len(s), 1))
		for i := range p {
			p[i] /= div
		}
		off += len(s)
	}
	// tanh layer and L2 normalisation.
	linear(dst, pooled, len(seqs), hidden, m.tanhW, m.tanhB, Dim)
	for si := range seqs {
		v := dst[si*Dim : (si+1)*Dim]
		var ss float32
		for i, x := range v {
			x = float32(math.Tanh(float64(x)))
			v[i] = x
			ss += x * x
		}
		inv := float32(1 / math.Sqrt(float64(max(ss, m.l2Eps))))
		for i := range v {
			v[i] *= inv
		}
	}
}
