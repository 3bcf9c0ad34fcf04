package rating

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/internal/hyper"
)

// neuralSpecs are Neural's hyper-parameters; defaults from validation tuning
// on ML-100k.
var neuralSpecs = []hyper.Spec{
	{Name: "dim", Default: 32, Min: 1, Max: 512, Int: true},      // embedding size of users and of items
	{Name: "hidden1", Default: 64, Min: 1, Max: 1024, Int: true}, // first dense layer
	{Name: "hidden2", Default: 64, Min: 1, Max: 1024, Int: true}, // second dense layer
	{Name: "epochs", Default: 5, Min: 1, Max: 1000, Int: true},   // passes over the data (the MLP overfits quickly)
	{Name: "batch", Default: 256, Min: 1, Max: 65536, Int: true}, // examples per Adam step
	{Name: "lr", Default: 0.002, Min: 1e-6, Max: 1},
	{Name: "reg", Default: 0.1, Min: 0, Max: 10},           // L2 on the embedding rows and biases an example touches
	{Name: "weight_decay", Default: 1e-4, Min: 0, Max: 10}, // L2 on the dense weights
	{Name: "init_std", Default: 0.05, Min: 0, Max: 1},      // embedding initialisation
	{Name: "negatives", Default: 4, Min: 0, Max: 100, Int: true},
	{Name: "seed", Default: 1, Min: 0, Int: true},
	{Name: "workers", Default: 0, Min: 0, Max: 256, Int: true}, // goroutines per batch; 0 = GOMAXPROCS
}

// neuralVersion is the Save format version of Neural.
const neuralVersion = 1

// Neural is the rating model shops know from the literature: the user's and
// the item's embeddings are concatenated and passed through two ReLU dense
// layers to one output, added to μ + b_u + b_i; trained with Adam on squared
// error. Only the embedding rows a batch touches are updated (lazy Adam).
type Neural struct {
	p  model.Params
	st neuralState
}

type neuralState struct {
	Params           model.Params
	Dim, H1, H2      int
	Mean, Lo, Hi     float32
	UserEmb, ItemEmb []float32 // rows × Dim
	UserBias         []float32
	ItemBias         []float32
	W1, B1           []float32 // H1 × 2Dim (user part first), H1
	W2, B2           []float32 // H2 × H1, H2
	W3, B3           []float32 // H2, 1
	itemPre          []float32 // items × H1: the item half of layer 1 plus B1, for Score
}

// NewNeural builds an untrained Neural rating model.
func NewNeural(p model.Params) (model.Model, error) {
	rp, err := hyper.Read("neural-rating", p, neuralSpecs)
	if err != nil {
		return nil, err
	}
	return &Neural{p: rp}, nil
}

// Name is "neural-rating".
func (m *Neural) Name() string { return "neural-rating" }

// Params returns the effective hyper-parameters.
func (m *Neural) Params() model.Params { return cloneParams(m.p) }

// TuneGrid is the search space for --tune.
func (m *Neural) TuneGrid() map[string][]float64 {
	return map[string][]float64{"epochs": {3, 8}, "reg": {0.05, 0.2}, "lr": {0.001, 0.004}, "dim": {16, 64}, "batch": {64, 1024}}
}

func newNeuralState(p model.Params, nu, ni int, rng *rand.Rand) neuralState {
	d, h1, h2 := int(p["dim"]), int(p["hidden1"]), int(p["hidden2"])
	s := neuralState{Params: cloneParams(p), Dim: d, H1: h1, H2: h2,
		UserEmb: make([]float32, nu*d), ItemEmb: make([]float32, ni*d), UserBias: make([]float32, nu), ItemBias: make([]float32, ni),
		W1: make([]float32, h1*2*d), B1: make([]float32, h1), W2: make([]float32, h2*h1), B2: make([]float32, h2),
		W3: make([]float32, h2), B3: make([]float32, 1)}
	std := p["init_std"]
	for _, e := range [][]float32{s.UserEmb, s.ItemEmb} {
		for i := range e {
			e[i] = float32(rng.NormFloat64() * std)
		}
	}
	he := func(w []float32, fanIn int) {
		sd := math.Sqrt(2 / float64(fanIn))
		for i := range w {
			w[i] = float32(rng.NormFloat64() * sd)
		}
	}
	he(s.W1, 2*d)
	he(s.W2, h1)
	for i := range s.W3 {
		s.W3[i] = float32(rng.NormFloat64() * 0.01)
	}
	return s
}

// forward computes the MLP output for user u and item i, keeping the
// activations in buf (for backward).
func (s *neuralState) forward(u, i int, buf *nnBuf) float32 {
	d := s.Dim
	x := buf.x
	copy(x[:d], s.UserEmb[u*d:(u+1)*d])
	copy(x[d:], s.ItemEmb[i*d:(i+1)*d])
	for h := 0; h < s.H1; h++ {
		z := dot(s.W1[h*2*d:(h+1)*2*d], x) + s.B1[h]
		buf.z1[h] = z
		buf.a1[h] = max(z, 0)
	}
	for h := 0; h < s.H2; h++ {
		z := dot(s.W2[h*s.H1:(h+1)*s.H1], buf.a1) + s.B2[h]
		buf.z2[h] = z
		buf.a2[h] = max(z, 0)
	}
	return dot(s.W3, buf.a2) + s.B3[0] + s.Mean + s.UserBias[u] + s.ItemBias[i]
}

// nnBuf holds one goroutine's activations and gradient sums.
type nnBuf struct {
	x, z1, a1, z2, a2, da1, dz1, dz2 []float32
	gW1, gB1, gW2, gB2, gW3, gB3     []float32
	gx                               []float32 // per sample: d loss / d [p_u, q_i]
	gy                               []float32 // per sample: d loss / d output
	loss                             float64
}

func (s *neuralState) newBuf(maxSamples int) *nnBuf {
	d2 := 2 * s.Dim
	return &nnBuf{x: make([]float32, d2), z1: make([]float32, s.H1), a1: make([]float32, s.H1), z2: make([]float32, s.H2), a2: make([]float32, s.H2),
		da1: make([]float32, s.H1), dz1: make([]float32, s.H1), dz2: make([]float32, s.H2),
		gW1: make([]float32, len(s.W1)), gB1: make([]float32, s.H1), gW2: make([]float32, len(s.W2)), gB2: make([]float32, s.H2),
		gW3: make([]float32, s.H2), gB3: make([]float32, 1), gx: make([]float32, maxSamples*d2), gy: make([]float32, maxSamples)}
}

// backward adds the gradient of ½(y−r)² for the sample last passed to
// forward, with dy = y − r, into buf; k is the sample's slot for the
// embedding gradient.
func (s *neuralState) backward(dy float32, k int, buf *nnBuf) {
	d2 := 2 * s.Dim
	buf.gy[k] = dy
	buf.gB3[0] += dy
	for h := 0; h < s.H2; h++ {
		buf.gW3[h] += dy * buf.a2[h]
		g := float32(0)
		if buf.z2[h] > 0 {
			g = dy * s.W3[h]
		}
		buf.dz2[h] = g
	}
	clear(buf.da1)
	for h := 0; h < s.H2; h++ {
		g := buf.dz2[h]
		if g == 0 {
			continue
		}
		buf.gB2[h] += g
		row := s.W2[h*s.H1 : (h+1)*s.H1]
		grow := buf.gW2[h*s.H1 : (h+1)*s.H1]
		for j, a := range buf.a1 {
			grow[j] += g * a
			buf.da1[j] += g * row[j]
		}
	}
	gx := buf.gx[k*d2 : (k+1)*d2]
	clear(gx)
	for h := 0; h < s.H1; h++ {
		if buf.z1[h] <= 0 || buf.da1[h] == 0 {
			continue
		}
		g := buf.da1[h]
		buf.gB1[h] += g
		row := s.W1[h*d2 : (h+1)*d2]
		grow := buf.gW1[h*d2 : (h+1)*d2]
		for j, x := range buf.x {
			grow[j] += g * x
			gx[j] += g * row[j]
		}
	}
}

// adamSlot is one parameter array with its gradient and moments.
type adamSlot struct {
	w, g, m, v []float32
}

// trainer runs mini-batch Adam over a Dataset.
type trainer struct {
	s       *neuralState
	reg, wd float32
	lr      float64
	t       int
	workers int
	bufs    []*nnBuf
	dense   []adamSlot // W1, B1, W2, B2, W3, B3
	// Embedding gradients, full size but only touched rows are non-zero.
	ue, ie, ub, ib       adamSlot
	touchedU, touchedI   []int32
	markU, markI         []bool
	samples, chunkStarts []int
}

func newTrainer(s *neuralState, p model.Params, batch int) *trainer {
	w := int(p["workers"])
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	w = max(1, min(w, batch))
	tr := &trainer{s: s, reg: float32(p["reg"]), wd: float32(p["weight_decay"]), lr: p["lr"], workers: w,
		markU: make([]bool, len(s.UserBias)), markI: make([]bool, len(s.ItemBias))}
	per := (batch + w - 1) / w
	for i := 0; i < w; i++ {
		tr.bufs = append(tr.bufs, s.newBuf(per))
	}
	slot := func(x []float32) adamSlot {
		return adamSlot{w: x, g: make([]float32, len(x)), m: make([]float32, len(x)), v: make([]float32, len(x))}
	}
	for _, x := range [][]float32{s.W1, s.B1, s.W2, s.B2, s.W3, s.B3} {
		tr.dense = append(tr.dense, slot(x))
	}
	tr.ue, tr.ie, tr.ub, tr.ib = slot(s.UserEmb), slot(s.ItemEmb), slot(s.UserBias), slot(s.ItemBias)
	return tr
}

// accumulate computes the batch loss (mean over samples, with the L2 terms)
// and leaves its gradient in the trainer's slots.
func (tr *trainer) accumulate(batch []sample) float64 {
	s := tr.s
	n := len(batch)
	per := (n + tr.workers - 1) / tr.workers
	var wg sync.WaitGroup
	for w := 0; w < tr.workers; w++ {
		lo, hi := min(w*per, n), min((w+1)*per, n)
		buf := tr.bufs[w]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, g := range [][]float32{buf.gW1, buf.gB1, buf.gW2, buf.gB2, buf.gW3, buf.gB3} {
				clear(g)
			}
			buf.loss = 0
			for k, smp := range batch[lo:hi] {
				dy := s.forward(int(smp.u), int(smp.i), buf) - smp.r
				buf.loss += 0.5 * float64(dy) * float64(dy)
				s.backward(dy, k, buf)
			}
		}()
	}
	wg.Wait()
	inv := 1 / float32(n)
	var loss float64
	for di := range tr.dense {
		clear(tr.dense[di].g)
	}
	// Merge in worker order, so results do not depend on scheduling.
	d := s.Dim
	for w := 0; w < tr.workers; w++ {
		buf := tr.bufs[w]
		loss += buf.loss
		for di, g := range [][]float32{buf.gW1, buf.gB1, buf.gW2, buf.gB2, buf.gW3, buf.gB3} {
			dst := tr.dense[di].g
			for x, v := range g {
				dst[x] += v * inv
			}
		}
		lo, hi := min(w*per, n), min((w+1)*per, n)
		for k, smp := range batch[lo:hi] {
			u, i := int(smp.u), int(smp.i)
			if !tr.markU[u] {
				tr.markU[u] = true
				tr.touchedU = append(tr.touchedU, int32(u))
			}
			if !tr.markI[i] {
				tr.markI[i] = true
				tr.touchedI = append(tr.touchedI, int32(i))
			}
			gx := buf.gx[k*2*d : (k+1)*2*d]
			pu, qi := s.UserEmb[u*d:(u+1)*d], s.ItemEmb[i*d:(i+1)*d]
			gu, gi := tr.ue.g[u*d:(u+1)*d], tr.ie.g[i*d:(i+1)*d]
			var l2 float32
			for f := 0; f < d; f++ {
				gu[f] += (gx[f] + tr.reg*pu[f]) * inv
				gi[f] += (gx[d+f] + tr.reg*qi[f]) * inv
				l2 += pu[f]*pu[f] + qi[f]*qi[f]
			}
			bu, bi := s.UserBias[u], s.ItemBias[i]
			tr.ub.g[u] += (buf.gy[k] + tr.reg*bu) * inv
			tr.ib.g[i] += (buf.gy[k] + tr.reg*bi) * inv
			l2 += bu*bu + bi*bi
			loss += 0.5 * float64(tr.reg) * float64(l2)
		}
	}
	loss /= float64(n)
	if tr.wd > 0 {
		var l2 float64
		for _, di := range []int{0, 2, 4} { // weights, not biases
			sl := tr.dense[di]
			for x, w := range sl.w {
				sl.g[x] += tr.wd * w
				l2 += float64(w) * float64(w)
			}
		}
		loss += 0.5 * float64(tr.wd) * l2
	}
	return loss
}

// apply takes one Adam step: every dense weight, and only the touched
// embedding rows (lazy Adam), then clears the touched gradients.
func (tr *trainer) apply() {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	tr.t++
	c1 := 1 - math.Pow(b1, float64(tr.t))
	c2 := 1 - math.Pow(b2, float64(tr.t))
	step := float32(tr.lr * math.Sqrt(c2) / c1)
	upd := func(sl adamSlot, lo, hi int) {
		for x := lo; x < hi; x++ {
			g := sl.g[x]
			sl.m[x] = b1*sl.m[x] + (1-b1)*g
			sl.v[x] = b2*sl.v[x] + (1-b2)*g*g
			sl.w[x] -= step * sl.m[x] / (float32(math.Sqrt(float64(sl.v[x]))) + eps)
			sl.g[x] = 0
		}
	}
	for _, sl := range tr.dense {
		upd(sl, 0, len(sl.w))
	}
	d := tr.s.Dim
	for _, u := range tr.touchedU {
		upd(tr.ue, int(u)*d, int(u+1)*d)
		upd(tr.ub, int(u), int(u)+1)
		tr.markU[u] = false
	}
	for _, i := range tr.touchedI {
		upd(tr.ie, int(i)*d, int(i+1)*d)
		upd(tr.ib, int(i), int(i)+1)
		tr.markI[i] = false
	}
	tr.touchedU, tr.touchedI = tr.touchedU[:0], tr.touchedI[:0]
}

// Fit trains on ds.Ratings; without ratings every interaction is a 1 and
// "negatives" random items per interaction are 0s (pointwise NCF).
func (m *Neural) Fit(ctx context.Context, ds *model.Dataset, progress model.Progress) error {
	rng := rand.New(rand.NewPCG(uint64(m.p["seed"]), 17))
	s := newNeuralState(m.p, ds.NumUsers(), ds.NumItems(), rng)
	neg := int(m.p["negatives"])
	s.Mean, s.Lo, s.Hi = ratingStats(ds, neg)
	batch := int(m.p["batch"])
	epochs := int(m.p["epochs"])
	tr := newTrainer(&s, m.p, batch)
	users := userOf(ds)
	var order []sample
	for ep := 1; ep <= epochs; ep++ {
		order = epochSamples(ds, users, neg, rng, order)
		var sum float64
		steps := 0
		for lo := 0; lo < len(order); lo += batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			sum += tr.accumulate(order[lo:min(lo+batch, len(order))])
			tr.apply()
			steps++
		}
		if progress != nil {
			progress(model.Status{Stage: "epoch", Epoch: ep, Of: epochs, Loss: sum / float64(max(steps, 1)), Metric: math.NaN()})
		}
	}
	s.precompute()
	m.st = s
	return nil
}

// precompute caches the item half of layer 1 (W1_item·q_i + B1) for Score.
func (s *neuralState) precompute() {
	d, d2 := s.Dim, 2*s.Dim
	ni := len(s.ItemBias)
	s.itemPre = make([]float32, ni*s.H1)
	for i := 0; i < ni; i++ {
		q := s.ItemEmb[i*d : (i+1)*d]
		for h := 0; h < s.H1; h++ {
			s.itemPre[i*s.H1+h] = dot(s.W1[h*d2+d:(h+1)*d2], q) + s.B1[h]
		}
	}
}

// predict is the MLP output for user u (u < 0: zero user vector and bias)
// and item i, using the cached item half of layer 1.
func (s *neuralState) predict(userPart []float32, ub float32, i int, a1, a2 []float32) float32 {
	pre := s.itemPre[i*s.H1 : (i+1)*s.H1]
	for h := range a1 {
		a1[h] = max(userPart[h]+pre[h], 0)
	}
	for h := range a2 {
		a2[h] = max(dot(s.W2[h*s.H1:(h+1)*s.H1], a1)+s.B2[h], 0)
	}
	return dot(s.W3, a2) + s.B3[0] + s.Mean + ub + s.ItemBias[i]
}

// userPart is the user half of layer 1 (W1_user·p_u), zero for u < 0.
func (s *neuralState) userPart(u int32, dst []float32) float32 {
	clear(dst)
	if u < 0 || int(u) >= len(s.UserBias) {
		return 0
	}
	d, d2 := s.Dim, 2*s.Dim
	p := s.UserEmb[int(u)*d : int(u+1)*d]
	for h := range dst {
		dst[h] = dot(s.W1[h*d2:h*d2+d], p)
	}
	return s.UserBias[u]
}

// PredictRating predicts user u's rating of item i, clipped to the
// training range.
func (m *Neural) PredictRating(u, i int32) float32 {
	s := &m.st
	up := make([]float32, s.H1)
	ub := s.userPart(u, up)
	return clamp(s.predict(up, ub, int(i), make([]float32, s.H1), make([]float32, s.H2)), s.Lo, s.Hi)
}

// Score writes the predicted rating of every item.
func (m *Neural) Score(q model.Query, scores []float32) {
	s := &m.st
	up, a1, a2 := make([]float32, s.H1), make([]float32, s.H1), make([]float32, s.H2)
	ub := s.userPart(q.User, up)
	for i := range scores {
		scores[i] = s.predict(up, ub, i, a1, a2)
	}
}

// Save writes the fitted model.
func (m *Neural) Save(w io.Writer) error { return hyper.Save(w, "neural-rating", neuralVersion, &m.st) }

// Load reads what Save wrote.
func (m *Neural) Load(r io.Reader) error {
	var s neuralState
	if err := hyper.Load(r, "neural-rating", neuralVersion, &s); err != nil {
		return err
	}
	s.precompute()
	m.st, m.p = s, s.Params
	return nil
}
