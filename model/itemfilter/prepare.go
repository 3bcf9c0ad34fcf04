package itemfilter

import (
	"slices"

	"github.com/aisle-dev/aisle/model"
)

// Prepare implements model.Rescorer: every query-time setting re-weights
// parts computed per query (the history pass over B for a history bonus,
// the factor and neighbour parts' scores) or re-mixes them, so a
// validation trying many settings computes each part once per query:
// the history pass once per (recency, decay) asked, the other parts once.
func (m *Filter) Prepare(q model.Query) model.Prepared {
	hist, hw := m.history(q)
	return &prepared{m: m, q: q, hist: hist, hw: hw, s: m.settings()}
}

// prepared is one query's parts, computed when a setting first needs them.
type prepared struct {
	m        *Filter
	q        model.Query
	hist     []int32
	hw       []float32
	s        settings // the settings in force at Prepare
	passes   []pass   // history passes by (recency, decay)
	ials     []float32
	users    []float32
	gotUsers bool
}

// pass is the history pass for one history bonus and decay.
type pass struct {
	recency, decay float64
	scores         []float32
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
	copy(scores, pp.pass(s.recency, s.decay))
	var ials, users []float32
	if m.ials != nil && s.ials > 0 {
		if pp.ials == nil {
			pp.ials = m.ialsScores(pp.q)
		}
		ials = pp.ials
	}
	if m.users != nil && s.uknn > 0 {
		if !pp.gotUsers {
			pp.users, pp.gotUsers = m.userScores(pp.q, pp.hist), true
		}
		users = pp.users
	}
	m.finish(scores[:n], ials, users, s)
	return nil
}

// pass returns the history pass for recency and decay, computing it on
// first use.
func (pp *prepared) pass(recency, decay float64) []float32 {
	i := slices.IndexFunc(pp.passes, func(p pass) bool { return p.recency == recency && p.decay == decay })
	if i >= 0 {
		return pp.passes[i].scores
	}
	out := make([]float32, pp.m.st.N)
	pp.m.filterPass(pp.hist, pp.hw, recency, decay, out)
	pp.passes = append(pp.passes, pass{recency: recency, decay: decay, scores: out})
	return out
}
