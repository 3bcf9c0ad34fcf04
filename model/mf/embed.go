package mf

import (
	"fmt"

	"github.com/aisle-dev/aisle/model"
)

// userVector writes the query's user vector into dst: folded in from
// History, or the learned vector of a known user; false when neither.
func (f *factors) userVector(fi *foldIn, q model.Query, dst []float32) bool {
	switch {
	case len(q.History) > 0:
		fi.solve(f, q.History, q.HistoryWeights, dst)
		return true
	case q.User >= 0 && int(q.User) < f.NumUsers:
		copy(dst, f.user(int(q.User)))
		return true
	}
	return false
}

// UserVector implements model.UserEmbedder.
func (m *IALS) UserVector(q model.Query, dst []float32) bool {
	if !m.p.UseWeights {
		q.HistoryWeights = nil
	}
	return m.f.userVector(&m.fi, q, dst)
}

// ItemBias implements model.UserEmbedder.
func (m *IALS) ItemBias() []float32 { return m.f.ItemBias }

// UserVector implements model.UserEmbedder.
func (m *BPR) UserVector(q model.Query, dst []float32) bool {
	return m.userVector(q, dst)
}

// ItemBias implements model.UserEmbedder.
func (m *BPR) ItemBias() []float32 { return m.f.ItemBias }

// NewIALSFromFactors builds a fitted iALS model from given factors
// (row-major, dim columns), e.g. to serve vectors trained elsewhere or to
// benchmark serving at a size no training run here reaches. p are the
// hyper-parameters used by fold-in (reg, alpha).
func NewIALSFromFactors(p model.Params, dim int, userIDs, itemIDs []string, users, items []float32) (*IALS, error) {
	m, err := NewIALS(p)
	if err != nil {
		return nil, err
	}
	m.p.Factors = dim
	m.p.MeanUserLen = 1
	m.f = factors{Dim: dim, NumUsers: len(userIDs), NumItems: len(itemIDs), U: users, V: items,
		Pop: make([]float32, len(itemIDs)), UserIDs: userIDs, ItemIDs: itemIDs}
	if err := m.f.check(); err != nil {
		return nil, fmt.Errorf("iALS from factors: %w", err)
	}
	m.fi = m.foldIn()
	return m, nil
}

// WarmStartFrom implements model.WarmStarter.
func (m *IALS) WarmStartFrom(prev model.Model) error {
	p, ok := prev.(*IALS)
	if !ok {
		return fmt.Errorf("ials: cannot warm-start from a %s model", prev.Name())
	}
	return m.WarmStart(p)
}

// WarmStartFrom implements model.WarmStarter.
func (m *BPR) WarmStartFrom(prev model.Model) error {
	p, ok := prev.(*BPR)
	if !ok {
		return fmt.Errorf("bpr: cannot warm-start from a %s model", prev.Name())
	}
	return m.WarmStart(p)
}

var (
	_ model.WarmStarter  = (*IALS)(nil)
	_ model.WarmStarter  = (*BPR)(nil)
	_ model.UserEmbedder = (*IALS)(nil)
	_ model.UserEmbedder = (*BPR)(nil)
)
