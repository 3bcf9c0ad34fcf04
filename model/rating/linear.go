package rating

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/internal/hyper"
)

// linearSpecs are Linear's hyper-parameters.
var linearSpecs = []hyper.Spec{
	{Name: "epochs", Default: 30, Min: 1, Max: 1000, Int: true},
	{Name: "lr", Default: 0.01, Min: 1e-6, Max: 1},
	{Name: "reg", Default: 0.02, Min: 0, Max: 10},          // L2 on the one-hot weights
	{Name: "reg_cross", Default: 0.1, Min: 0, Max: 10},     // L2 on the user×attribute weights
	{Name: "cross", Default: 1, Min: 0, Max: 1, Int: true}, // 1: learn user×attribute weights
	{Name: "negatives", Default: 4, Min: 0, Max: 100, Int: true},
	{Name: "seed", Default: 1, Min: 0, Int: true},
}

// maxCross bounds users × attributes weights (400 MB of float32).
const maxCross = 100_000_000

const linearVersion = 1

// Linear is a linear model over one-hot features of the pair (user, item):
// a global bias, the user, the item, each attribute of the item (category,
// brand, genre…), each user×attribute pair (the user's taste for that
// category), and two numeric context features: log item popularity and log
// user activity. With ratings it is a linear regression on squared error
// predicting the rating; without, a logistic regression predicting the
// probability of an interaction, trained against sampled negatives. Trained
// by SGD with L2. Cheap to score, it suits a ranking stage.
type Linear struct {
	p  model.Params
	st linearState
}

type linearState struct {
	Params    model.Params
	Logistic  bool
	Lo, Hi    float32
	Bias      float32
	UserW     []float32
	ItemW     []float32
	AttrW     []float32
	Cross     []float32 // users × NumAttrs, nil when off
	NumAttrs  int
	ItemAttrs [][]int32
	PopW      float32
	ActW      float32
	ItemPop   []float32 // log(1+count) per item
	UserAct   []float32 // log(1+count) per user
}

// NewLinear builds an untrained Linear model.
func NewLinear(p model.Params) (model.Model, error) {
	rp, err := hyper.Read("linear", p, linearSpecs)
	if err != nil {
		return nil, err
	}
	return &Linear{p: rp}, nil
}

// Name is "linear".
func (m *Linear) Name() string { return "linear" }

// Params returns the effective hyper-parameters.
func (m *Linear) Params() model.Params { return cloneParams(m.p) }

// TuneGrid is the search space for --tune.
func (m *Linear) TuneGrid() map[string][]float64 {
	return map[string][]float64{"reg": {0.005, 0.05}, "reg_cross": {0.02, 0.5}, "lr": {0.003, 0.03}, "epochs": {10, 60}}
}

// z is the linear score (before the logistic link) of user u and item i.
func (s *linearState) z(u int32, i int) float32 {
	z := s.Bias + s.ItemW[i] + s.PopW*s.ItemPop[i]
	known := u >= 0 && int(u) < len(s.UserW)
	if known {
		z += s.UserW[u] + s.ActW*s.UserAct[u]
	}
	if s.ItemAttrs != nil && len(s.ItemAttrs[i]) > 0 {
		attrs := s.ItemAttrs[i]
		scale := 1 / float32(math.Sqrt(float64(len(attrs))))
		var sum float32
		for _, a := range attrs {
			sum += s.AttrW[a]
			if known && s.Cross != nil {
				sum += s.Cross[int(u)*s.NumAttrs+int(a)]
			}
		}
		z += sum * scale
	}
	return z
}

func (s *linearState) out(z float32) float32 {
	if s.Logistic {
		return float32(1 / (1 + math.Exp(-float64(z))))
	}
	return z
}

// Fit trains on ds.Ratings (linear regression), or on the interactions and
// sampled negatives (logistic regression) when ds has no ratings.
func (m *Linear) Fit(ctx context.Context, ds *model.Dataset, progress model.Progress) error {
	nu, ni := ds.NumUsers(), ds.NumItems()
	rng := rand.New(rand.NewPCG(uint64(m.p["seed"]), 23))
	neg := int(m.p["negatives"])
	s := linearState{Params: cloneParams(m.p), Logistic: ds.Ratings == nil, UserW: make([]float32, nu), ItemW: make([]float32, ni),
		ItemPop: make([]float32, ni), UserAct: make([]float32, nu)}
	var mean float32
	mean, s.Lo, s.Hi = ratingStats(ds, neg)
	s.Bias = mean
	if s.Logistic {
		s.Bias = float32(math.Log(float64(mean) / float64(1-mean)))
	}
	if ds.ItemAttrs != nil && ds.NumAttrs > 0 {
		s.ItemAttrs, s.NumAttrs = ds.ItemAttrs, ds.NumAttrs
		s.AttrW = make([]float32, s.NumAttrs)
		if m.p["cross"] == 1 {
			if nu*s.NumAttrs > maxCross {
				return fmt.Errorf("linear: %d users × %d attributes is too many user×attribute weights; set cross=0", nu, s.NumAttrs)
			}
			s.Cross = make([]float32, nu*s.NumAttrs)
		}
	}
	counts := make([]float64, ni)
	for _, it := range ds.Items {
		counts[it]++
	}
	for i, c := range counts {
		s.ItemPop[i] = float32(math.Log1p(c))
	}
	for u := 0; u < nu; u++ {
		s.UserAct[u] = float32(math.Log1p(float64(len(ds.Row(u)))))
	}
	lr, reg, regX := float32(m.p["lr"]), float32(m.p["reg"]), float32(m.p["reg_cross"])
	epochs := int(m.p["epochs"])
	users := userOf(ds)
	var samples []sample
	for ep := 1; ep <= epochs; ep++ {
		samples = epochSamples(ds, users, neg, rng, samples)
		var loss float64
		for n, smp := range samples {
			if n%65536 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			u, i := smp.u, int(smp.i)
			p := s.out(s.z(u, i))
			// Both losses have gradient (prediction − target) w.r.t. z.
			g := p - smp.r
			if s.Logistic {
				pc := min(max(float64(p), 1e-7), 1-1e-7)
				if smp.r > 0 {
					loss -= math.Log(pc)
				} else {
					loss -= math.Log(1 - pc)
				}
			} else {
				loss += float64(g) * float64(g)
			}
			s.Bias -= lr * g
			s.UserW[u] -= lr * (g + reg*s.UserW[u])
			s.ItemW[i] -= lr * (g + reg*s.ItemW[i])
			s.PopW -= lr * 0.1 * g * s.ItemPop[i]
			s.ActW -= lr * 0.1 * g * s.UserAct[u]
			if s.ItemAttrs != nil && len(s.ItemAttrs[i]) > 0 {
				scale := 1 / float32(math.Sqrt(float64(len(s.ItemAttrs[i]))))
				for _, a := range s.ItemAttrs[i] {
					s.AttrW[a] -= lr * (g*scale + reg*s.AttrW[a])
					if s.Cross != nil {
						x := &s.Cross[int(u)*s.NumAttrs+int(a)]
						*x -= lr * (g*scale + regX**x)
					}
				}
			}
		}
		if progress != nil {
			l := loss / float64(max(len(samples), 1))
			if !s.Logistic {
				l = math.Sqrt(l)
			}
			progress(model.Status{Stage: "epoch", Epoch: ep, Of: epochs, Loss: l, Metric: math.NaN()})
		}
	}
	m.st = s
	return nil
}

// PredictRating predicts the rating (or interaction probability) of user u
// for item i, clipped to the training range.
func (m *Linear) PredictRating(u, i int32) float32 {
	return clamp(m.st.out(m.st.z(u, int(i))), m.st.Lo, m.st.Hi)
}

// Score writes the prediction for every item.
func (m *Linear) Score(q model.Query, scores []float32) {
	for i := range scores {
		scores[i] = m.st.out(m.st.z(q.User, i))
	}
}

// Save writes the fitted model.
func (m *Linear) Save(w io.Writer) error { return hyper.Save(w, "linear", linearVersion, &m.st) }

// Load reads what Save wrote.
func (m *Linear) Load(r io.Reader) error {
	var s linearState
	if err := hyper.Load(r, "linear", linearVersion, &s); err != nil {
		return err
	}
	m.st, m.p = s, s.Params
	return nil
}
