package ads

import (
	"errors"
	"math"
	"slices"
)

// Features of an ad impression for the click model, in the order of
// Model.Weights after the bias.
type Features struct {
	Position   int     `json:"position"`   // 1-based place in the answer
	TextMatch  float64 `json:"text_match"` // query–item relevance, 0..1
	Popularity float64 `json:"popularity"` // item popularity, 0..1
	Affinity   float64 `json:"affinity"`   // the shopper's affinity to the item's category, 0..1
	History    float64 `json:"history"`    // the item's smoothed ad click-through so far
}

// NumFeatures is the length of a feature vector, bias included.
const NumFeatures = 6

func (f *Features) vector() [NumFeatures]float64 {
	return [NumFeatures]float64{1, 1 / float64(max(1, f.Position)), f.TextMatch, f.Popularity, f.Affinity, f.History * 10}
}

// Model is a logistic model of the click probability of an ad impression.
type Model struct {
	Weights [NumFeatures]float64 `json:"weights"`
	Version int                  `json:"version"`
	// Trained on how many impressions; LogLoss and AUC on held-out ones.
	Examples int     `json:"examples"`
	LogLoss  float64 `json:"log_loss"`
	AUC      float64 `json:"auc"`
}

// PriorModel is the model used before any training: about 4% at the top
// position for a perfect text match, falling with position.
func PriorModel() Model {
	return Model{Weights: [NumFeatures]float64{-4.2, 1.2, 0.8, 0, 0, 0}}
}

// Predict returns the click probability of an impression.
func (m *Model) Predict(f Features) float64 { return sigmoid(m.logit(&f)) }

// logit is the model's log-odds of a click on an impression: Predict is
// sigmoid(logit), so equal logits predict the same probability.
func (m *Model) logit(f *Features) float64 {
	x := f.vector()
	z := 0.0
	for i, w := range m.Weights {
		z += w * x[i]
	}
	return z
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// Example is one logged impression and whether it was clicked.
type Example struct {
	F       Features
	Clicked bool
}

// Fit trains a logistic model by Newton's method (iteratively reweighted
// least squares) with an L2 penalty lambda, on the features selected by
// use (nil: all). It needs examples with and without clicks.
func Fit(exs []Example, lambda float64, use []bool) (Model, error) {
	pos := 0
	for _, e := range exs {
		if e.Clicked {
			pos++
		}
	}
	if pos == 0 || pos == len(exs) {
		return Model{}, errors.New("pctr: need impressions both clicked and not clicked to train")
	}
	on := func(i int) bool { return i == 0 || use == nil || use[i] }
	var w [NumFeatures]float64
	for iter := 0; iter < 25; iter++ {
		var g [NumFeatures]float64
		var h [NumFeatures][NumFeatures]float64
		for _, e := range exs {
			x := e.F.vector()
			z := 0.0
			for i := range w {
				if on(i) {
					z += w[i] * x[i]
				}
			}
			p := sigmoid(z)
			y := 0.0
			if e.Clicked {
				y = 1
			}
			for i := range x {
				if !on(i) {
					continue
				}
				g[i] += (p - y) * x[i]
				for j := range x {
					if on(j) {
						h[i][j] += p * (1 - p) * x[i] * x[j]
					}
				}
			}
		}
		for i := range w {
			if !on(i) {
				h[i][i] = 1
				continue
			}
			if i > 0 {
				g[i] += lambda * w[i]
				h[i][i] += lambda
			}
			h[i][i] += 1e-9
		}
		step, ok := solve(h, g)
		if !ok {
			break
		}
		change := 0.0
		for i := range w {
			if on(i) {
				w[i] -= step[i]
				change = max(change, math.Abs(step[i]))
			}
		}
		if change < 1e-7 {
			break
		}
	}
	return Model{Weights: w, Examples: len(exs)}, nil
}

// solve solves h·x = g by Gaussian elimination with partial pivoting.
func solve(h [NumFeatures][NumFeatures]float64, g [NumFeatures]float64) ([NumFeatures]float64, bool) {
	const n = NumFeatures
	for c := 0; c < n; c++ {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(h[r][c]) > math.Abs(h[p][c]) {
				p = r
			}
		}
		if math.Abs(h[p][c]) < 1e-12 {
			return g, false
		}
		h[c], h[p] = h[p], h[c]
		g[c], g[p] = g[p], g[c]
		for r := c + 1; r < n; r++ {
			f := h[r][c] / h[c][c]
			for k := c; k < n; k++ {
				h[r][k] -= f * h[c][k]
			}
			g[r] -= f * g[c]
		}
	}
	var x [n]float64
	for r := n - 1; r >= 0; r-- {
		s := g[r]
		for k := r + 1; k < n; k++ {
			s -= h[r][k] * x[k]
		}
		x[r] = s / h[r][r]
	}
	return x, true
}

// LogLoss is the mean negative log-likelihood of the labels under p.
func LogLoss(p []float64, y []bool) float64 {
	s := 0.0
	for i := range p {
		q := min(max(p[i], 1e-12), 1-1e-12)
		if y[i] {
			s -= math.Log(q)
		} else {
			s -= math.Log(1 - q)
		}
	}
	return s / float64(max(1, len(p)))
}

// AUC is the area under the ROC curve of scores p for labels y (ties
// count half).
func AUC(p []float64, y []bool) float64 {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case p[a] < p[b]:
			return -1
		case p[a] > p[b]:
			return 1
		}
		return 0
	})
	// rank sum of positives, average ranks for ties
	var rankSum float64
	pos, neg := 0, 0
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && p[idx[j]] == p[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2
		for k := i; k < j; k++ {
			if y[idx[k]] {
				rankSum += avg
				pos++
			} else {
				neg++
			}
		}
		i = j
	}
	if pos == 0 || neg == 0 {
		return 0.5
	}
	return (rankSum - float64(pos*(pos+1))/2) / float64(pos*neg)
}
