package mf

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/internal/hyper"
)

// BPRName is the registered name of the BPR model.
const BPRName = "bpr"

const bprVersion = 2 // 2: float arrays stored raw after the gob part

// BPRParams are the hyper-parameters of BPR.
type BPRParams struct {
	Factors    int
	LR         float64
	Reg        float64
	BiasReg    float64
	Epochs     int
	Adam       bool
	InitStd    float64
	Seed       uint64
	UseWeights bool
	FoldReg    float64
	FoldAlpha  float64
	FoldW0     float64
	FoldEpochs int
}

// BPR is Bayesian personalised ranking (Rendle et al. 2009) with item
// biases: for a sampled (user, positive item, negative item) triple it raises
// ln σ(x_u·(y_i − y_j) + b_i − b_j), one SGD or Adam step per triple, the
// gradient scaled by the interaction weight. Negatives are drawn uniformly
// from the items the user has not interacted with.
//
// Training is parallel and race-free by stratification (DSGD): with W
// goroutines, users and items are split in W blocks each; in sub-epoch s
// goroutine g trains the positives of user block g that lie in item block
// (g+s) mod W, with negatives from that item block, so the goroutines touch
// disjoint rows.
type BPR struct {
	p    BPRParams
	f    factors
	fi   foldIn
	warm *factors
}

// NewBPR builds a BPR model. Params:
//   - factors (default 64): vector dimension;
//   - lr (default 0.05; use ~0.005 with adam=1): learning rate;
//   - reg (default 0.02): L2 regularisation of the vectors, per step;
//   - bias_reg (default 0.005): L2 regularisation of the item biases;
//   - epochs (default 40): passes over the interactions, one progress step each;
//   - adam (default 0): 1 uses Adam (β1 0.9, β2 0.999) instead of plain SGD;
//   - init_std (default 0.1): standard deviation of the random initial vectors;
//   - seed (default 0): random seed;
//   - use_weights (default 1): 1 scales each triple's gradient by its Dataset weight;
//   - fold_reg (default 1), fold_alpha (default 1), fold_w0 (default 0.05):
//     the fold-in of a History solves min Σ_h (1+fold_alpha·w_h)(1 − x·y_h)²
//   - fold_w0·Σ_others (x·y)² + fold_reg·|x|² against the item vectors.
func NewBPR(p model.Params) (*BPR, error) {
	v, err := hyper.Read(BPRName, p, []hyper.Spec{
		{Name: "factors", Default: 64, Min: 1, Max: 1024, Int: true},
		{Name: "lr", Default: 0.05, Min: 0},
		{Name: "reg", Default: 0.02, Min: 0},
		{Name: "bias_reg", Default: 0.005, Min: 0},
		{Name: "epochs", Default: 40, Min: 1, Int: true},
		{Name: "adam", Default: 0, Min: 0, Max: 1, Int: true},
		{Name: "init_std", Default: 0.1, Min: 0},
		{Name: "seed", Default: 0, Min: 0, Int: true},
		{Name: "use_weights", Default: 1, Min: 0, Max: 1, Int: true},
		{Name: "fold_reg", Default: 1, Min: 0},
		{Name: "fold_alpha", Default: 1, Min: 0},
		{Name: "fold_w0", Default: 0.01, Min: 0},
		{Name: "fold_epochs", Default: 10, Min: 0, Int: true},
	})
	if err != nil {
		return nil, err
	}
	if v["fold_reg"] == 0 && v["fold_w0"] == 0 {
		return nil, fmt.Errorf("bpr: fold_reg and fold_w0 cannot both be 0 (the fold-in would be singular)")
	}
	return &BPR{p: BPRParams{
		Factors: int(v["factors"]), LR: v["lr"], Reg: v["reg"], BiasReg: v["bias_reg"], Epochs: int(v["epochs"]),
		Adam: v["adam"] == 1, InitStd: v["init_std"], Seed: uint64(v["seed"]), UseWeights: v["use_weights"] == 1,
		FoldReg: v["fold_reg"], FoldAlpha: v["fold_alpha"], FoldW0: v["fold_w0"], FoldEpochs: int(v["fold_epochs"]),
	}}, nil
}

// Name implements model.Model.
func (m *BPR) Name() string { return BPRName }

// WarmStart makes the next Fit start from prev's vectors and biases for the
// users and items whose ids are in both data sets; the others start at
// random. prev must have the same number of factors.
func (m *BPR) WarmStart(prev *BPR) error {
	if prev.f.Dim == 0 {
		return fmt.Errorf("bpr warm start: the previous model is not fitted")
	}
	if prev.f.Dim != m.p.Factors {
		return fmt.Errorf("bpr warm start: previous model has %d factors, this one %d", prev.f.Dim, m.p.Factors)
	}
	f := prev.f
	m.warm = &f
	return nil
}

type triple struct {
	user, item int32
	w          float32
}

// adamState holds the moments of one parameter matrix and the step count of each row.
type adamState struct {
	m, v []float32
	t    []int32
}

func newAdam(rows, dim int) *adamState {
	return &adamState{m: make([]float32, rows*dim), v: make([]float32, rows*dim), t: make([]int32, rows)}
}

// step applies one Adam update with gradient g (ascent direction) to row r of p.
func (a *adamState) step(p []float32, r, dim int, g []float32, lr float64) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	a.t[r]++
	t := float64(a.t[r])
	c1 := 1 - math.Pow(b1, t)
	c2 := 1 - math.Pow(b2, t)
	step := float32(lr * math.Sqrt(c2) / c1)
	m, v, x := a.m[r*dim:(r+1)*dim], a.v[r*dim:(r+1)*dim], p[r*dim:(r+1)*dim]
	for d, gd := range g {
		m[d] = b1*m[d] + (1-b1)*gd
		v[d] = b2*v[d] + (1-b2)*gd*gd
		x[d] += step * m[d] / (float32(math.Sqrt(float64(v[d]))) + eps)
	}
}

// Fit runs the epochs of stratified SGD (or Adam), reporting the mean
// −ln σ loss of every epoch.
func (m *BPR) Fit(ctx context.Context, ds *model.Dataset, progress model.Progress) error {
	k := m.p.Factors
	nu, ni := ds.NumUsers(), ds.NumItems()
	for j, it := range ds.Items {
		if it < 0 || int(it) >= ni {
			return fmt.Errorf("bpr: interaction %d: item %d out of range [0, %d)", j, it, ni)
		}
	}
	if ni < 2 {
		return fmt.Errorf("bpr: needs at least 2 items, the data set has %d", ni)
	}
	W := max(1, min(runtime.GOMAXPROCS(0), ni))
	// strata[ub][ib]: the positives of users u%W==ub on items i%W==ib
	strata := make([][][]triple, W)
	for b := range strata {
		strata[b] = make([][]triple, W)
	}
	rows := make([][]int32, nu) // sorted rows, for rejecting sampled positives
	for u := 0; u < nu; u++ {
		lo, hi := ds.UserPtr[u], ds.UserPtr[u+1]
		for j := lo; j < hi; j++ {
			w := float32(1)
			if m.p.UseWeights && ds.Weights != nil {
				w = ds.Weights[j]
			}
			it := ds.Items[j]
			strata[u%W][int(it)%W] = append(strata[u%W][int(it)%W], triple{int32(u), it, w})
		}
		rows[u] = slices.Clone(ds.Items[lo:hi])
		slices.Sort(rows[u])
	}

	rng := rand.New(rand.NewPCG(m.p.Seed, 0xb9b))
	f := factors{Dim: k, NumUsers: nu, NumItems: ni, U: make([]float32, nu*k), V: make([]float32, ni*k),
		ItemBias: make([]float32, ni), Pop: popularity(ds), UserIDs: ds.UserIDs, ItemIDs: ds.ItemIDs}
	initFactors(rng, f.U, m.p.InitStd)
	initFactors(rng, f.V, m.p.InitStd)
	if m.warm != nil {
		warmCopy(f.U, ds.UserIDs, m.warm.U, m.warm.UserIDs, k)
		warmCopy(f.V, ds.ItemIDs, m.warm.V, m.warm.ItemIDs, k)
		if m.warm.ItemBias != nil {
			warmCopy(f.ItemBias, ds.ItemIDs, m.warm.ItemBias, m.warm.ItemIDs, 1)
		}
		m.warm = nil
	}
	var adU, adV, adB *adamState
	if m.p.Adam {
		adU, adV, adB = newAdam(nu, k), newAdam(ni, k), newAdam(ni, 1)
	}

	type worker struct {
		rng              *rand.Rand
		gu, gi, gj, diff []float32
		loss             float64
		n                int
	}
	ws := make([]*worker, W)
	for g := range ws {
		ws[g] = &worker{rng: rand.New(rand.NewPCG(m.p.Seed, uint64(g)+1)),
			gu: make([]float32, k), gi: make([]float32, k), gj: make([]float32, k), diff: make([]float32, k)}
	}
	lr, reg, breg := float32(m.p.LR), float32(m.p.Reg), float32(m.p.BiasReg)

	train := func(wk *worker, pos []triple, ib int) {
		blockSize := (ni - ib + W - 1) / W // items ib, ib+W, …
		for range len(pos) {
			if ctx.Err() != nil {
				return
			}
			t := pos[wk.rng.IntN(len(pos))]
			u, i := int(t.user), int(t.item)
			j := -1
			for try := 0; try < 20; try++ {
				c := ib + W*wk.rng.IntN(blockSize)
				if _, found := slices.BinarySearch(rows[u], int32(c)); !found {
					j = c
					break
				}
			}
			if j < 0 {
				continue // the user has nearly every item of this block
			}
			xu, yi, yj := f.user(u), f.item(i), f.item(j)
			for d := range wk.diff {
				wk.diff[d] = yi[d] - yj[d]
			}
			x := dot(xu, wk.diff) + f.ItemBias[i] - f.ItemBias[j]
			sig := 1 / (1 + math.Exp(float64(x))) // σ(−x)
			wk.loss += float64(t.w) * softplus(-float64(x))
			wk.n++
			g := float32(sig) * t.w
			for d := range xu {
				wk.gu[d] = g*wk.diff[d] - reg*xu[d]
				wk.gi[d] = g*xu[d] - reg*yi[d]
				wk.gj[d] = -g*xu[d] - reg*yj[d]
			}
			gbi := g - breg*f.ItemBias[i]
			gbj := -g - breg*f.ItemBias[j]
			if adU != nil {
				adU.step(f.U, u, k, wk.gu, m.p.LR)
				adV.step(f.V, i, k, wk.gi, m.p.LR)
				adV.step(f.V, j, k, wk.gj, m.p.LR)
				adB.step(f.ItemBias, i, 1, []float32{gbi}, m.p.LR)
				adB.step(f.ItemBias, j, 1, []float32{gbj}, m.p.LR)
				continue
			}
			axpy(lr, wk.gu, xu)
			axpy(lr, wk.gi, yi)
			axpy(lr, wk.gj, yj)
			f.ItemBias[i] += lr * gbi
			f.ItemBias[j] += lr * gbj
		}
	}

	for epoch := 1; epoch <= m.p.Epochs; epoch++ {
		for _, wk := range ws {
			wk.loss, wk.n = 0, 0
		}
		for s := 0; s < W; s++ {
			var wg sync.WaitGroup
			for g := 0; g < W; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ib := (g + s) % W
					train(ws[g], strata[g][ib], ib)
				}()
			}
			wg.Wait()
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if progress != nil {
			loss, n := 0.0, 0
			for _, wk := range ws {
				loss += wk.loss
				n += wk.n
			}
			progress(model.Status{Stage: "epoch", Epoch: epoch, Of: m.p.Epochs, Loss: loss / float64(max(1, n)), Metric: math.NaN()})
		}
	}
	m.f = f
	m.fi = m.foldIn()
	return nil
}

func (m *BPR) foldIn() foldIn {
	return foldIn{alpha: m.p.FoldAlpha, w0: m.p.FoldW0, lambda: m.p.FoldReg, gram: gram(m.f.V, m.f.Dim)}
}

// softplus is ln(1 + eˣ), computed without overflow.
func softplus(x float64) float64 {
	if x > 30 {
		return x
	}
	return math.Log1p(math.Exp(x))
}

// Score implements model.Model. Without History a known user's learned
// vector is used. With History the user vector is re-fitted to it: from the
// learned vector (known user) or a least-squares start (unknown user), BPR
// steps on the user vector alone against the fixed item vectors, with a
// random stream seeded by the history so the answer is deterministic.
func (m *BPR) Score(q model.Query, scores []float32) {
	x := make([]float32, m.f.Dim)
	if !m.userVector(q, x) {
		copy(scores, m.f.Pop)
		return
	}
	m.f.scoreVec(x, scores)
}

// userVector writes the user vector Score uses into x; false for an empty
// query (unknown user, no history).
func (m *BPR) userVector(q model.Query, x []float32) bool {
	f := &m.f
	known := q.User >= 0 && int(q.User) < f.NumUsers
	if len(q.History) == 0 {
		if known {
			copy(x, f.user(int(q.User)))
		}
		return known
	}
	hw := q.HistoryWeights
	if !m.p.UseWeights {
		hw = nil
	}
	if known {
		copy(x, f.user(int(q.User)))
	} else {
		m.fi.solve(f, q.History, hw, x)
	}
	m.refine(x, q.History, hw)
	return true
}

// refine runs the fold-in BPR steps on x.
func (m *BPR) refine(x []float32, hist []int32, hw []float32) {
	f := &m.f
	var valid []int
	for j, h := range hist {
		if h >= 0 && int(h) < f.NumItems {
			valid = append(valid, j)
		}
	}
	if len(valid) == 0 || len(valid) >= f.NumItems {
		return
	}
	sorted := make([]int32, 0, len(valid))
	seed := uint64(len(valid))
	for _, j := range valid {
		sorted = append(sorted, hist[j])
		seed = seed*1099511628211 + uint64(hist[j])
	}
	slices.Sort(sorted)
	rng := rand.New(rand.NewPCG(seed, m.p.Seed))
	steps := min(20000, m.p.FoldEpochs*len(valid))
	lr, reg := float32(m.p.LR), float32(m.p.Reg)
	g := make([]float32, f.Dim)
	for range steps {
		p := valid[rng.IntN(len(valid))]
		i := int(hist[p])
		j := -1
		for try := 0; try < 20; try++ {
			c := rng.IntN(f.NumItems)
			if _, found := slices.BinarySearch(sorted, int32(c)); !found {
				j = c
				break
			}
		}
		if j < 0 {
			continue
		}
		yi, yj := f.item(i), f.item(j)
		var xs float32
		for d := range x {
			g[d] = yi[d] - yj[d]
			xs += x[d] * g[d]
		}
		xs += f.ItemBias[i] - f.ItemBias[j]
		w := float32(1)
		if hw != nil {
			w = hw[p]
		}
		sig := w * float32(1/(1+math.Exp(float64(xs))))
		for d := range x {
			x[d] += lr * (sig*g[d] - reg*x[d])
		}
	}
}

// ItemVectors implements model.ItemEmbedder.
func (m *BPR) ItemVectors() (int, []float32) { return m.f.Dim, m.f.V }

// Similar scores items by the cosine of their vectors with item's.
func (m *BPR) Similar(item int32, scores []float32) { m.f.similar(item, scores) }

type savedBPR struct {
	Params BPRParams
	Shape  factorsShape
}

// Save implements model.Model.
func (m *BPR) Save(w io.Writer) error {
	return saveFactors(w, BPRName, bprVersion, savedBPR{Params: m.p, Shape: m.f.shape()}, &m.f)
}

// Load implements model.Model.
func (m *BPR) Load(r io.Reader) error {
	var s savedBPR
	f, err := loadFactors(r, BPRName, bprVersion, &s, func() factorsShape { return s.Shape })
	if err != nil {
		return err
	}
	if f.ItemBias == nil && f.NumItems > 0 {
		return fmt.Errorf("load %s: no item biases", BPRName)
	}
	m.p, m.f = s.Params, f
	m.fi = m.foldIn()
	return nil
}

// Params reports the effective hyper-parameters.
func (m *BPR) Params() model.Params {
	return model.Params{"factors": float64(m.p.Factors), "lr": m.p.LR, "reg": m.p.Reg, "bias_reg": m.p.BiasReg,
		"epochs": float64(m.p.Epochs), "adam": b2f(m.p.Adam), "init_std": m.p.InitStd, "seed": float64(m.p.Seed),
		"use_weights": b2f(m.p.UseWeights), "fold_reg": m.p.FoldReg, "fold_alpha": m.p.FoldAlpha,
		"fold_w0": m.p.FoldW0, "fold_epochs": float64(m.p.FoldEpochs)}
}

// TuneGrid is the search space for a bounded hyper-parameter search.
func (m *BPR) TuneGrid() map[string][]float64 {
	return map[string][]float64{"reg": {0.005, 0.01, 0.02, 0.05}, "lr": {0.02, 0.05, 0.1},
		"factors": {32, 64, 128}, "epochs": {20, 40, 80}}
}
