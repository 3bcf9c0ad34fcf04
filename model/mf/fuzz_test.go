package mf

import (
	"testing"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/modeltest"
)

// FuzzLoad: Load of arbitrary bytes into either factor model either fails or
// yields a model whose Score and Similar do not panic.
func FuzzLoad(f *testing.F) {
	modeltest.FuzzLoad(f, modeltest.Tiny(), []model.Model{fuzzIALS(f), fuzzBPR(f)},
		modeltest.LoadCase{
			Fresh:    func() model.Model { return new(IALS) },
			NumItems: func(m model.Model) int { return m.(*IALS).f.NumItems },
		},
		modeltest.LoadCase{
			Fresh:    func() model.Model { return new(BPR) },
			NumItems: func(m model.Model) int { return m.(*BPR).f.NumItems },
		})
}

func fuzzIALS(tb testing.TB) *IALS {
	m, err := NewIALS(model.Params{"factors": 4, "iterations": 2})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func fuzzBPR(tb testing.TB) *BPR {
	m, err := NewBPR(model.Params{"factors": 4, "epochs": 2})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}
