package itemfilter

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/blend"
	"github.com/aisle-dev/aisle/model/internal/gram"
	"github.com/aisle-dev/aisle/model/internal/hyper"
	"github.com/aisle-dev/aisle/model/mf"
)

// Name is the model's registered name.
const Name = "itemfilter"

const formatVersion = 1

// Filter is the item-item filter model: a blend of a degree-normalised EASE
// and GF-CF's graph filter, folded into one n×n matrix, optionally mixed
// with an iALS factor model at score level.
type Filter struct {
	cfg  config
	st   state
	ials *mf.IALS // the factor part, nil when IALSWeight is 0
	// popZ is z(log(1+degree)) over the catalogue, from the training rows
	// (computed by Fit and Load, not saved).
	popZ []float32
	// users indexes the training rows by item for the user-neighbour part
	// (built by Fit and Load when UKNNWeight > 0, not saved).
	users *userIndex
	// prepared keeps released prepared queries and their buffers
	// (Prepare).
	prepared sync.Pool
}

type config struct {
	Lambda   float64 // EASE ridge for the plain Gram XᵀX; 0: LambdaScale·√(mean item degree)
	Beta     float64 // input degree normalisation exponent of the EASE part
	UserExp  float64 // user u's rows weigh |u|^-UserExp in the EASE Gram
	Delta    float64 // output popularity exponent: scores × degree^-Delta
	GFWeight float64 // weight of the GF-CF part (0: pure EASE)
	GFK      int     // eigenvectors of GF-CF's ideal low-pass filter
	GFAlpha  float64 // weight of the ideal low-pass inside GF-CF
	Recency  float64 // the t-th newest history item counts 1 + Recency·Decay^t
	Decay    float64
	MaxItems int
	Weights  bool
	// IALSWeight is the share of the iALS part in the score-level mix
	// (1−w)·z(filter) + w·z(iALS); 0 leaves it out.
	IALSWeight  float64
	IALSFactors int
	// Pop lowers the final score by Pop standard deviations per standard
	// deviation of log(1+degree): z(score) − Pop·z(log(1+degree)).
	Pop float64
	// UKNNWeight is the share of the user-neighbour part (userknn.go) in
	// the mix (1−w)·z(filter and iALS) + w·z(neighbours); 0 leaves it out.
	// UKNNK is its neighbour count. Files saved before session 11 have
	// neither and load with the part off.
	UKNNWeight float64
	UKNNK      int
}

type state struct {
	N int
	B []float32 // row-major n×n: B[i*n+j] is how much item i votes for item j
	// Recency is the history bonus in use: Config.Recency, or the value
	// chosen by Fit when that is -1 (auto).
	Recency float64
	// Out scales every item's score (the popularity correction).
	Out []float32
	// The training rows, used for a known user queried without History.
	UserPtr []int
	Items   []int32
	Weights []float32
	// IALS is the factor part's own Save output (nil without one).
	IALS []byte
}

// New builds the model. Params (defaults chosen on validation splits only;
// see docs/benchmarks.md):
//   - lambda (default 0: 60·√(mean item degree), i.e. ~970 on ML-1M, ~410 on
//     ML-100k, ~280 on Office): L2 penalty of the EASE part, expressed for
//     the plain Gram XᵀX and rescaled by the ratio of mean diagonals, so it
//     keeps its meaning when beta or user_exp change. Validation preferred
//     more shrinkage on denser data; the square root of the mean degree
//     follows the three validation optima within their grid steps;
//   - beta (default 0.25): the EASE part learns on X·D^-beta (D the item
//     degrees), so popular items weigh less as inputs and targets;
//   - user_exp (default 0): user u's interactions weigh |u|^-user_exp in
//     the EASE Gram, so heavy users dominate it less;
//   - delta (default 0.1): final scores are multiplied by degree^-delta;
//   - gf_weight (default 0.6): weight of the GF-CF filter blended in,
//     relative to the EASE part after both are scaled to unit Frobenius norm
//     (0 leaves it out and saves its eigenvectors);
//   - gf_k (default 128), gf_alpha (default 0.3): GF-CF's low-pass rank and
//     weight;
//   - recency (default 0), decay (default 0.5): the t-th newest history
//     item (t = 0 for the newest) counts 1 + recency·decay^t, so the latest
//     clicks count more; the bonus is a fixed amount, so it matters for
//     short histories and fades in long ones. With -1 Fit first fits on the
//     data without each user's newest interaction and keeps the bonus among
//     recencyChoices that predicts those best (HR@10), which costs a second
//     fit. -1 is right when the task is the next interaction (a shop); it is
//     wrong for protocols that hold out random interactions (ML-100k's
//     folds), which is why it is not the default;
//   - max_items (default 20000): Fit refuses a bigger catalogue (memory
//     about 24·n² bytes while fitting);
//   - use_weights (default 1): use Dataset.Weights as matrix values;
//   - ials_weight (default DefaultIALSWeight), ials_factors (default 64):
//     an iALS model (package mf, its defaults otherwise) is fitted on the
//     same data and mixed in at score level, each model's scores
//     standardised over the catalogue: (1−w)·z(filter) + w·z(iALS). The
//     factor model sees the same history through a low-rank summary, which
//     corrects the item-item filter where single co-occurrences mislead;
//     0 leaves it out (and saves its fit);
//   - pop (default 0): a popularity penalty on the final score, which is
//     standardised over the catalogue and lowered by pop·z(log(1+degree))
//     (degree the item's weighted training count); negative values favour
//     popular items. A query-time setting (Adjust), so a validation can
//     choose it on one fit; 0 leaves the scores as they were;
//   - uknn_weight (default DefaultUKNNWeight), uknn_k (default
//     DefaultUKNNK): the share and neighbour count of a user-based
//     nearest-neighbour part (userknn.go) mixed in at score level after
//     the iALS part: the k training users whose rows overlap the history
//     most vote for their items. 0 leaves it out. Scoring it costs about
//     the summed degree of the history's items per query.
func New(p model.Params) (*Filter, error) {
	v, err := hyper.Read(Name, p, []hyper.Spec{
		{Name: "lambda", Default: 0, Min: 0},
		{Name: "beta", Default: 0.25, Min: 0, Max: 1},
		{Name: "user_exp", Default: 0, Min: 0, Max: 2},
		{Name: "delta", Default: 0.1, Min: -1, Max: 1},
		{Name: "gf_weight", Default: 0.6, Min: 0, Max: 100},
		{Name: "gf_k", Default: 128, Min: 1, Max: 4096, Int: true},
		{Name: "gf_alpha", Default: 0.3, Min: 0, Max: 100},
		{Name: "recency", Default: 0, Min: -1, Max: 1000},
		{Name: "decay", Default: 0.5, Min: 0, Max: 1},
		{Name: "max_items", Default: 20000, Min: 1, Int: true},
		{Name: "use_weights", Default: 1, Min: 0, Max: 1, Int: true},
		{Name: "ials_weight", Default: DefaultIALSWeight, Min: 0, Max: 1},
		{Name: "ials_factors", Default: 64, Min: 1, Max: 1024, Int: true},
		{Name: "pop", Default: 0, Min: -maxPop, Max: maxPop},
		{Name: "uknn_weight", Default: DefaultUKNNWeight, Min: 0, Max: 1},
		{Name: "uknn_k", Default: DefaultUKNNK, Min: 1, Max: maxUKNNK, Int: true},
	})
	if err != nil {
		return nil, err
	}
	return &Filter{cfg: config{
		Lambda: v["lambda"], Beta: v["beta"], UserExp: v["user_exp"], Delta: v["delta"],
		GFWeight: v["gf_weight"], GFK: int(v["gf_k"]), GFAlpha: v["gf_alpha"],
		Recency: v["recency"], Decay: v["decay"], MaxItems: int(v["max_items"]), Weights: v["use_weights"] == 1,
		IALSWeight: v["ials_weight"], IALSFactors: int(v["ials_factors"]), Pop: v["pop"],
		UKNNWeight: v["uknn_weight"], UKNNK: int(v["uknn_k"]),
	}}, nil
}

// Name implements model.Model.
func (m *Filter) Name() string { return Name }

// LambdaScale sets the default ridge: LambdaScale·√(mean item degree).
const LambdaScale = 60

// PeakBytes estimates the memory Fit needs for n items.
func PeakBytes(n int) float64 { return 24 * float64(n) * float64(n) }

// Fit computes the filter matrix. Progress reports the stages gram, ease,
// graph filter and done (twice, after "choose recency", when recency is -1).
func (m *Filter) Fit(ctx context.Context, ds *model.Dataset, progress model.Progress) error {
	n := ds.NumItems()
	if n > m.cfg.MaxItems {
		return fmt.Errorf("%s: %d items exceed max_items=%d (memory grows with the square of the item count: about %.1f GB needed); raise max_items or use another model",
			Name, n, m.cfg.MaxItems, PeakBytes(n)/1e9)
	}
	if n == 0 {
		return fmt.Errorf("%s: the data set has no items", Name)
	}
	steps := 3
	if m.cfg.GFWeight > 0 {
		steps = 4
	}
	auto := m.cfg.Recency < 0
	if auto {
		steps = 2*steps + 1
	}
	if m.cfg.IALSWeight > 0 {
		steps++
	}
	step := 0
	report := func(stage string) {
		step++
		if progress != nil {
			progress(model.Status{Stage: stage, Epoch: step, Of: steps, Loss: math.NaN(), Metric: math.NaN()})
		}
	}
	recency := m.cfg.Recency
	if auto {
		inner, held := holdOutLast(ds)
		if len(held) == 0 {
			recency = 0
		} else {
			st, err := m.fit(ctx, inner, report)
			if err != nil {
				return err
			}
			recency = chooseRecency(&Filter{cfg: m.cfg, st: st}, inner, held)
			report("choose recency")
		}
	}
	st, err := m.fit(ctx, ds, report)
	if err != nil {
		return err
	}
	st.Recency = recency
	var fm *mf.IALS
	if m.cfg.IALSWeight > 0 {
		if fm, err = m.fitIALS(ctx, ds); err != nil {
			return err
		}
		report("ials")
	}
	m.st, m.ials = st, fm
	m.popZ = popularity(st)
	m.users = nil
	if m.cfg.UKNNWeight > 0 {
		m.users = newUserIndex(st)
	}
	return nil
}

// maxPop bounds the popularity penalty: beyond a few standard deviations
// it ranks by unpopularity alone.
const maxPop = 10

// popularity returns z(log(1+degree)) of every item from the training rows
// in st (weighted when st holds weights).
func popularity(st state) []float32 {
	deg := make([]float64, st.N)
	for j, it := range st.Items {
		x := 1.0
		if st.Weights != nil {
			x = float64(st.Weights[j])
		}
		if it >= 0 && int(it) < st.N {
			deg[it] += x
		}
	}
	out := make([]float32, st.N)
	for i, d := range deg {
		out[i] = float32(math.Log1p(max(d, 0)))
	}
	standardise(out)
	return out
}

// standardise rescales s to mean 0 and standard deviation 1 over its finite
// values (a constant s becomes 0); infinite or NaN values are left as they are.
func standardise(s []float32) {
	var n, sum, sq float64
	for _, v := range s {
		if !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) {
			n++
			sum += float64(v)
		}
	}
	if n == 0 {
		return
	}
	mean := sum / n
	for _, v := range s {
		if !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) {
			sq += (float64(v) - mean) * (float64(v) - mean)
		}
	}
	sd := math.Sqrt(sq / n)
	if sd == 0 {
		sd = 1
	}
	for i, v := range s {
		if !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) {
			s[i] = float32((float64(v) - mean) / sd)
		}
	}
}

// DefaultIALSWeight is the default share of the iALS part (chosen on the
// validation splits of ML-1M, ML-100k and Office; docs/benchmarks.md).
const DefaultIALSWeight = 0.4

func (m *Filter) newIALS() (*mf.IALS, error) {
	uw := 0.0
	if m.cfg.Weights {
		uw = 1
	}
	return mf.NewIALS(model.Params{"factors": float64(m.cfg.IALSFactors), "use_weights": uw})
}

func (m *Filter) fitIALS(ctx context.Context, ds *model.Dataset) (*mf.IALS, error) {
	fm, err := m.newIALS()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	if err := fm.Fit(ctx, ds, nil); err != nil {
		return nil, fmt.Errorf("%s: ials part: %w", Name, err)
	}
	return fm, nil
}

// fit computes the state (recency unset) on ds.
func (m *Filter) fit(ctx context.Context, ds *model.Dataset, report func(string)) (state, error) {
	n := ds.NumItems()
	// Item degrees (weighted counts), for the normalisations.
	deg := make([]float64, n)
	var uw []float64
	if m.cfg.UserExp != 0 {
		uw = make([]float64, ds.NumUsers())
	}
	rawMean := 0.0 // mean diagonal of the plain Gram XᵀX
	for u := range ds.NumUsers() {
		tot := 0.0
		for j := ds.UserPtr[u]; j < ds.UserPtr[u+1]; j++ {
			it := ds.Items[j]
			if it < 0 || int(it) >= n {
				return state{}, fmt.Errorf("%s: interaction %d: item %d out of range [0, %d)", Name, j, it, n)
			}
			x := 1.0
			if m.cfg.Weights && ds.Weights != nil {
				x = float64(ds.Weights[j])
			}
			deg[it] += x
			tot += x
			rawMean += x * x
		}
		if uw != nil && tot > 0 {
			uw[u] = math.Pow(tot, -m.cfg.UserExp)
		}
	}
	rawMean /= float64(n)
	g, err := gram.Of(ctx, ds, m.cfg.Weights, uw)
	if err != nil {
		return state{}, fmt.Errorf("%s: %w", Name, err)
	}
	report("gram")

	// EASE on W^½·X·D^-beta: G' = D^-beta XᵀWX D^-beta; lambda is rescaled by
	// the ratio of mean diagonals of G' and XᵀX so it means the same for
	// every beta and user_exp.
	sc := make([]float64, n)
	for i := range n {
		sc[i] = 1
		if deg[i] > 0 {
			sc[i] = math.Pow(deg[i], -m.cfg.Beta)
		}
	}
	md2 := 0.0
	for i := range n {
		row := g[i*n : (i+1)*n]
		for j := range row {
			row[j] *= sc[i] * sc[j]
		}
		md2 += row[i]
	}
	md2 /= float64(n)
	lam := m.cfg.Lambda
	if lam == 0 {
		lam = LambdaScale * math.Sqrt(rawMean)
	}
	if rawMean > 0 && md2 > 0 {
		lam *= md2 / rawMean
	}
	reg := make([]float64, n)
	for i := range reg {
		reg[i] = lam
	}
	b, err := easeWeights(ctx, g, n, reg)
	g = nil
	if err != nil {
		return state{}, fmt.Errorf("%s: %w", Name, err)
	}
	// Back to raw inputs and outputs: B = D^-beta B' D^beta.
	for i := range n {
		row := b[i*n : (i+1)*n]
		for j := range row {
			row[j] *= float32(sc[i] / sc[j])
		}
	}
	report("ease")

	if m.cfg.GFWeight > 0 {
		gf, err := graphFilter(ctx, ds, m.cfg.Weights, min(m.cfg.GFK, n), m.cfg.GFAlpha)
		if err != nil {
			return state{}, fmt.Errorf("%s: graph filter: %w", Name, err)
		}
		ne, ng := frobenius(b), frobenius(gf)
		if ne > 0 && ng > 0 {
			w := float32(m.cfg.GFWeight * ne / ng)
			for i, v := range gf {
				b[i] += w * v
			}
		}
		report("graph filter")
	}

	out := make([]float32, n)
	for i := range out {
		out[i] = 1
		if deg[i] > 0 && m.cfg.Delta != 0 {
			out[i] = float32(math.Pow(deg[i], -m.cfg.Delta))
		}
	}
	st := state{N: n, B: b, Out: out, UserPtr: slices.Clone(ds.UserPtr), Items: slices.Clone(ds.Items)}
	if m.cfg.Weights && ds.Weights != nil {
		st.Weights = slices.Clone(ds.Weights)
	}
	report("done")
	return st, nil
}

// graphFilter is GF-CF (Shen et al., CIKM 2021) as an item-item matrix:
// P̃ + alpha·D^-1/2 V Vᵀ D^1/2, with P̃ = R̃ᵀR̃ the normalised item Gram and V
// its k leading eigenvectors (the ideal low-pass filter).
func graphFilter(ctx context.Context, ds *model.Dataset, weights bool, k int, alpha float64) ([]float32, error) {
	n := ds.NumItems()
	p, deg, err := normalised(ctx, ds, weights)
	if err != nil {
		return nil, err
	}
	out := make([]float32, n*n)
	for i, v := range p {
		out[i] = float32(v)
	}
	if alpha == 0 {
		return out, nil
	}
	v, err := topEigen(ctx, p, n, k, 6, 1)
	if err != nil {
		return nil, err
	}
	p = nil
	raw := v.RawMatrix()
	for i := range n {
		if deg[i] == 0 {
			continue
		}
		vi := raw.Data[i*raw.Stride : i*raw.Stride+k]
		row := out[i*n : (i+1)*n]
		for j := range n {
			if deg[j] == 0 {
				continue
			}
			vj := raw.Data[j*raw.Stride : j*raw.Stride+k]
			dot := 0.0
			for c, x := range vi {
				dot += x * vj[c]
			}
			row[j] += float32(alpha * dot * math.Sqrt(deg[j]/deg[i]))
		}
		if i%64 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return out, nil
}

func frobenius(b []float32) float64 {
	s := 0.0
	for _, v := range b {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// Score is the (weighted, recency-decayed) history row times B, times the
// popularity correction, mixed with the other parts (finish). When
// q.History is empty and q.User is a training user, the user's training
// row is the history.
func (m *Filter) Score(q model.Query, scores []float32) {
	clear(scores)
	n := m.st.N
	if len(scores) < n {
		return
	}
	hist, hw := m.history(q)
	s := m.settings()
	m.filterPass(hist, hw, s.recency, s.decay, scores[:n])
	var ials, users []float32
	if m.ials != nil && s.ials > 0 {
		ials = m.ialsScores(q)
	}
	if m.users != nil && s.uknn > 0 {
		users = make([]float32, n)
		m.userScores(q, hist, users)
	}
	m.finish(scores[:n], ials, users, s)
}

// history returns the history q is scored from and its weights: the
// training row of a known user queried without one.
func (m *Filter) history(q model.Query) ([]int32, []float32) {
	hist, hw := q.History, q.HistoryWeights
	if len(hist) == 0 && q.User >= 0 && int(q.User) < len(m.st.UserPtr)-1 {
		lo, hi := m.st.UserPtr[q.User], m.st.UserPtr[q.User+1]
		hist = m.st.Items[lo:hi]
		hw = nil
		if m.st.Weights != nil {
			hw = m.st.Weights[lo:hi]
		}
	}
	return hist, hw
}

// filterPass adds the history's rows of B, the t-th newest weighing
// 1 + recency·decay^t (times its weight), into scores (length n), then
// applies the popularity correction.
func (m *Filter) filterPass(hist []int32, hw []float32, recency, decay float64, scores []float32) {
	n := m.st.N
	bonus := float32(recency)
	for j := len(hist) - 1; j >= 0; j-- {
		h := hist[j]
		wh := 1 + bonus
		bonus *= float32(decay)
		if h < 0 || int(h) >= n {
			continue
		}
		if hw != nil && m.cfg.Weights && j < len(hw) {
			wh *= hw[j]
		}
		row := m.st.B[int(h)*n : (int(h)+1)*n]
		for i, v := range row {
			scores[i] += wh * v
		}
	}
	for i, o := range m.st.Out {
		scores[i] *= o
	}
}

// ialsScores returns the factor part's scores of q (length n).
func (m *Filter) ialsScores(q model.Query) []float32 {
	out := make([]float32, m.st.N)
	m.ials.Score(q, out)
	return out
}

// userScores writes the user-neighbour part's votes for hist into out
// (length n).
func (m *Filter) userScores(q model.Query, hist []int32, out []float32) {
	self := int32(-1)
	if q.User >= 0 && int(q.User) < len(m.st.UserPtr)-1 {
		self = q.User
	}
	m.users.score(&m.st, hist, self, m.cfg.UKNNK, out)
}

// finish mixes the filter's scores (length n) with the other parts
// (mix), then applies s's popularity penalty (penalise).
func (m *Filter) finish(scores, ials, users []float32, s settings) {
	m.mix(scores, ials, users, s)
	m.penalise(scores, s)
}

// mix mixes the filter's scores (length n) with the factor part's (ials,
// nil without it) and the neighbour part's (users, nil without it) at s's
// shares. ials and users are read, not written.
func (m *Filter) mix(scores, ials, users []float32, s settings) {
	if ials != nil && s.ials > 0 {
		blend.Mix(scores, ials, s.ials)
	}
	if users != nil && s.uknn > 0 {
		blend.Mix(scores, users, s.uknn)
	}
}

// penalise applies s's popularity penalty to the mixed scores (length n).
func (m *Filter) penalise(scores []float32, s settings) {
	if s.pop != 0 && len(m.popZ) == len(scores) {
		standardise(scores)
		p := float32(s.pop)
		for i, z := range m.popZ {
			scores[i] -= p * z
		}
	}
}

// Similar writes row item of B: how strongly the item predicts every other.
func (m *Filter) Similar(item int32, scores []float32) {
	clear(scores)
	if item < 0 || int(item) >= m.st.N {
		return
	}
	copy(scores, m.st.B[int(item)*m.st.N:(int(item)+1)*m.st.N])
}

type saved struct {
	Config config
	State  state
}

// Save implements model.Model.
func (m *Filter) Save(w io.Writer) error {
	st := m.st
	if m.ials != nil {
		var buf bytes.Buffer
		if err := m.ials.Save(&buf); err != nil {
			return fmt.Errorf("save %s: ials part: %w", Name, err)
		}
		st.IALS = buf.Bytes()
	}
	return hyper.Save(w, Name, formatVersion, saved{Config: m.cfg, State: st})
}

// Load implements model.Model. It rejects a file whose matrices do not
// match its item count, so a corrupt file fails here and not in Score.
func (m *Filter) Load(r io.Reader) error {
	var s saved
	if err := hyper.Load(r, Name, formatVersion, &s); err != nil {
		return err
	}
	n := s.State.N
	if n < 0 || n > 1<<20 || len(s.State.B) != n*n {
		return fmt.Errorf("load %s: weight matrix has %d values, want %d", Name, len(s.State.B), n*n)
	}
	if len(s.State.Out) != n {
		return fmt.Errorf("load %s: %d output scales for %d items", Name, len(s.State.Out), n)
	}
	if err := hyper.CheckCSR(s.State.UserPtr, s.State.Items, s.State.Weights, n); err != nil {
		return fmt.Errorf("load %s: training rows: %w", Name, err)
	}
	if !(s.Config.Decay >= 0 && s.Config.Decay <= 1) || !(s.State.Recency >= 0 && s.State.Recency <= 1000) {
		return fmt.Errorf("load %s: recency %v or decay %v out of range", Name, s.State.Recency, s.Config.Decay)
	}
	if !(s.Config.IALSWeight >= 0 && s.Config.IALSWeight <= 1) {
		return fmt.Errorf("load %s: ials_weight %v out of range [0, 1]", Name, s.Config.IALSWeight)
	}
	var fm *mf.IALS
	if len(s.State.IALS) > 0 {
		m2 := &Filter{cfg: s.Config}
		var err error
		if fm, err = m2.newIALS(); err != nil {
			return fmt.Errorf("load %s: %w", Name, err)
		}
		if err := fm.Load(bytes.NewReader(s.State.IALS)); err != nil {
			return fmt.Errorf("load %s: ials part: %w", Name, err)
		}
		if d, v := fm.ItemVectors(); d <= 0 || len(v) != d*n {
			return fmt.Errorf("load %s: ials part has %d item vectors of %d, want %d items", Name, len(v)/max(d, 1), d, n)
		}
		s.State.IALS = nil
	} else if s.Config.IALSWeight > 0 {
		return fmt.Errorf("load %s: ials_weight %v but no ials part", Name, s.Config.IALSWeight)
	}
	if !(s.Config.Pop >= -maxPop && s.Config.Pop <= maxPop) {
		return fmt.Errorf("load %s: pop %v out of range [%v, %v]", Name, s.Config.Pop, -maxPop, maxPop)
	}
	if !(s.Config.UKNNWeight >= 0 && s.Config.UKNNWeight <= 1) || s.Config.UKNNK < 0 || s.Config.UKNNK > maxUKNNK {
		return fmt.Errorf("load %s: uknn_weight %v or uknn_k %d out of range", Name, s.Config.UKNNWeight, s.Config.UKNNK)
	}
	m.cfg, m.st, m.ials = s.Config, s.State, fm
	m.popZ = popularity(s.State)
	m.users = nil
	if m.cfg.UKNNWeight > 0 {
		m.users = newUserIndex(m.st)
	}
	return nil
}

// Params reports the effective hyper-parameters; after Fit, recency is the
// bonus in use (the chosen one when it was -1).
func (m *Filter) Params() model.Params {
	recency := m.cfg.Recency
	if m.st.B != nil {
		recency = m.st.Recency
	}
	uw := 0.0
	if m.cfg.Weights {
		uw = 1
	}
	return model.Params{"lambda": m.cfg.Lambda, "beta": m.cfg.Beta, "user_exp": m.cfg.UserExp, "delta": m.cfg.Delta,
		"gf_weight": m.cfg.GFWeight, "gf_k": float64(m.cfg.GFK), "gf_alpha": m.cfg.GFAlpha,
		"recency": recency, "decay": m.cfg.Decay, "max_items": float64(m.cfg.MaxItems), "use_weights": uw,
		"ials_weight": m.cfg.IALSWeight, "ials_factors": float64(m.cfg.IALSFactors), "pop": m.cfg.Pop,
		"uknn_weight": m.cfg.UKNNWeight, "uknn_k": float64(m.cfg.UKNNK)}
}

// TuneGrid is the search space for a bounded hyper-parameter search.
func (m *Filter) TuneGrid() map[string][]float64 {
	return map[string][]float64{
		"lambda":      {0, 250, 500, 1000, 2000},
		"beta":        {0, 0.25, 0.5},
		"delta":       {0, 0.1, 0.2},
		"recency":     {0, -1},
		"gf_weight":   {0, 0.3, 0.6, 1},
		"ials_weight": {0, 0.4},
	}
}

// The query-time grid a validation tries (eval's runner scores every
// combination, at most 64: 4 × 4 × 4 with an iALS part, 4 × 4 without).
// Chosen on the validation splits of ML-1M, ML-100k and Office (session 8,
// docs/benchmarks.md "Research numbers (session 8)"): ML-100k wanted shares
// above session 7's top of 0.6, Office a popularity penalty of 0.3–0.5,
// ML-1M neither; the history bonus keeps a ×8 spacing so the grid stays
// exhaustive. Decay is adjustable but not offered: on Office's validation
// 0.25 and 0.5 were equal and 0.75 worse.
var (
	adjustRecency = []float64{0, 1, 8, 64}
	ialsChoices   = []float64{0.3, 0.4, 0.6, 0.8}
	popChoices    = []float64{0, 0.1, 0.3, 0.5}
)

// Adjustments implements model.Adjustable: the history bonus (recency),
// the popularity penalty (pop) and, when the model is configured with an
// iALS part, its share only change how a fitted model scores, so a
// validation can choose them on one fit (eval's runner does, on the
// validation split).
func (m *Filter) Adjustments() map[string][]float64 {
	out := map[string][]float64{"recency": slices.Clone(adjustRecency), "pop": slices.Clone(popChoices)}
	if m.cfg.IALSWeight > 0 {
		out["ials_weight"] = slices.Clone(ialsChoices)
	}
	return out
}

// Adjust implements model.Adjustable: it sets recency (≥ 0, at most 1000),
// decay (in [0, 1]), pop (in [-10, 10]), ials_weight (in (0, 1], only
// with an iALS part) and uknn_weight (in [0, 1], only when the model was
// fitted with a user-neighbour part; not offered by Adjustments) on the
// fitted model.
// It must not run concurrently with Score.
func (m *Filter) Adjust(p model.Params) error {
	s, err := m.with(m.settings(), p)
	if err != nil {
		return err
	}
	m.st.Recency, m.cfg.Decay, m.cfg.IALSWeight, m.cfg.UKNNWeight, m.cfg.Pop = s.recency, s.decay, s.ials, s.uknn, s.pop
	return nil
}

// settings are the query-time settings (Adjust) of a fitted model.
type settings struct {
	recency, decay float64 // the history bonus and its decay
	ials, uknn     float64 // the factor and neighbour parts' shares
	pop            float64 // the popularity penalty
}

// settings returns the settings in force.
func (m *Filter) settings() settings {
	return settings{recency: m.st.Recency, decay: m.cfg.Decay, ials: m.cfg.IALSWeight, uknn: m.cfg.UKNNWeight, pop: m.cfg.Pop}
}

// with returns s with p set, or why Adjust rejects p.
func (m *Filter) with(s settings, p model.Params) (settings, error) {
	for k, v := range p {
		switch k {
		case "recency":
			if !(v >= 0 && v <= 1000) {
				return s, fmt.Errorf("%s: recency %v out of range [0, 1000]", Name, v)
			}
		case "decay":
			if !(v >= 0 && v <= 1) {
				return s, fmt.Errorf("%s: decay %v out of range [0, 1]", Name, v)
			}
		case "ials_weight":
			if m.ials == nil || !(v > 0 && v <= 1) {
				return s, fmt.Errorf("%s: ials_weight %v: needs an iALS part and a share in (0, 1]", Name, v)
			}
		case "pop":
			if !(v >= -maxPop && v <= maxPop) {
				return s, fmt.Errorf("%s: pop %v out of range [%v, %v]", Name, v, -maxPop, maxPop)
			}
		case "uknn_weight":
			if m.users == nil || !(v >= 0 && v <= 1) {
				return s, fmt.Errorf("%s: uknn_weight %v: needs a model fitted with a user-neighbour part and a share in [0, 1]", Name, v)
			}
		default:
			return s, fmt.Errorf("%s: %q is not a query-time setting (recency, decay, ials_weight, pop, uknn_weight)", Name, k)
		}
	}
	for k, v := range p {
		switch k {
		case "recency":
			s.recency = v
		case "decay":
			s.decay = v
		case "pop":
			s.pop = v
		case "uknn_weight":
			s.uknn = v
		default:
			s.ials = v
		}
	}
	return s, nil
}

// recencyChoices are the history bonuses Fit tries when recency is -1.
var recencyChoices = []float64{0, 1, 2, 4, 8, 16, 32, 64}

// holdOutLast returns ds without the newest interaction of every user with
// at least three, and those held-out items (user, item), for at most 5,000
// users spread evenly over the user range.
func holdOutLast(ds *model.Dataset) (*model.Dataset, [][2]int32) {
	nu := ds.NumUsers()
	eligible := 0
	for u := range nu {
		if ds.UserPtr[u+1]-ds.UserPtr[u] >= 3 {
			eligible++
		}
	}
	every := max(1, eligible/5000)
	in := &model.Dataset{UserIDs: ds.UserIDs, ItemIDs: ds.ItemIDs, UserPtr: make([]int, 1, nu+1)}
	var held [][2]int32
	k := 0
	for u := range nu {
		lo, hi := ds.UserPtr[u], ds.UserPtr[u+1]
		if hi-lo >= 3 {
			if k%every == 0 {
				held = append(held, [2]int32{int32(u), ds.Items[hi-1]})
				hi--
			}
			k++
		}
		in.Items = append(in.Items, ds.Items[lo:hi]...)
		if ds.Weights != nil {
			in.Weights = append(in.Weights, ds.Weights[lo:hi]...)
		}
		in.UserPtr = append(in.UserPtr, len(in.Items))
	}
	return in, held
}

// chooseRecency returns the bonus of recencyChoices whose scores rank the
// held-out items best (HR@10, history excluded); ties keep the smaller.
func chooseRecency(m *Filter, ds *model.Dataset, held [][2]int32) float64 {
	n := ds.NumItems()
	scores := make([]float32, n)
	best, bestHits := 0.0, -1
	for _, r := range recencyChoices {
		m.st.Recency = r
		hits := 0
		for _, h := range held {
			u := h[0]
			row := ds.Row(int(u))
			m.Score(model.Query{User: u}, scores)
			for _, it := range row {
				scores[it] = float32(math.Inf(-1))
			}
			target := scores[h[1]]
			if math.IsInf(float64(target), -1) {
				continue
			}
			above := 0
			for _, v := range scores {
				if v > target {
					above++
				}
			}
			if above < 10 {
				hits++
			}
		}
		if hits > bestHits {
			best, bestHits = r, hits
		}
	}
	return best
}
