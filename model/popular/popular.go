// Package popular is the popularity baseline: every user gets the same list,
// items ranked by their summed interaction weight, optionally decayed
// exponentially with the age of each interaction so that recent interest
// counts more (a "trending" list).
package popular

import (
	"context"
	"fmt"
	"io"
	"math"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/internal/hyper"
)

// Name is the model's registered name.
const Name = "popular"

const formatVersion = 1

// Popular scores items by (time-decayed) weighted popularity.
type Popular struct {
	halfLife float64 // days; 0 = no decay
	state    state
}

type state struct {
	Scores []float32
	Ref    int64 // reference time of the decay (newest interaction), unix seconds
}

// New builds a popularity model. Params:
//   - half_life (days, default 0 = no decay): an interaction half_life days
//     older than the newest one in the data counts half. Needs Dataset.Times;
//     without times no decay is applied.
//
// Each interaction counts its Dataset weight (1 when Weights is nil).
func New(p model.Params) (*Popular, error) {
	v, err := hyper.Read(Name, p, []hyper.Spec{{Name: "half_life", Default: 0, Min: 0}})
	if err != nil {
		return nil, err
	}
	return &Popular{halfLife: v["half_life"]}, nil
}

// Name implements model.Model.
func (m *Popular) Name() string { return Name }

// Fit counts the (decayed, weighted) interactions of every item.
func (m *Popular) Fit(ctx context.Context, ds *model.Dataset, progress model.Progress) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	scores := make([]float64, ds.NumItems())
	decay := m.halfLife > 0 && ds.Times != nil
	var ref int64
	if decay {
		for _, t := range ds.Times {
			ref = max(ref, t)
		}
	}
	lambda := 0.0
	if decay {
		lambda = math.Ln2 / (m.halfLife * 86400)
	}
	for j, it := range ds.Items {
		if int(it) >= len(scores) || it < 0 {
			return fmt.Errorf("popular: interaction %d: item %d out of range [0, %d)", j, it, len(scores))
		}
		w := 1.0
		if ds.Weights != nil {
			w = float64(ds.Weights[j])
		}
		if decay {
			w *= math.Exp(-lambda * float64(ref-ds.Times[j]))
		}
		scores[it] += w
	}
	st := state{Scores: make([]float32, len(scores)), Ref: ref}
	for i, s := range scores {
		st.Scores[i] = float32(s)
	}
	m.state = st
	if progress != nil {
		progress(model.Status{Stage: "count", Epoch: 1, Of: 1, Loss: math.NaN(), Metric: math.NaN()})
	}
	return nil
}

// Score writes the popularity of every item; the user is ignored.
func (m *Popular) Score(_ model.Query, scores []float32) {
	copy(scores, m.state.Scores)
}

// Save implements model.Model.
func (m *Popular) Save(w io.Writer) error {
	return hyper.Save(w, Name, formatVersion, savedPopular{HalfLife: m.halfLife, State: m.state})
}

type savedPopular struct {
	HalfLife float64
	State    state
}

// Load implements model.Model.
func (m *Popular) Load(r io.Reader) error {
	var s savedPopular
	if err := hyper.Load(r, Name, formatVersion, &s); err != nil {
		return err
	}
	m.halfLife, m.state = s.HalfLife, s.State
	return nil
}

// Params reports the effective hyper-parameters.
func (m *Popular) Params() model.Params { return model.Params{"half_life": m.halfLife} }

// TuneGrid is the search space for a bounded hyper-parameter search.
func (m *Popular) TuneGrid() map[string][]float64 {
	return map[string][]float64{"half_life": {0, 7, 30, 180}}
}
