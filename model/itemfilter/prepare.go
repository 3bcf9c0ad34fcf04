package itemfilter

import (
	"github.com/aisle-dev/aisle/model"
)

// Prepare implements model.Rescorer: every query-time setting re-weights
// parts computed per query (the history pass over B for a history bonus,
// the factor and neighbour parts' scores) or re-mixes them, so a
// validation trying many settings computes each part once per query:
// the history pass once per (recency, decay) asked, the other parts once,
// and their mix once per shares (the popularity penalty goes on top).
func (m *Filter) Prepare(q model.Query) model.Prepared {
	pp, _ := m.prepared.Get().(*prepared)
	if pp == nil {
		pp = &prepared{m: m}
	}
	pp.q, pp.s = q, m.settings()
	pp.hist, pp.hw = m.history(q)
	return pp
}

// prepared is one query's parts, computed when a setting first needs them.
type prepared struct {
	m        *Filter
	q        model.Query
	hist     []int32
	hw       []float32
	s        settings // the settings in force at Prepare
	passes   []part   // history passes by (recency, decay)
	mixes    []part   // mixes by (recency, decay, ials share, uknn share)
	ials     []float32
	users    []float32
	gotUsers bool
	free     [][]float32 // buffers of length n to reuse
}

// part is a computed score vector and the settings it was computed for.
type part struct {
	key    [4]float64
	scores []float32
}

// Score implements model.Prepared: what Adjust(p) then Score would write.
func (pp *prepared) Score(p model.Params, scores []float32) error {
	m := pp.m
	s, err := m.with(pp.s, p)
	if err != nil {
		return err
	}
	clear(scores)
	n := m.st.N
	if len(scores) < n {
		return nil
	}
	copy(scores, pp.mixed(s))
	m.penalise(scores[:n], s)
	return nil
}

// Release implements model.Prepared: the buffers go back to the model
// for its next Prepare.
func (pp *prepared) Release() {
	for _, ps := range [][]part{pp.passes, pp.mixes} {
		for _, p := range ps {
			pp.free = append(pp.free, p.scores)
		}
	}
	for _, v := range [][]float32{pp.ials, pp.users} {
		if v != nil {
			pp.free = append(pp.free, v)
		}
	}
	pp.passes, pp.mixes = pp.passes[:0], pp.mixes[:0]
	pp.ials, pp.users, pp.gotUsers = nil, nil, false
	pp.q, pp.hist, pp.hw = model.Query{}, nil, nil
	pp.m.prepared.Put(pp)
}

// buffer returns a vector of length n to overwrite.
func (pp *prepared) buffer() []float32 {
	for k := len(pp.free); k > 0; k-- {
		v := pp.free[k-1]
		pp.free = pp.free[:k-1]
		if len(v) == pp.m.st.N { // not from before a refit
			return v
		}
	}
	return make([]float32, pp.m.st.N)
}

// find returns the vector of ps computed for key, or nil.
func find(ps []part, key [4]float64) []float32 {
	for _, p := range ps {
		if p.key == key {
			return p.scores
		}
	}
	return nil
}

// mixed returns the filter's scores under s mixed with the other parts,
// before the popularity penalty, computing them on first use.
func (pp *prepared) mixed(s settings) []float32 {
	m := pp.m
	var ials, users []float32
	if m.ials != nil && s.ials > 0 {
		if pp.ials == nil {
			pp.ials = pp.buffer()
			clear(pp.ials)
			m.ials.Score(pp.q, pp.ials)
		}
		ials = pp.ials
	}
	if m.users != nil && s.uknn > 0 {
		if !pp.gotUsers {
			pp.users, pp.gotUsers = pp.buffer(), true
			m.userScores(pp.q, pp.hist, pp.users)
		}
		users = pp.users
	}
	pass := pp.pass(s.recency, s.decay)
	if ials == nil && users == nil {
		return pass
	}
	key := [4]float64{s.recency, s.decay, 0, 0}
	if ials != nil {
		key[2] = s.ials
	}
	if users != nil {
		key[3] = s.uknn
	}
	if v := find(pp.mixes, key); v != nil {
		return v
	}
	v := pp.buffer()
	copy(v, pass)
	m.mix(v, ials, users, s)
	pp.mixes = append(pp.mixes, part{key: key, scores: v})
	return v
}

// pass returns the history pass for recency and decay, computing it on
// first use.
func (pp *prepared) pass(recency, decay float64) []float32 {
	key := [4]float64{recency, decay}
	if v := find(pp.passes, key); v != nil {
		return v
	}
	v := pp.buffer()
	clear(v)
	pp.m.filterPass(pp.hist, pp.hw, recency, decay, v)
	pp.passes = append(pp.passes, part{key: key, scores: v})
	return v
}
