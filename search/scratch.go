package search

import "sync"

// scratch holds per-search arrays indexed by doc id, reused across searches.
type scratch struct {
	// exhaustive scoring (allocated on first use)
	score   []float32
	gscore  []float32
	cover   []uint8
	state   []uint8 // 0 unseen, 1 passes the filters, 2 filtered out
	touched []uint32
	gtouch  []uint32
	seen    []uint32
	// pruned scoring: the matched set as a dense bitmap
	match []uint64
	tmp   []uint64
}

// scratchPool keeps a few scratch values for reuse. It is not a sync.Pool:
// the GC would drop the large arrays between searches.
type scratchPool struct {
	mu   sync.Mutex
	free []*scratch
}

// get returns a clean scratch.
func (p *scratchPool) get() *scratch {
	p.mu.Lock()
	var s *scratch
	if k := len(p.free); k > 0 {
		s = p.free[k-1]
		p.free = p.free[:k-1]
	}
	p.mu.Unlock()
	if s == nil {
		s = &scratch{}
	}
	return s
}

// perDoc makes sure the exhaustive-scoring arrays hold n docs.
func (s *scratch) perDoc(n int) {
	if len(s.score) < n {
		n2 := n + n/4
		s.score = make([]float32, n2)
		s.gscore = make([]float32, n2)
		s.cover = make([]uint8, n2)
		s.state = make([]uint8, n2)
	}
}

// put cleans s and keeps it for a later search.
func (p *scratchPool) put(s *scratch) {
	for _, d := range s.touched {
		s.score[d] = 0
		s.cover[d] = 0
	}
	for _, d := range s.seen {
		s.state[d] = 0
	}
	s.touched, s.gtouch, s.seen = s.touched[:0], s.gtouch[:0], s.seen[:0]
	p.mu.Lock()
	if len(p.free) < 4 {
		p.free = append(p.free, s)
	}
	p.mu.Unlock()
}
