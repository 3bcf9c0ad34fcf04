package recommend

import (
	"unsafe"

	"github.com/aisle-dev/aisle/model"
)

// Memory is an estimate of the service's memory by part, in bytes: the Go
// structures' sizes plus their strings and slices (not allocator overhead).
type Memory struct {
	// Models is each serving model's own memory (its vectors or weights,
	// as the model reports it, else its item vectors) plus the serving
	// maps beside it (user ids, index maps, normalised vectors, the ANN
	// index's copy of the vectors).
	Models map[string]int64
	// Histories is the per-user profiles: every user's items with weights
	// and times, the history recommendations are computed from.
	Histories int64
	// Ledger is the per-item time buckets behind popularity and trending,
	// and the baskets and counts behind bought-together.
	Ledger int64
	// Items is the catalogue table the service filters against.
	Items int64
	// Related is the similar-items and bought-together index.
	Related int64
	// Rows is the state behind the home-page rows (buy it again, new
	// arrivals, popular among similar shoppers): every user's purchases
	// and item weights, repurchase intervals, per item its date, and the
	// title words of the last new-arrivals candidates.
	Rows int64
}

// Sizer is a model that reports the memory its fitted state holds.
type Sizer interface{ Bytes() int64 }

// MemoryBytes estimates the service's memory (see Memory). It walks the
// user profiles under their lock: for /metrics (which caches it), not for
// a hot path.
func (s *Service) MemoryBytes() Memory {
	m := Memory{Models: map[string]int64{}}
	if set := s.models.Load(); set != nil {
		for name, sm := range set.byName {
			m.Models[name] = servingBytes(sm)
		}
	}
	s.profiles.mu.RLock()
	m.Histories = mapBytes(len(s.profiles.users), 16+8)
	for id, p := range s.profiles.users {
		m.Histories += int64(len(id)) + int64(unsafe.Sizeof(*p)) + int64(cap(p.entries))*int64(unsafe.Sizeof(profileEntry{})) + mapBytes(len(p.at), 4+8) + int64(cap(p.gone))*4
	}
	s.profiles.mu.RUnlock()
	s.ledger.mu.RLock()
	m.Ledger = int64(cap(s.ledger.items))*24 + mapBytes(len(s.ledger.uids), 16+4) + mapBytes(len(s.ledger.buyCount), 8)
	for _, bs := range s.ledger.items {
		m.Ledger += int64(cap(bs)) * int64(unsafe.Sizeof(bucket{}))
	}
	for id := range s.ledger.uids {
		m.Ledger += int64(len(id))
	}
	for _, b := range s.ledger.baskets {
		m.Ledger += int64(cap(b))*int64(unsafe.Sizeof(basketEntry{})) + 48
	}
	for _, row := range s.ledger.co {
		m.Ledger += mapBytes(len(row), 8) + 48
	}
	s.ledger.mu.RUnlock()
	s.items.mu.RLock()
	m.Items = int64(cap(s.items.info))*int64(unsafe.Sizeof(itemInfo{})) + mapBytes(len(s.items.index), 16+4)
	for i := range s.items.info {
		it := &s.items.info[i]
		m.Items += 2*int64(len(it.id)) + int64(len(it.title)+len(it.description)+len(it.brand)) + 32*int64(len(it.attributes))
		for _, c := range it.categories {
			m.Items += 16 + int64(len(c))
		}
	}
	s.items.mu.RUnlock()
	if st := s.rel.cur.Load(); st != nil {
		m.Related = st.ix.MemoryBytes()
	}
	m.Rows = s.rows.bytes()
	return m
}

// bytes estimates the row state's memory (Memory.Rows).
func (r *rowState) bytes() int64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	iv := int64(unsafe.Sizeof(ivStats{}))
	b := mapBytes(len(r.users), 16+8) + mapBytes(len(r.itemIv)+len(r.catIv), 4+8) + int64(len(r.itemIv)+len(r.catIv))*iv +
		mapBytes(len(r.buyers), 4+8) + int64(len(r.buyers))*8 + mapBytes(len(r.added), 4+8)
	for id, u := range r.users {
		b += int64(len(id)) + int64(unsafe.Sizeof(*u)) + mapBytes(len(u.buys), 4+8) + int64(len(u.buys))*int64(unsafe.Sizeof(buyRec{})) + mapBytes(len(u.weight), 4+4)
	}
	r.wordsMu.Lock()
	defer r.wordsMu.Unlock()
	b += mapBytes(len(r.words), 4+40)
	for _, tw := range r.words {
		b += 16 * int64(cap(tw.words))
		for _, w := range tw.words {
			b += int64(len(w))
		}
	}
	return b
}

// servingBytes estimates one serving model: the model itself and the maps
// and index serving keeps beside it.
func servingBytes(sm *servingModel) int64 {
	var b int64
	switch m := sm.m.(type) {
	case Sizer:
		b = m.Bytes()
	case model.ItemEmbedder:
		_, v := m.ItemVectors()
		b = 4 * int64(len(v))
		if _, ok := m.(model.UserEmbedder); ok {
			b += 4 * int64(len(sm.users)) * int64(sm.dim) // one vector per known user
		}
	}
	b += mapBytes(len(sm.users), 16+4)
	for id := range sm.users {
		b += int64(len(id))
	}
	b += 4 * int64(cap(sm.toModel)+cap(sm.fromModel)+cap(sm.unitVecs))
	if x, ok := sm.index.(Sizer); ok {
		b += x.Bytes()
	} else if sm.index != nil {
		b += 4 * int64(sm.index.Len()) * int64(sm.index.Dim()) // the index's own float32 copy of the vectors
	}
	return b
}

// mapBytes approximates a Go map of n entries of kv bytes each (key and
// value), with its buckets about 80% full.
func mapBytes(n int, kv int) int64 { return int64(float64(n) * float64(kv+1) / 0.8) }
