package recommend

import (
	"math"
	"time"
)

type popularitySnapshot struct {
	at     time.Time
	scores map[string]float64
}

const popularityTTL = time.Minute

// Popularity returns an item's all-time popularity in [0, 1]:
// log(1 + its weighted interactions) / log(1 + the most popular item's).
// Learned search ranking uses it as a feature. It reads a snapshot rebuilt
// at most once a minute, so it is cheap enough to call per search result.
// Only the first call waits for a snapshot: later ones read the previous
// one while a stale snapshot is rebuilt in the background, so searches do
// not queue behind a rebuild (a pass over every event).
func (s *Service) Popularity(itemID string) float64 {
	if !s.loaded.Load() {
		return 0 // a snapshot of a half-read log would stand for a minute
	}
	snap := s.popularity.Load()
	switch {
	case snap == nil:
		snap = s.rebuildPopularity()
	case time.Since(snap.at) > popularityTTL && s.popularityMu.TryLock():
		go func() {
			defer s.popularityMu.Unlock()
			s.refreshPopularity()
		}()
	}
	return snap.scores[itemID]
}

// rebuildPopularity makes the first snapshot (or returns the one another
// caller just made).
func (s *Service) rebuildPopularity() *popularitySnapshot {
	s.popularityMu.Lock()
	defer s.popularityMu.Unlock()
	if snap := s.popularity.Load(); snap != nil {
		return snap
	}
	return s.refreshPopularity()
}

// refreshPopularity rebuilds the snapshot; the caller holds popularityMu.
func (s *Service) refreshPopularity() *popularitySnapshot {
	snap := &popularitySnapshot{at: time.Now(), scores: s.popularityScores()}
	s.popularity.Store(snap)
	return snap
}

// popularityScores is log(1 + weighted interactions) / log(1 + the top
// item's).
func (s *Service) popularityScores() map[string]float64 {
	info := s.items.snapshot()
	scores := make([]float32, len(info))
	s.ledger.popular(0, scores)
	top := float32(0)
	for _, v := range scores {
		top = max(top, v)
	}
	out := make(map[string]float64)
	if top > 0 {
		den := math.Log1p(float64(top))
		for i, v := range scores {
			if v > 0 {
				out[info[i].id] = math.Log1p(float64(v)) / den
			}
		}
	}
	return out
}
