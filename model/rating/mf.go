package rating

import (
	"context"
	"io"
	"math"
	"math/rand/v2"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/internal/hyper"
)

// mfSpecs are BiasedMF's hyper-parameters. Defaults: what --tune picked on
// the ML-100k validation split.
var mfSpecs = []hyper.Spec{
	{Name: "factors", Default: 100, Min: 1, Max: 1024, Int: true},
	{Name: "epochs", Default: 80, Min: 1, Max: 1000, Int: true},
	{Name: "lr", Default: 0.005, Min: 1e-6, Max: 1},
	{Name: "reg", Default: 0.1, Min: 0, Max: 10},       // L2 on the factors
	{Name: "reg_bias", Default: 0.01, Min: 0, Max: 10}, // L2 on the biases
	{Name: "init_std", Default: 0.1, Min: 0, Max: 1},
	{Name: "negatives", Default: 4, Min: 0, Max: 100, Int: true}, // per interaction, only without ratings
	{Name: "seed", Default: 1, Min: 0, Int: true},
}

// mfVersion is the Save format version of BiasedMF.
const mfVersion = 1

// BiasedMF is matrix factorisation for explicit ratings:
// r̂ = μ + b_u + b_i + p_u·q_i, trained by SGD on squared error with L2.
type BiasedMF struct {
	p     model.Params
	state mfState
}

type mfState struct {
	Params     model.Params
	Dim        int
	Mean       float32
	Lo, Hi     float32
	UserBias   []float32
	ItemBias   []float32
	UserFactor []float32 // users × Dim
	ItemFactor []float32 // items × Dim
}

// NewBiasedMF builds an untrained BiasedMF; see mfSpecs for parameters.
func NewBiasedMF(p model.Params) (model.Model, error) {
	rp, err := hyper.Read("biased-mf", p, mfSpecs)
	if err != nil {
		return nil, err
	}
	return &BiasedMF{p: rp}, nil
}

// Name is "biased-mf".
func (m *BiasedMF) Name() string { return "biased-mf" }

// Params returns the effective hyper-parameters.
func (m *BiasedMF) Params() model.Params { return cloneParams(m.p) }

// TuneGrid is the search space for --tune.
func (m *BiasedMF) TuneGrid() map[string][]float64 {
	return map[string][]float64{"reg": {0.05, 0.1, 0.2}, "lr": {0.0025, 0.01}, "factors": {20, 200}, "epochs": {20, 40, 120}}
}

// Fit trains on ds.Ratings; without ratings every interaction is a 1 and
// "negatives" random items per interaction are 0s.
func (m *BiasedMF) Fit(ctx context.Context, ds *model.Dataset, progress model.Progress) error {
	d := int(m.p["factors"])
	epochs := int(m.p["epochs"])
	lr, reg, regB := float32(m.p["lr"]), float32(m.p["reg"]), float32(m.p["reg_bias"])
	rng := rand.New(rand.NewPCG(uint64(m.p["seed"]), 11))
	nu, ni := ds.NumUsers(), ds.NumItems()
	s := mfState{Params: cloneParams(m.p), Dim: d, UserBias: make([]float32, nu), ItemBias: make([]float32, ni),
		UserFactor: make([]float32, nu*d), ItemFactor: make([]float32, ni*d)}
	neg := int(m.p["negatives"])
	s.Mean, s.Lo, s.Hi = ratingStats(ds, neg)
	std := m.p["init_std"]
	for i := range s.UserFactor {
		s.UserFactor[i] = float32(rng.NormFloat64() * std)
	}
	for i := range s.ItemFactor {
		s.ItemFactor[i] = float32(rng.NormFloat64() * std)
	}
	users := userOf(ds)
	var samples []sample
	for ep := 1; ep <= epochs; ep++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		samples = epochSamples(ds, users, neg, rng, samples)
		var sse float64
		for n, smp := range samples {
			if n%65536 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			u, i := int(smp.u), int(smp.i)
			pu, qi := s.UserFactor[u*d:(u+1)*d], s.ItemFactor[i*d:(i+1)*d]
			e := smp.r - (s.Mean + s.UserBias[u] + s.ItemBias[i] + dot(pu, qi))
			sse += float64(e * e)
			s.UserBias[u] += lr * (e - regB*s.UserBias[u])
			s.ItemBias[i] += lr * (e - regB*s.ItemBias[i])
			for f := 0; f < d; f++ {
				pf, qf := pu[f], qi[f]
				pu[f] += lr * (e*qf - reg*pf)
				qi[f] += lr * (e*pf - reg*qf)
			}
		}
		if progress != nil {
			progress(model.Status{Stage: "epoch", Epoch: ep, Of: epochs, Loss: math.Sqrt(sse / float64(max(len(samples), 1))), Metric: math.NaN()})
		}
	}
	m.state = s
	return nil
}

// PredictRating predicts user u's rating of item i, clipped to the
// training range; u < 0 (unknown user) gets μ + b_i.
func (m *BiasedMF) PredictRating(u, i int32) float32 {
	s := &m.state
	r := s.Mean + s.ItemBias[i]
	if u >= 0 && int(u) < len(s.UserBias) {
		d := s.Dim
		r += s.UserBias[u] + dot(s.UserFactor[int(u)*d:int(u+1)*d], s.ItemFactor[int(i)*d:int(i+1)*d])
	}
	return clamp(r, s.Lo, s.Hi)
}

// Score writes the predicted rating of every item (unclipped, so ties at
// the top of the scale still rank).
func (m *BiasedMF) Score(q model.Query, scores []float32) {
	s := &m.state
	d := s.Dim
	known := q.User >= 0 && int(q.User) < len(s.UserBias)
	for i := range scores {
		r := s.Mean + s.ItemBias[i]
		if known {
			r += s.UserBias[q.User] + dot(s.UserFactor[int(q.User)*d:int(q.User+1)*d], s.ItemFactor[i*d:(i+1)*d])
		}
		scores[i] = r
	}
}

// Save writes the fitted model.
func (m *BiasedMF) Save(w io.Writer) error { return hyper.Save(w, "biased-mf", mfVersion, &m.state) }

// Load reads what Save wrote.
func (m *BiasedMF) Load(r io.Reader) error {
	var s mfState
	if err := hyper.Load(r, "biased-mf", mfVersion, &s); err != nil {
		return err
	}
	m.state, m.p = s, s.Params
	return nil
}
