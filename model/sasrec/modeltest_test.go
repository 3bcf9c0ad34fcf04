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
// popularity (known users and fold-in), reads Query.History, saves and
// loads bit-identically, and scores concurrently.
func TestSharedModelContract(t *testing.T) {
	s := modeltest.Synthetic()
	m := newSmall(t)
	modeltest.AssertBeatsPopularity(t, m, s, 0.02, modeltest.Known, modeltest.FoldIn)
	train, _ := modeltest.LeaveLastOut(s.DS)
	modeltest.AssertFoldIn(t, m, s)
	modeltest.AssertRoundTrip(t, m, newSmall(t), train)
	modeltest.AssertConcurrentScore(t, m, train)
	var _ model.ItemEmbedder = m
}
