// Package model defines the recommendation models Aisle learns from behaviour,
// the interaction data they learn from (Dataset), and the small interfaces
// through which training, evaluation and serving use them.
//
// Every model works on dense indices: users 0..NumUsers-1 and items
// 0..NumItems-1 of the Dataset it was fitted on. Mapping to and from the
// shop's string ids is the caller's job (Dataset.UserIDs / Dataset.ItemIDs).
package model

import (
	"context"
	"fmt"
	"io"
)

// Dataset is a set of user→item interactions in compressed sparse row form,
// one row per user, each row in time order (oldest first).
type Dataset struct {
	UserIDs []string // external id of each user index
	ItemIDs []string // external id of each item index

	// Row u holds Items[UserPtr[u]:UserPtr[u+1]].
	UserPtr []int
	Items   []int32   // item index of each interaction
	Weights []float32 // confidence weight of each interaction (> 0); nil means all 1
	Times   []int64   // unix seconds of each interaction; nil when unknown
	Ratings []float32 // explicit rating of each interaction; nil when the data has none

	// Optional side information about items.
	ItemText  []string  // title/brand/category text per item; nil when unknown
	ItemAttrs [][]int32 // attribute ids per item (categories, brands…); nil when unknown
	NumAttrs  int       // number of distinct attribute ids in ItemAttrs
}

// NumUsers is the number of user rows.
func (d *Dataset) NumUsers() int { return len(d.UserPtr) - 1 }

// NumItems is the number of items (columns).
func (d *Dataset) NumItems() int { return len(d.ItemIDs) }

// NumInteractions is the number of stored interactions.
func (d *Dataset) NumInteractions() int { return len(d.Items) }

// Row returns the items of user u in time order.
func (d *Dataset) Row(u int) []int32 { return d.Items[d.UserPtr[u]:d.UserPtr[u+1]] }

// RowWeights returns the weights of user u's interactions, or nil when all are 1.
func (d *Dataset) RowWeights(u int) []float32 {
	if d.Weights == nil {
		return nil
	}
	return d.Weights[d.UserPtr[u]:d.UserPtr[u+1]]
}

// Columns transposes the interactions: column i holds the interactions
// with item i, as colUser[colPtr[i]:colPtr[i+1]] (their users, in user
// order) and colPos (their positions in Items, for Weights, Times and
// Ratings). It fails on an item index out of range.
func (d *Dataset) Columns() (colPtr []int, colUser []int32, colPos []int, err error) {
	ni := d.NumItems()
	colPtr = make([]int, ni+1)
	for j, it := range d.Items {
		if it < 0 || int(it) >= ni {
			return nil, nil, nil, fmt.Errorf("interaction %d: item %d out of range [0, %d)", j, it, ni)
		}
		colPtr[it+1]++
	}
	for i := 0; i < ni; i++ {
		colPtr[i+1] += colPtr[i]
	}
	colUser = make([]int32, len(d.Items))
	colPos = make([]int, len(d.Items))
	next := append([]int(nil), colPtr[:ni]...)
	for u := 0; u < d.NumUsers(); u++ {
		for j := d.UserPtr[u]; j < d.UserPtr[u+1]; j++ {
			it := d.Items[j]
			colUser[next[it]], colPos[next[it]] = int32(u), j
			next[it]++
		}
	}
	return colPtr, colUser, colPos, nil
}

// Query asks a model to score every item for one user.
type Query struct {
	// User is the user's index in the training Dataset, or -1 for a user the
	// model has not seen (new or anonymous): then only History is used.
	User int32
	// History is the user's recent interactions, most recent last. It may hold
	// events newer than the model, so a click changes the very next answer
	// (fold-in for factor models, the input sequence for sequence models).
	History []int32
	// HistoryWeights are the confidence weights of History, or nil for all 1.
	HistoryWeights []float32
}

// Status reports training progress.
type Status struct {
	Stage string  // e.g. "epoch", "factorize", "gram"
	Epoch int     // current epoch, 1-based; 0 when not iterative
	Of    int     // total epochs, 0 when unknown
	Loss  float64 // last loss, NaN when not applicable
	// Metric is the validation metric after this epoch, when the model
	// evaluates one (early stopping); NaN otherwise.
	Metric float64
}

// Progress receives training progress; it may be nil.
type Progress func(Status)

// Model is a trained or trainable recommender.
type Model interface {
	// Name is the model's registered name, e.g. "bpr" or "ease".
	Name() string
	// Fit trains on ds. It must return promptly with ctx.Err() when ctx ends.
	Fit(ctx context.Context, ds *Dataset, progress Progress) error
	// Score writes a relevance score for every item into scores
	// (len(scores) == number of items of the training Dataset); higher is better.
	// It must be safe for concurrent use after Fit or Load.
	Score(q Query, scores []float32)
	// Save writes the fitted model; Load reads what Save wrote.
	Save(w io.Writer) error
	Load(r io.Reader) error
}

// ItemEmbedder is a model with one vector per item, used for similar items
// and approximate nearest-neighbour retrieval.
type ItemEmbedder interface {
	// ItemVectors returns the dimension and the row-major item vectors.
	ItemVectors() (dim int, vecs []float32)
}

// UserEmbedder is a model whose score for an item is the dot product of a
// user vector with the item's vector from ItemVectors, plus the item's bias
// when ItemBias is not nil. Serving uses it to retrieve the top items from a
// nearest-neighbour index instead of scoring every item.
type UserEmbedder interface {
	ItemEmbedder
	// UserVector writes the query's user vector (fold-in from History when
	// it is set) into dst (len = dim) and reports false when the query has
	// none (then Score falls back to something else, e.g. popularity).
	UserVector(q Query, dst []float32) bool
	// ItemBias returns the per-item score offsets, or nil.
	ItemBias() []float32
}

// WarmStarter is a model that can begin fitting from an earlier fitted model
// of the same kind, matching users and items by id, so retraining is
// incremental: fewer iterations reach the same quality.
type WarmStarter interface {
	WarmStartFrom(prev Model) error
}

// SimilarItems is a model that can score items by similarity to one item.
type SimilarItems interface {
	Similar(item int32, scores []float32)
}

// Adjustable is a fitted model with query-time hyper-parameters: settings
// that change how it scores but not what it learned, so a validation can
// try each of them on one fit. Adjustments lists the candidate values of
// each; it depends on the configuration only, so it may be asked before
// Fit. Adjust sets some of them on a fitted model and rejects a name or
// value it does not offer. The same names are accepted by the model's
// constructor, so a choice carries over to a fresh fit.
type Adjustable interface {
	Adjustments() map[string][]float64
	Adjust(p Params) error
}

// Rescorer is an Adjustable whose query-time settings only re-weight or
// re-mix parts it computes per query, so a validation that tries many
// settings computes those parts once per query: Prepare does the costly
// part of scoring q, and the Prepared it returns writes q's scores under
// any settings, as Adjust then Score would, to the last bit. Prepare may
// run concurrently with itself and with Score; a Prepared belongs to one
// goroutine.
type Rescorer interface {
	Adjustable
	Prepare(q Query) Prepared
}

// Prepared is one query's parts computed by Rescorer.Prepare.
type Prepared interface {
	// Score writes the query's scores under settings p into scores (the
	// settings p does not name as the model had them at Prepare); it
	// rejects a name or value Adjust would reject.
	Score(p Params, scores []float32) error
	// Release hands the parts back to the model for reuse; the Prepared
	// is not used after.
	Release()
}

// RatingPredictor is a model that predicts an explicit rating.
type RatingPredictor interface {
	PredictRating(user, item int32) float32
}

// Params is a model's hyper-parameters by name, as read from config or --tune.
type Params map[string]float64
