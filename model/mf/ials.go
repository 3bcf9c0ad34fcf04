package mf

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/internal/hyper"
)

// IALSName is the registered name of the iALS model.
const IALSName = "ials"

const ialsVersion = 2 // 2: float arrays stored raw after the gob part

// IALSParams are the hyper-parameters of IALS.
type IALSParams struct {
	Factors    int
	Reg        float64
	Alpha      float64
	Iterations int
	CGSteps    int
	InitStd    float64
	Seed       uint64
	UseWeights bool
	RegExp     float64
	// MeanUserLen is the mean training row length of a user, for the
	// frequency-scaled regulariser of the fold-in.
	MeanUserLen float64
}

// IALS is implicit alternating least squares (WRMF, Hu, Koren and Volinsky
// 2008): every observed (user, item) pair has target 1 with confidence
// 1 + alpha·weight, every other pair target 0 with confidence 1, and both
// factor matrices are L2-regularised.
type IALS struct {
	p    IALSParams
	f    factors
	fi   foldIn
	warm *factors
}

// NewIALS builds an iALS model. Params:
//   - factors (default 64): vector dimension;
//   - reg (default 50): L2 regularisation λ of user and item vectors (also of the fold-in);
//   - alpha (default 10): confidence of an observed pair is 1 + alpha·weight;
//   - iterations (default 12): alternating sweeps (users then items), one progress step each;
//   - cg_steps (default 3): conjugate-gradient steps per vector, warm-started
//     from its previous value; 0 solves every vector exactly by Cholesky (slower);
//   - init_std (default 0.01): standard deviation of the random initial factors;
//   - seed (default 0): random seed;
//   - use_weights (default 1): 1 reads Dataset.Weights into the confidence, 0 treats all as 1;
//   - reg_exp (default 0.5): frequency-scaled regularisation: a user or item with n
//     interactions gets reg·(n/mean n of its side)^reg_exp; 0 = the same reg for all.
//
// The defaults were tuned on validation data only (a held-out fifth of the
// ML-100k training fold, and the ML-1M LCFN validation_data.json).
func NewIALS(p model.Params) (*IALS, error) {
	v, err := hyper.Read(IALSName, p, []hyper.Spec{
		{Name: "factors", Default: 64, Min: 1, Max: 1024, Int: true},
		{Name: "reg", Default: 50, Min: 0},
		{Name: "alpha", Default: 10, Min: 0},
		{Name: "iterations", Default: 12, Min: 1, Int: true},
		{Name: "cg_steps", Default: 3, Min: 0, Int: true},
		{Name: "init_std", Default: 0.01, Min: 0},
		{Name: "seed", Default: 0, Min: 0, Int: true},
		{Name: "use_weights", Default: 1, Min: 0, Max: 1, Int: true},
		{Name: "reg_exp", Default: 0.5, Min: 0, Max: 2},
	})
	if err != nil {
		return nil, err
	}
	return &IALS{p: IALSParams{
		Factors: int(v["factors"]), Reg: v["reg"], Alpha: v["alpha"], Iterations: int(v["iterations"]),
		CGSteps: int(v["cg_steps"]), InitStd: v["init_std"], Seed: uint64(v["seed"]), UseWeights: v["use_weights"] == 1,
		RegExp: v["reg_exp"],
	}}, nil
}

// Name implements model.Model.
func (m *IALS) Name() string { return IALSName }

// WarmStart makes the next Fit start from prev's factors for the users and
// items whose ids (Dataset.UserIDs / ItemIDs) are in both data sets; the
// others start at random. Incremental retraining then needs fewer iterations.
// prev must be fitted (or loaded) with the same number of factors.
func (m *IALS) WarmStart(prev *IALS) error {
	if prev.f.Dim == 0 {
		return fmt.Errorf("ials warm start: the previous model is not fitted")
	}
	if prev.f.Dim != m.p.Factors {
		return fmt.Errorf("ials warm start: previous model has %d factors, this one %d", prev.f.Dim, m.p.Factors)
	}
	f := prev.f
	m.warm = &f
	return nil
}

// Fit alternates exact (or conjugate-gradient) least-squares solves of all
// user vectors and all item vectors, reporting the loss per interaction after
// every iteration.
func (m *IALS) Fit(ctx context.Context, ds *model.Dataset, progress model.Progress) error {
	k := m.p.Factors
	nu, ni := ds.NumUsers(), ds.NumItems()
	colPtr, colUser, colPos, err := ds.Columns()
	if err != nil {
		return fmt.Errorf("ials: %w", err)
	}
	conf := make([]float32, len(ds.Items)) // c − 1 = alpha·w per interaction
	for j := range conf {
		w := 1.0
		if m.p.UseWeights && ds.Weights != nil {
			w = float64(ds.Weights[j])
		}
		conf[j] = float32(m.p.Alpha * w)
	}
	// the transposed rows: item → (user, c−1)
	colConf := make([]float32, len(colPos))
	for c, pos := range colPos {
		colConf[c] = conf[pos]
	}

	rng := rand.New(rand.NewPCG(m.p.Seed, 0x1a15))
	f := factors{Dim: k, NumUsers: nu, NumItems: ni, U: make([]float32, nu*k), V: make([]float32, ni*k),
		Pop: popularity(ds), UserIDs: ds.UserIDs, ItemIDs: ds.ItemIDs}
	initFactors(rng, f.U, m.p.InitStd)
	initFactors(rng, f.V, m.p.InitStd)
	if m.warm != nil {
		warmCopy(f.U, ds.UserIDs, m.warm.U, m.warm.UserIDs, k)
		warmCopy(f.V, ds.ItemIDs, m.warm.V, m.warm.ItemIDs, k)
		m.warm = nil
	}

	meanU := float64(len(ds.Items)) / float64(max(1, nu))
	meanI := float64(len(ds.Items)) / float64(max(1, ni))
	m.p.MeanUserLen = meanU
	workers := runtime.GOMAXPROCS(0)
	scratch := make([]*alsScratch, workers)
	for w := range scratch {
		scratch[w] = newALSScratch(k)
	}
	stop := func() bool { return ctx.Err() != nil }
	for it := 1; it <= m.p.Iterations; it++ {
		// users against fixed items
		g := gram(f.V, k)
		gf := toFloat32(g)
		parallelRows(nu, stop, func(w, u int) {
			lo, hi := ds.UserPtr[u], ds.UserPtr[u+1]
			m.solveRow(scratch[w], g, gf, f.V, ds.Items[lo:hi], conf[lo:hi], scaledReg(m.p.Reg, m.p.RegExp, meanU, hi-lo), f.user(u))
		})
		if err := ctx.Err(); err != nil {
			return err
		}
		// items against fixed users
		g = gram(f.U, k)
		gf = toFloat32(g)
		parallelRows(ni, stop, func(w, i int) {
			lo, hi := colPtr[i], colPtr[i+1]
			m.solveRow(scratch[w], g, gf, f.U, colUser[lo:hi], colConf[lo:hi], scaledReg(m.p.Reg, m.p.RegExp, meanI, hi-lo), f.item(i))
		})
		if err := ctx.Err(); err != nil {
			return err
		}
		if progress != nil {
			progress(model.Status{Stage: "epoch", Epoch: it, Of: m.p.Iterations, Loss: m.loss(ds, &f, conf, colPtr, meanU, meanI), Metric: math.NaN()})
		}
	}
	m.f = f
	m.fi = m.foldIn()
	return nil
}

type alsScratch struct {
	r, p, ap []float32
	a, b     []float64
}

func newALSScratch(k int) *alsScratch {
	return &alsScratch{r: make([]float32, k), p: make([]float32, k), ap: make([]float32, k),
		a: make([]float64, k*k), b: make([]float64, k)}
}

func toFloat32(g []float64) []float32 {
	out := make([]float32, len(g))
	for i, v := range g {
		out[i] = float32(v)
	}
	return out
}

// solveRow sets x to the minimiser of
// Σ_j (1+c_j)(1 − x·y_j)² + Σ_{others} (x·y)² + λ|x|², given G = YᵀY
// (as float64 g and float32 gf).
func (m *IALS) solveRow(s *alsScratch, g []float64, gf []float32, y []float32, idx []int32, c []float32, lambda float64, x []float32) {
	k := len(x)
	if m.p.CGSteps == 0 {
		copy(s.a, g)
		clear(s.b)
		for d := 0; d < k; d++ {
			s.a[d*k+d] += lambda
		}
		for j, i := range idx {
			yi := y[int(i)*k : (int(i)+1)*k]
			cj := float64(c[j])
			for r := 0; r < k; r++ {
				yr := float64(yi[r])
				s.b[r] += (1 + cj) * yr
				row := s.a[r*k : r*k+r+1]
				sr := cj * yr
				for q := range row {
					row[q] += sr * float64(yi[q])
				}
			}
		}
		if cholSolve(s.a, s.b, k) {
			for d := range x {
				x[d] = float32(s.b[d])
			}
		}
		return
	}
	// A v = G v + λ v + Σ_j c_j (y_j·v) y_j ; b = Σ_j (1+c_j) y_j
	mulA := func(v, out []float32) {
		for r := 0; r < k; r++ {
			out[r] = dot(gf[r*k:(r+1)*k], v) + float32(lambda)*v[r]
		}
		for j, i := range idx {
			yi := y[int(i)*k : (int(i)+1)*k]
			axpy(c[j]*dot(yi, v), yi, out)
		}
	}
	r, p, ap := s.r, s.p, s.ap
	mulA(x, ap)
	for d := range r {
		r[d] = -ap[d]
	}
	for j, i := range idx {
		axpy(1+c[j], y[int(i)*k:(int(i)+1)*k], r)
	}
	copy(p, r)
	rs := dot(r, r)
	for step := 0; step < m.p.CGSteps && rs > 1e-12; step++ {
		mulA(p, ap)
		pap := dot(p, ap)
		if pap <= 0 {
			break
		}
		a := rs / pap
		axpy(a, p, x)
		axpy(-a, ap, r)
		rsNew := dot(r, r)
		beta := rsNew / rs
		for d := range p {
			p[d] = r[d] + beta*p[d]
		}
		rs = rsNew
	}
}

// loss is the training objective divided by the number of interactions.
func (m *IALS) loss(ds *model.Dataset, f *factors, conf []float32, colPtr []int, meanU, meanI float64) float64 {
	k := f.Dim
	gu, gv := gram(f.U, k), gram(f.V, k)
	total := 0.0
	for i := range gu {
		total += gu[i] * gv[i] // Σ over all pairs of (x·y)²
	}
	workers := runtime.GOMAXPROCS(0)
	part := make([]float64, workers)
	parallelRows(f.NumUsers, func() bool { return false }, func(w, u int) {
		x := f.user(u)
		s := 0.0
		for j := ds.UserPtr[u]; j < ds.UserPtr[u+1]; j++ {
			p := float64(dot(x, f.item(int(ds.Items[j]))))
			s += (1+float64(conf[j]))*(1-p)*(1-p) - p*p
		}
		n := ds.UserPtr[u+1] - ds.UserPtr[u]
		part[w] += s + scaledReg(m.p.Reg, m.p.RegExp, meanU, n)*float64(dot(x, x))
	})
	for _, p := range part {
		total += p
	}
	for i := 0; i < f.NumItems; i++ {
		y := f.item(i)
		total += scaledReg(m.p.Reg, m.p.RegExp, meanI, colPtr[i+1]-colPtr[i]) * float64(dot(y, y))
	}
	return total / float64(max(1, len(ds.Items)))
}

// foldIn is the user step of training, for one user.
func (m *IALS) foldIn() foldIn {
	return foldIn{alpha: m.p.Alpha, w0: 1, lambda: m.p.Reg, regExp: m.p.RegExp, meanN: m.p.MeanUserLen, gram: gram(m.f.V, m.f.Dim)}
}

// Score implements model.Model: the user's learned vector, or a vector
// folded in from q.History by the same least-squares solve as training.
func (m *IALS) Score(q model.Query, scores []float32) {
	if !m.p.UseWeights {
		q.HistoryWeights = nil
	}
	m.f.score(&m.fi, q, scores)
}

// ItemVectors implements model.ItemEmbedder.
func (m *IALS) ItemVectors() (int, []float32) { return m.f.Dim, m.f.V }

// Similar scores items by the cosine of their vectors with item's.
func (m *IALS) Similar(item int32, scores []float32) { m.f.similar(item, scores) }

type savedIALS struct {
	Params IALSParams
	Shape  factorsShape
}

// Save implements model.Model.
func (m *IALS) Save(w io.Writer) error {
	return saveFactors(w, IALSName, ialsVersion, savedIALS{Params: m.p, Shape: m.f.shape()}, &m.f)
}

// Load implements model.Model.
func (m *IALS) Load(r io.Reader) error {
	var s savedIALS
	f, err := loadFactors(r, IALSName, ialsVersion, &s, func() factorsShape { return s.Shape })
	if err != nil {
		return err
	}
	m.p, m.f = s.Params, f
	m.fi = m.foldIn()
	return nil
}

// Params reports the effective hyper-parameters.
func (m *IALS) Params() model.Params {
	return model.Params{"factors": float64(m.p.Factors), "reg": m.p.Reg, "alpha": m.p.Alpha,
		"iterations": float64(m.p.Iterations), "cg_steps": float64(m.p.CGSteps), "init_std": m.p.InitStd,
		"seed": float64(m.p.Seed), "use_weights": b2f(m.p.UseWeights), "reg_exp": m.p.RegExp}
}

// TuneGrid is the search space for a bounded hyper-parameter search.
func (m *IALS) TuneGrid() map[string][]float64 {
	return map[string][]float64{"reg": {5, 20, 50, 100, 200}, "alpha": {2, 5, 10, 20, 40},
		"factors": {32, 64, 128}, "reg_exp": {0, 0.5, 1}}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
