// Package ease is EASE (Steck, "Embarrassingly Shallow Autoencoders for
// Sparse Data", WWW 2019): a closed-form item-item model. With the item Gram
// matrix G = XᵀX of the (weighted) user-item matrix X and P = (G + λI)⁻¹,
// the item-item weights are B = I − P·diag(1/diag(P)) with a zero diagonal,
// and a user's scores are their history row times B.
//
// Up to max_items items B comes from one dense n×n inverse (linalg.
// InvertSPD, in place: memory about 12·n² bytes while fitting, 4·n² bytes
// fitted; 4.8 GB while fitting 20,000 items). Above it, B is sparse: every item's column is solved over its
// `neighbours` strongest co-occurring items only (see fitSparse), so a
// catalogue of a million items fits in memory that grows with n·neighbours,
// and scoring touches only the history's neighbour lists.
package ease

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/internal/gram"
	"github.com/aisle-dev/aisle/model/internal/hyper"
	"github.com/aisle-dev/aisle/model/internal/linalg"
)

// Name is the model's registered name.
const Name = "ease"

const formatVersion = 1

// EASE is the closed-form item-item model.
type EASE struct {
	lambda     float64
	maxItems   int
	neighbours int
	weights    bool
	st         state
}

type state struct {
	N int
	B []float32 // dense: row-major n×n, B[i*n+j] is how much item i votes for item j; nil when sparse
	// Sparse B (catalogues above max_items): item i votes SW[p] for SNbr[p],
	// p in SPtr[i]..SPtr[i+1]. SPtr is nil when B is dense.
	SPtr []int
	SNbr []int32
	SW   []float32
	// The training rows, used for a known user queried without History.
	UserPtr []int
	Items   []int32
	Weights []float32
}

// New builds an EASE model. Params:
//   - lambda (default 500): L2 regularisation added to the Gram diagonal;
//     larger values shrink the weights more;
//   - max_items (default 20000): the largest catalogue solved exactly with
//     one dense inverse; a bigger one is fitted sparsely;
//   - neighbours (default 100): items per neighbourhood in the sparse fit;
//   - use_weights (default 1): 1 uses Dataset.Weights as matrix values, 0
//     treats every interaction as 1.
func New(p model.Params) (*EASE, error) {
	v, err := hyper.Read(Name, p, []hyper.Spec{
		{Name: "lambda", Default: 500, Min: 0},
		{Name: "max_items", Default: 20000, Min: 1, Int: true},
		{Name: "neighbours", Default: 100, Min: 1, Max: 2000, Int: true},
		{Name: "use_weights", Default: 1, Min: 0, Max: 1, Int: true},
	})
	if err != nil {
		return nil, err
	}
	return &EASE{lambda: v["lambda"], maxItems: int(v["max_items"]), neighbours: int(v["neighbours"]), weights: v["use_weights"] == 1}, nil
}

// Name implements model.Model.
func (m *EASE) Name() string { return Name }

// Fit computes B. Progress reports the stages gram, invert, weights
// (dense; the inverse is linalg.EASEWeights) or gram, solve (sparse, above max_items).
func (m *EASE) Fit(ctx context.Context, ds *model.Dataset, progress model.Progress) error {
	n := ds.NumItems()
	if n == 0 {
		return fmt.Errorf("ease: the data set has no items")
	}
	if n > m.maxItems {
		ptr, nbr, w, err := m.fitSparse(ctx, ds, func(stage string, step, of int) {
			if progress != nil {
				progress(model.Status{Stage: stage, Epoch: step, Of: of, Loss: math.NaN(), Metric: math.NaN()})
			}
		})
		if err != nil {
			return fmt.Errorf("ease: sparse fit of %d items: %w", n, err)
		}
		m.st = m.training(ds, state{N: n, SPtr: ptr, SNbr: nbr, SW: w})
		return nil
	}
	report := func(stage string, step int) {
		if progress != nil {
			progress(model.Status{Stage: stage, Epoch: step, Of: 3, Loss: math.NaN(), Metric: math.NaN()})
		}
	}
	g, err := gram.Of(ctx, ds, m.weights, nil)
	if err != nil {
		return fmt.Errorf("ease: %w", err)
	}
	for i := 0; i < n; i++ {
		g[i*n+i] += m.lambda
	}
	report("gram", 1)

	b, err := linalg.EASEWeights(ctx, g, n)
	if err != nil {
		return fmt.Errorf("ease: invert the regularised Gram matrix (lambda=%v too small?): %w", m.lambda, err)
	}
	g = nil
	report("invert", 2)
	m.st = m.training(ds, state{N: n, B: b})
	report("weights", 3)
	return nil
}

// training returns st with a copy of ds's rows, used for a known user
// queried without History.
func (m *EASE) training(ds *model.Dataset, st state) state {
	st.UserPtr, st.Items = slices.Clone(ds.UserPtr), slices.Clone(ds.Items)
	if m.weights && ds.Weights != nil {
		st.Weights = slices.Clone(ds.Weights)
	}
	return st
}

// Sparse reports whether B is the sparse neighbourhood approximation.
func (m *EASE) Sparse() bool { return m.st.SPtr != nil }

// Bytes is the memory of the fitted model: B and the training rows kept
// for known users.
func (m *EASE) Bytes() int64 {
	st := &m.st
	return int64(4*len(st.B) + 8*(len(st.SPtr)+len(st.UserPtr)) + 4*(len(st.SNbr)+len(st.SW)+len(st.Items)+len(st.Weights)))
}

// Score is the (weighted) history row times B. When q.History is empty and
// q.User is a training user, the user's training row is the history.
func (m *EASE) Score(q model.Query, scores []float32) {
	clear(scores)
	hist, hw := q.History, q.HistoryWeights
	if len(hist) == 0 && q.User >= 0 && int(q.User) < len(m.st.UserPtr)-1 {
		lo, hi := m.st.UserPtr[q.User], m.st.UserPtr[q.User+1]
		hist = m.st.Items[lo:hi]
		if m.st.Weights != nil {
			hw = m.st.Weights[lo:hi]
		}
	}
	n := m.st.N
	for j, h := range hist {
		if h < 0 || int(h) >= n {
			continue
		}
		wh := float32(1)
		if hw != nil && m.weights {
			wh = hw[j]
		}
		if m.st.SPtr != nil {
			for p := m.st.SPtr[h]; p < m.st.SPtr[h+1]; p++ {
				scores[m.st.SNbr[p]] += wh * m.st.SW[p]
			}
			continue
		}
		row := m.st.B[int(h)*n : (int(h)+1)*n]
		for i, v := range row {
			scores[i] += wh * v
		}
	}
}

// Similar writes row item of B: how strongly item predicts every other item.
func (m *EASE) Similar(item int32, scores []float32) {
	clear(scores)
	if item < 0 || int(item) >= m.st.N {
		return
	}
	if m.st.SPtr != nil {
		for p := m.st.SPtr[item]; p < m.st.SPtr[item+1]; p++ {
			scores[m.st.SNbr[p]] = m.st.SW[p]
		}
		return
	}
	copy(scores, m.st.B[int(item)*m.st.N:(int(item)+1)*m.st.N])
}

type saved struct {
	Lambda     float64
	MaxItems   int
	Neighbours int
	Weights    bool
	State      state
}

// Save implements model.Model.
func (m *EASE) Save(w io.Writer) error {
	return hyper.Save(w, Name, formatVersion, saved{Lambda: m.lambda, MaxItems: m.maxItems, Neighbours: m.neighbours, Weights: m.weights, State: m.st})
}

// Load implements model.Model.
func (m *EASE) Load(r io.Reader) error {
	var s saved
	if err := hyper.Load(r, Name, formatVersion, &s); err != nil {
		return err
	}
	if s.State.N < 0 || s.State.N > 1<<31-1 {
		return fmt.Errorf("load %s: %d items out of range", Name, s.State.N)
	}
	// Dense: bound N before squaring it (N near 2^32 overflows N*N to 0).
	if s.State.SPtr != nil {
		if len(s.State.SPtr) != s.State.N+1 || len(s.State.SW) != len(s.State.SNbr) || s.State.B != nil {
			return fmt.Errorf("load %s: inconsistent sparse weights", Name)
		}
		if err := hyper.CheckCSR(s.State.SPtr, s.State.SNbr, s.State.SW, s.State.N); err != nil {
			return fmt.Errorf("load %s: sparse weights: %w", Name, err)
		}
	} else if s.State.N > 1<<20 || len(s.State.B) != s.State.N*s.State.N {
		return fmt.Errorf("load %s: weight matrix has %d values, want %d", Name, len(s.State.B), s.State.N*s.State.N)
	}
	if s.Neighbours == 0 { // saved before the sparse fit existed
		s.Neighbours = 100
	}
	if err := hyper.CheckCSR(s.State.UserPtr, s.State.Items, s.State.Weights, s.State.N); err != nil {
		return fmt.Errorf("load %s: training rows: %w", Name, err)
	}
	m.lambda, m.maxItems, m.neighbours, m.weights, m.st = s.Lambda, s.MaxItems, s.Neighbours, s.Weights, s.State
	return nil
}

// Params reports the effective hyper-parameters.
func (m *EASE) Params() model.Params {
	uw := 0.0
	if m.weights {
		uw = 1
	}
	return model.Params{"lambda": m.lambda, "max_items": float64(m.maxItems), "neighbours": float64(m.neighbours), "use_weights": uw}
}

// TuneGrid is the search space for a bounded hyper-parameter search.
func (m *EASE) TuneGrid() map[string][]float64 {
	return map[string][]float64{"lambda": {20, 50, 100, 200, 500, 1000, 2000}}
}
