package ltr

import (
	"fmt"
	"slices"
	"sort"
)

// Model is a trained ranker. It is immutable and safe for concurrent use.
type Model struct {
	algo     Algorithm
	features []string
	k        int

	// trees (LambdaMART): score = base + baseW·x[baseFeat] + Σ tree(x)
	base     float64
	baseFeat int // -1: none
	baseW    float64
	trees    []tree

	// linear: score = Σ weight·(x - mean)·scale
	mean, scale, weight []float64

	// ValidNDCG is the mean validation nDCG@K at the kept round (-1 when
	// trained without validation queries or loaded from a file).
	ValidNDCG float64
	// TrainNDCG is the mean training nDCG@K at the kept round (-1 when loaded).
	TrainNDCG float64
}

// tree is a regression tree in flat arrays. Internal node i sends x left
// when x[feat[i]] <= thr[i] (NaN goes right). A child reference c >= 0 is
// an internal node (always greater than its parent's index), c < 0 is leaf
// ^c. A tree without internal nodes is the single leaf 0.
type tree struct {
	feat        []int32
	thr         []float32
	left, right []int32
	leaf        []float64
}

func (t *tree) eval(x []float32) float64 {
	if len(t.feat) == 0 {
		return t.leaf[0]
	}
	n := int32(0)
	for {
		var v float32
		if f := int(t.feat[n]); f < len(x) {
			v = x[f]
		}
		if v <= t.thr[n] {
			n = t.left[n]
		} else {
			n = t.right[n]
		}
		if n < 0 {
			return t.leaf[^n]
		}
	}
}

// Score returns the model's score of one document's features (higher
// ranks first). Entries beyond len(features) count as 0; use Check once to
// make sure the vectors follow the model's schema.
func (m *Model) Score(features []float32) float64 {
	if m.algo == AlgorithmLinear {
		var s float64
		for i, w := range m.weight {
			var v float64
			if i < len(features) {
				v = float64(features[i])
			}
			s += w * (v - m.mean[i]) * m.scale[i]
		}
		return s
	}
	s := m.base
	if m.baseFeat >= 0 && m.baseFeat < len(features) {
		s += m.baseW * float64(features[m.baseFeat])
	}
	for i := range m.trees {
		s += m.trees[i].eval(features)
	}
	return s
}

// Features returns the feature names the model was trained on, in vector order.
func (m *Model) Features() []string { return slices.Clone(m.features) }

// Algorithm returns the ranker family (lambdamart or linear).
func (m *Model) Algorithm() Algorithm { return m.algo }

// K returns the nDCG cut-off the model was trained for.
func (m *Model) K() int { return m.k }

// BaseFeature returns the feature whose scaled value starts the score of a
// LambdaMART model and its weight ("" when none; see Params.BaseFeature).
func (m *Model) BaseFeature() (string, float64) {
	if m.algo != AlgorithmLambdaMART || m.baseFeat < 0 {
		return "", 0
	}
	return m.features[m.baseFeat], m.baseW
}

// Trees returns the number of trees (0 for a linear model).
func (m *Model) Trees() int { return len(m.trees) }

// Check returns an error unless the model's feature schema is names or a
// prefix of it (features appended to the scorer's list after the model was
// trained: the model scores the longer vector exactly as before, since
// Score reads only its own positions).
func (m *Model) Check(names []string) error {
	if slices.Equal(names, m.features) {
		return nil
	}
	if len(names) < len(m.features) {
		return fmt.Errorf("ltr: model has %d features, the scorer provides %d", len(m.features), len(names))
	}
	for i := range m.features {
		if names[i] != m.features[i] {
			return fmt.Errorf("ltr: feature %d is %q in the model but %q in the scorer", i, m.features[i], names[i])
		}
	}
	// the scorer appended features after the model's: Score reads only the
	// model's positions, so it scores as it did when trained
	return nil
}

// Importance is one feature's share of a model.
type Importance struct {
	Feature string
	// Value is the number of tree splits on the feature (LambdaMART) or the
	// absolute weight of the standardised feature (linear).
	Value float64
}

// Importances returns every feature's importance, largest first.
func (m *Model) Importances() []Importance {
	v := make([]float64, len(m.features))
	if m.algo == AlgorithmLinear {
		for i, w := range m.weight {
			if w < 0 {
				w = -w
			}
			v[i] = w
		}
	} else {
		for _, t := range m.trees {
			for _, f := range t.feat {
				v[f]++
			}
		}
	}
	out := make([]Importance, len(v))
	for i := range v {
		out[i] = Importance{Feature: m.features[i], Value: v[i]}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Value > out[b].Value })
	return out
}
