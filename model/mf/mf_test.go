package mf_test

import (
	"testing"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/mf"
	"github.com/aisle-dev/aisle/model/modeltest"
)

type ctor func(model.Params) (model.Model, error)

func ials(p model.Params) (model.Model, error) { return mf.NewIALS(p) }
func bpr(p model.Params) (model.Model, error)  { return mf.NewBPR(p) }

var models = []struct {
	name string
	new  ctor
	p    model.Params
}{
	{"ials-cg", ials, model.Params{"factors": 16, "reg": 1, "alpha": 5}},
	{"ials-cholesky", ials, model.Params{"factors": 16, "reg": 1, "alpha": 5, "cg_steps": 0}},
	{"bpr-sgd", bpr, model.Params{"factors": 16, "epochs": 30}},
	{"bpr-adam", bpr, model.Params{"factors": 16, "epochs": 30, "adam": 1, "lr": 0.01}},
}

func TestQuality(t *testing.T) {
	s := modeltest.Synthetic()
	for _, tc := range models {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.new(tc.p)
			if err != nil {
				t.Fatal(err)
			}
			modeltest.AssertBeatsPopularity(t, m, s, 0.05, modeltest.Known, modeltest.FoldIn)
			modeltest.AssertFoldIn(t, m, s)
			fresh, _ := tc.new(nil)
			modeltest.AssertRoundTrip(t, m, fresh, s.DS)
			modeltest.AssertConcurrentScore(t, m, s.DS)
		})
	}
}
