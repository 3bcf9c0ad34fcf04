// Package knn is the item-based nearest-neighbour recommender (ItemKNN):
// item-item cosine similarity on the weighted user-item matrix, shrunk
// towards zero for items with little co-occurrence, keeping the K most
// similar neighbours of every item. A user's score for an item is the sum of
// the similarities of that item to the items of the user's history.
package knn

import (
	"context"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"

	"github.com/aisle-dev/aisle/internal/topk"
	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/internal/gram"
	"github.com/aisle-dev/aisle/model/internal/hyper"
)

// Name is the model's registered name.
const Name = "itemknn"

const formatVersion = 1

// ItemKNN is an item-item cosine nearest-neighbour model.
type ItemKNN struct {
	k       int
	shrink  float64
	weights bool
	st      state
}

// state is what Fit learns and Save writes.
type state struct {
	NumItems int
	// Neighbours of item i: Nbr[NbrPtr[i]:NbrPtr[i+1]] with similarities Sim[…], best first.
	NbrPtr []int
	Nbr    []int32
	Sim    []float32
	// The training rows, used for a known user queried without History.
	UserPtr []int
	Items   []int32
	Weights []float32
}

// New builds an ItemKNN model. Params:
//   - k (default 50): neighbours kept per item (20 was best on the ML validation
//     splits, 200 on Office's; 50 is the compromise, and keeps fresh clicks visible);
//   - shrink (default 10): cosine = co(i,j) / (|i||j| + shrink), damping
//     similarities resting on few common users;
//   - use_weights (default 1): 1 uses Dataset.Weights as matrix values, 0 treats
//     every interaction as 1.
func New(p model.Params) (*ItemKNN, error) {
	v, err := hyper.Read(Name, p, []hyper.Spec{
		{Name: "k", Default: 50, Min: 1, Int: true},
		{Name: "shrink", Default: 10, Min: 0},
		{Name: "use_weights", Default: 1, Min: 0, Max: 1, Int: true},
	})
	if err != nil {
		return nil, err
	}
	return &ItemKNN{k: int(v["k"]), shrink: v["shrink"], weights: v["use_weights"] == 1}, nil
}

// Name implements model.Model.
func (m *ItemKNN) Name() string { return Name }

// Fit computes the top-k neighbours of every item, using all cores.
func (m *ItemKNN) Fit(ctx context.Context, ds *model.Dataset, progress model.Progress) error {
	ni := ds.NumItems()
	// item → users (CSC) and the norm of every item column
	co, err := gram.NewCooccurrence(ds, m.weights)
	if err != nil {
		return fmt.Errorf("itemknn: %w", err)
	}
	colPtr, _, colPos := co.Columns()
	norm := make([]float64, ni)
	for i := 0; i < ni; i++ {
		for c := colPtr[i]; c < colPtr[i+1]; c++ {
			v := co.Weight(colPos[c])
			norm[i] += v * v
		}
	}
	for i := range norm {
		norm[i] = math.Sqrt(norm[i])
	}

	nbrs := make([][]int32, ni)
	sims := make([][]float32, ni)
	workers := runtime.GOMAXPROCS(0)
	const steps = 20
	err = gram.Chunks(ctx, ni, workers, steps, func(lo, hi, g int) {
		row := co.NewRow()
		best := topk.New[int32, float32](m.k)
		var buf []topk.Hit[int32, float32]
		for i := lo + g; i < hi; i += workers {
			best.Reset(m.k, buf)
			co.Row(row, i, func(it int32, g float64) {
				best.Push(it, float32(g/(norm[i]*norm[it]+m.shrink)))
			})
			buf = best.Sorted()
			nbrs[i], sims[i] = split(buf)
		}
	}, func(step, of int) {
		if progress != nil {
			progress(model.Status{Stage: "similarity", Epoch: step, Of: of, Loss: math.NaN(), Metric: math.NaN()})
		}
	})
	if err != nil {
		return err
	}
	st := state{NumItems: ni, NbrPtr: make([]int, ni+1)}
	for i := 0; i < ni; i++ {
		st.Nbr = append(st.Nbr, nbrs[i]...)
		st.Sim = append(st.Sim, sims[i]...)
		st.NbrPtr[i+1] = len(st.Nbr)
	}
	st.UserPtr = slices.Clone(ds.UserPtr)
	st.Items = slices.Clone(ds.Items)
	if m.weights && ds.Weights != nil {
		st.Weights = slices.Clone(ds.Weights)
	}
	m.st = st
	return nil
}

// split returns the indexes and scores of hits.
func split(hits []topk.Hit[int32, float32]) ([]int32, []float32) {
	nb := make([]int32, len(hits))
	sm := make([]float32, len(hits))
	for j, h := range hits {
		nb[j], sm[j] = h.Index, h.Score
	}
	return nb, sm
}

// Score sums, for every item, its similarity to the items of the history,
// each weighted by its history weight. When q.History is empty and q.User is
// a training user, the user's training row is the history.
func (m *ItemKNN) Score(q model.Query, scores []float32) {
	clear(scores)
	hist, hw := q.History, q.HistoryWeights
	if len(hist) == 0 && q.User >= 0 && int(q.User) < len(m.st.UserPtr)-1 {
		lo, hi := m.st.UserPtr[q.User], m.st.UserPtr[q.User+1]
		hist = m.st.Items[lo:hi]
		if m.st.Weights != nil {
			hw = m.st.Weights[lo:hi]
		}
	}
	for j, h := range hist {
		if h < 0 || int(h) >= m.st.NumItems {
			continue
		}
		wh := float32(1)
		if hw != nil && m.weights {
			wh = hw[j]
		}
		for p := m.st.NbrPtr[h]; p < m.st.NbrPtr[h+1]; p++ {
			scores[m.st.Nbr[p]] += wh * m.st.Sim[p]
		}
	}
}

// Bytes is the memory of the fitted model: the neighbour lists and the
// training rows kept for known users.
func (m *ItemKNN) Bytes() int64 {
	st := &m.st
	return int64(8*(len(st.NbrPtr)+len(st.UserPtr)) + 4*(len(st.Nbr)+len(st.Sim)+len(st.Items)+len(st.Weights)))
}

// Similar writes the similarity of every item to item (0 for items outside
// its k neighbours, and for the item itself).
func (m *ItemKNN) Similar(item int32, scores []float32) {
	clear(scores)
	if item < 0 || int(item) >= m.st.NumItems {
		return
	}
	for p := m.st.NbrPtr[item]; p < m.st.NbrPtr[item+1]; p++ {
		scores[m.st.Nbr[p]] = m.st.Sim[p]
	}
}

type saved struct {
	K       int
	Shrink  float64
	Weights bool
	State   state
}

// Save implements model.Model.
func (m *ItemKNN) Save(w io.Writer) error {
	return hyper.Save(w, Name, formatVersion, saved{K: m.k, Shrink: m.shrink, Weights: m.weights, State: m.st})
}

// Load implements model.Model.
func (m *ItemKNN) Load(r io.Reader) error {
	var s saved
	if err := hyper.Load(r, Name, formatVersion, &s); err != nil {
		return err
	}
	st := &s.State
	if len(st.NbrPtr) != st.NumItems+1 || len(st.Nbr) != len(st.Sim) {
		return fmt.Errorf("load %s: inconsistent neighbour lists", Name)
	}
	if err := hyper.CheckCSR(st.NbrPtr, st.Nbr, st.Sim, st.NumItems); err != nil {
		return fmt.Errorf("load %s: neighbours: %w", Name, err)
	}
	if err := hyper.CheckCSR(st.UserPtr, st.Items, st.Weights, st.NumItems); err != nil {
		return fmt.Errorf("load %s: training rows: %w", Name, err)
	}
	m.k, m.shrink, m.weights, m.st = s.K, s.Shrink, s.Weights, s.State
	return nil
}

// Params reports the effective hyper-parameters.
func (m *ItemKNN) Params() model.Params {
	uw := 0.0
	if m.weights {
		uw = 1
	}
	return model.Params{"k": float64(m.k), "shrink": m.shrink, "use_weights": uw}
}

// TuneGrid is the search space for a bounded hyper-parameter search.
func (m *ItemKNN) TuneGrid() map[string][]float64 {
	return map[string][]float64{"k": {10, 20, 50, 100, 200}, "shrink": {0, 10, 100}}
}
