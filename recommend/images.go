package recommend

// ImageNeighbours gives the items whose images look most like an item's
// (imagesearch.Index, when an image embedder is configured).
type ImageNeighbours interface {
	// VisualNeighbours returns up to n items whose image vectors are
	// closest to item id's, by id, with a score in [0, 1]; nil when id
	// has no image vector or the vectors are not built yet.
	VisualNeighbours(id string, n int) map[string]float64
}

// imageHintN is how many visual neighbours join an answer's candidates.
const imageHintN = 50

// SetImageNeighbours makes image similarity a signal of similar items:
// an item's visual neighbours join the candidates of Similar, and each
// one's score stands as its model signal where larger (related.SimilarWith),
// so items that look alike rank higher among those that are alike in the
// other signals (category, title, co-views). nil turns it off.
func (s *Service) SetImageNeighbours(n ImageNeighbours) {
	if n == nil {
		s.images.Store(nil)
		return
	}
	s.images.Store(&n)
}

// withImages merges the visual neighbours of itemID into a model's hint
// (the larger score of the two).
func (s *Service) withImages(itemID string, hint map[string]float64) map[string]float64 {
	p := s.images.Load()
	if p == nil {
		return hint
	}
	vis := (*p).VisualNeighbours(itemID, imageHintN)
	if len(vis) == 0 {
		return hint
	}
	out := make(map[string]float64, len(hint)+len(vis))
	for id, v := range hint {
		out[id] = v
	}
	for id, v := range vis {
		out[id] = max(out[id], v)
	}
	return out
}
