package mf

import (
	"bytes"
	"context"
	"testing"

	"github.com/aisle-dev/aisle/model"
)

// FuzzLoad: Load of arbitrary bytes into either factor model either fails or
// yields a model whose Score and Similar do not panic.
func FuzzLoad(f *testing.F) {
	ds := &model.Dataset{ItemIDs: []string{"a", "b", "c"}, UserIDs: []string{"u", "v"},
		UserPtr: []int{0, 2, 3}, Items: []int32{0, 1, 2}}
	for _, m := range []model.Model{fuzzIALS(f), fuzzBPR(f)} {
		if err := m.Fit(context.Background(), ds, nil); err != nil {
			f.Fatal(err)
		}
		var buf bytes.Buffer
		if err := m.Save(&buf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var a IALS
		if a.Load(bytes.NewReader(data)) == nil {
			s := make([]float32, a.f.NumItems)
			a.Score(model.Query{User: 0}, s)
			a.Score(model.Query{User: -1, History: []int32{0, 5, -1}}, s)
			a.Similar(0, s)
		}
		var b BPR
		if b.Load(bytes.NewReader(data)) == nil {
			s := make([]float32, b.f.NumItems)
			b.Score(model.Query{User: 0}, s)
			b.Score(model.Query{User: 1, History: []int32{0, 5, -1}}, s)
			b.Similar(0, s)
		}
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
