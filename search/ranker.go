package search

import (
	"fmt"
	"sync"
)

// Ranker re-ranks the candidates of a search in ModeLTR from their feature
// vectors (see FeatureNames); higher scores rank first. *ltr.Model of
// package search/ltr implements it.
type Ranker interface {
	// Score scores one candidate's features.
	Score(features []float32) float64
	// Check returns an error unless names is the ranker's feature schema
	// (ltr.Model also accepts features appended after its own).
	Check(names []string) error
}

// ClickScoped is implemented by a Ranker learned from what shoppers did
// after searching: ModeLTR uses it only for queries shoppers acted on
// (Signals.Clicks has them) and searches other queries in the default
// mode. On simulated shoppers over ESCI such a ranker beat keyword ranking
// on queries with click history and lost to it on the others
// (docs/benchmarks.md, "Learning from clicks").
type ClickScoped interface {
	Ranker
	// ClickScoped reports whether the ranker is scoped to clicked queries.
	ClickScoped() bool
}

// covers reports whether the ranker may rank query q.
func (rs *rankState) covers(q string) bool {
	cs, ok := rs.ranker.(ClickScoped)
	if !ok || !cs.ClickScoped() {
		return true
	}
	return rs.signals.Clicks != nil && rs.signals.Clicks.has(q)
}

// Signals are the inputs of learned ranking beyond the text: all optional.
type Signals struct {
	// Popularity returns an item's popularity in [0, 1] relative to the
	// most popular item of the catalogue (for example log(1+count) /
	// log(1+max count) of recent interactions).
	Popularity func(itemID string) float64
	// Clicks supplies the click-through of the query and the item.
	Clicks *Clicks
}

// ImageCloseness says how alike items look: imagesearch.Index implements
// it over the image vectors of the catalogue. It gives the image_sim and
// has_image_sim features (docs/ltr-features.md).
type ImageCloseness interface {
	// ImageCloseness returns, for each of ids, how much closer than usual
	// its image is to the closest of the anchors' images other than its
	// own, in [0, 1], and whether that has a value (ok[i] false: ids[i] or
	// every other anchor has no image vector). Both are nil when no anchor
	// has an image vector.
	ImageCloseness(anchors, ids []string) (closeness []float32, ok []bool)
}

// rankState is the learned-ranking setup a search uses: a snapshot of
// ranking.
type rankState struct {
	ranker  Ranker
	signals Signals
	images  ImageCloseness // nil: no image vectors
}

// ranking is the learned-ranking setup of an index (the model of ModeLTR
// and the signals of its features), behind its own lock: it changes when a
// model is retrained, independently of the catalogue.
type ranking struct {
	mu  sync.RWMutex
	cur rankState
}

func (r *ranking) setRanker(m Ranker) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cur.ranker = m
}

func (r *ranking) setImages(v ImageCloseness) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cur.images = v
}

func (r *ranking) setSignals(s Signals) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cur.signals = s
}

// snapshot returns the current setup.
func (r *ranking) snapshot() rankState {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cur
}

// SetRanker sets the model of ModeLTR; nil removes it (searches in ModeLTR
// then use the default mode). It fails when the model was trained on other
// features than FeatureNames (or a prefix of them: see ltr.Model.Check).
func (ix *Index) SetRanker(r Ranker) error {
	if r != nil {
		if err := r.Check(featureNames); err != nil {
			return fmt.Errorf("search: set ranker: %w", err)
		}
	}
	ix.rank.setRanker(r)
	return nil
}

// Ranker returns the model of ModeLTR, or nil.
func (ix *Index) Ranker() Ranker {
	return ix.rank.snapshot().ranker
}

// SetSignals sets the popularity and click-through inputs of the learned
// ranking features.
func (ix *Index) SetSignals(s Signals) {
	ix.rank.setSignals(s)
}

// SetImageCloseness sets the image similarity behind the image_sim
// feature (nil: none, the feature and its presence flag are 0). It is apart
// from SetSignals because image vectors are configured apart from the
// behavioural signals.
func (ix *Index) SetImageCloseness(v ImageCloseness) {
	ix.rank.setImages(v)
}

// UsesRecent reports whether a search in mode would read Request.Recent:
// a learned ranker with image similarity set. Callers skip looking up the
// shopper's recent items otherwise.
func (ix *Index) UsesRecent(mode Mode) bool {
	if mode != ModeLTR {
		return false
	}
	ix.rank.mu.RLock()
	defer ix.rank.mu.RUnlock()
	return ix.rank.cur.ranker != nil && ix.rank.cur.images != nil
}
