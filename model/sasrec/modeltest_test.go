package sasrec_test

import (
	"testing"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/modeltest"
	"github.com/aisle-dev/aisle/model/sasrec"
)

// newSmall is a model small enough for the shared synthetic data set.
func newSmall(t *testing.T) *sasrec.Model {
	t.Helper()
	c := sasrec.DefaultConfig()
	c.Dim, c.FFN, c.Layers, c.MaxLen, c.Epochs, c.LR, c.Dropout, c.AttnDropout = 32, 64, 1, 20, 10, 3e-3, 0.2, 0.2
	m, err := sasrec.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSharedModelContract runs the checks every Aisle model passes: beats
// popularity (known users and fold-in) and reads Query.History. Skipped in
// -short mode (the race run); TestSharedModelMechanics covers the rest.
func TestSharedModelContract(t *testing.T) {
	if testing.Short() {
		t.Skip("trains to quality; run without -short")
	}
	s := modeltest.Synthetic()
	m := newSmall(t)
	modeltest.AssertBeatsPopularity(t, m, s, 0.02, modeltest.Known, modeltest.FoldIn)
	modeltest.AssertFoldIn(t, m, s)
}

// TestSharedModelMechanics: saves and loads bit-identically and scores
// concurrently (meaningful under -race), after a short fit.
func TestSharedModelMechanics(t *testing.T) {
	s := modeltest.Synthetic()
	train, _ := modeltest.LeaveLastOut(s.DS)
	m := newSmall(t)
	c := m.Config()
	c.Epochs = 1
	m, err := sasrec.New(c)
	if err != nil {
		t.Fatal(err)
	}
	modeltest.Fit(t, m, train)
	modeltest.AssertRoundTrip(t, m, newSmall(t), train)
	modeltest.AssertConcurrentScore(t, m, train)
	var _ model.ItemEmbedder = m
}
