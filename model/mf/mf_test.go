package mf_test

import (
	"context"
	"errors"
	"math"
	"strings"
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
	{"ials-regexp", ials, model.Params{"factors": 16, "reg": 1, "alpha": 5, "reg_exp": 1}},
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
			modeltest.AssertSimilarClusters(t, m.(model.SimilarItems), s)
			fresh, _ := tc.new(nil)
			modeltest.AssertRoundTrip(t, m, fresh, s.DS)
			modeltest.AssertConcurrentScore(t, m, s.DS)
		})
	}
}

func TestProgressAndLoss(t *testing.T) {
	s := modeltest.Synthetic()
	for _, tc := range models {
		t.Run(tc.name, func(t *testing.T) {
			p := model.Params{}
			for k, v := range tc.p {
				p[k] = v
			}
			if strings.HasPrefix(tc.name, "bpr") {
				p["epochs"] = 5
			} else {
				p["iterations"] = 4
			}
			m, _ := tc.new(p)
			st := modeltest.Fit(t, m, s.DS)
			if len(st) == 0 || st[len(st)-1].Epoch != st[len(st)-1].Of {
				t.Fatalf("statuses %+v: want one per epoch ending at the last", st)
			}
			first, last := st[0].Loss, st[len(st)-1].Loss
			if math.IsNaN(last) || last >= first {
				t.Errorf("loss went %v → %v, want a decrease", first, last)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	s := modeltest.Synthetic()
	for _, tc := range models {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := tc.new(tc.p)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := m.Fit(ctx, s.DS, nil); !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
		})
	}
}

func TestBadParams(t *testing.T) {
	for _, p := range []model.Params{{"factors": 0}, {"reg": -1}, {"nope": 1}} {
		if _, err := mf.NewIALS(p); err == nil {
			t.Errorf("NewIALS(%v) succeeded", p)
		}
		if _, err := mf.NewBPR(p); err == nil {
			t.Errorf("NewBPR(%v) succeeded", p)
		}
	}
	if _, err := mf.NewBPR(model.Params{"fold_reg": 0, "fold_w0": 0}); err == nil {
		t.Error("a singular fold-in was accepted")
	}
}

// TestWarmStart: a model warm-started from a fitted one and trained for a
// single iteration on a data set with shuffled ids (plus a new item) scores
// like the previous model after many; a cold one-iteration model does not.
func TestWarmStart(t *testing.T) {
	s := modeltest.Synthetic()
	train, test := modeltest.LeaveLastOut(s.DS)

	// the same data with the users in reverse order and one extra, unseen item
	nu := train.NumUsers()
	rev := &model.Dataset{UserPtr: []int{0}, ItemIDs: append(append([]string{}, train.ItemIDs...), "new")}
	revTest := make([]int32, nu)
	for u := nu - 1; u >= 0; u-- {
		rev.UserIDs = append(rev.UserIDs, train.UserIDs[u])
		rev.Items = append(rev.Items, train.Row(u)...)
		rev.Weights = append(rev.Weights, train.RowWeights(u)...)
		rev.UserPtr = append(rev.UserPtr, len(rev.Items))
		revTest[nu-1-u] = test[u]
	}

	cases := []struct {
		name string
		fit  func(p model.Params) (prev, warm, cold model.Model)
	}{
		{"ials", func(p model.Params) (model.Model, model.Model, model.Model) {
			prev, _ := mf.NewIALS(model.Params{"factors": 16, "reg": 1, "alpha": 5})
			modeltest.Fit(t, prev, train)
			warm, _ := mf.NewIALS(model.Params{"factors": 16, "reg": 1, "alpha": 5, "iterations": 1})
			if err := warm.WarmStart(prev); err != nil {
				t.Fatal(err)
			}
			cold, _ := mf.NewIALS(model.Params{"factors": 16, "reg": 1, "alpha": 5, "iterations": 1})
			bad, _ := mf.NewIALS(model.Params{"factors": 8})
			if err := bad.WarmStart(prev); err == nil {
				t.Error("warm start across factor counts accepted")
			}
			return prev, warm, cold
		}},
		{"bpr", func(p model.Params) (model.Model, model.Model, model.Model) {
			prev, _ := mf.NewBPR(model.Params{"factors": 16, "epochs": 30})
			modeltest.Fit(t, prev, train)
			warm, _ := mf.NewBPR(model.Params{"factors": 16, "epochs": 1, "lr": 0.005})
			if err := warm.WarmStart(prev); err != nil {
				t.Fatal(err)
			}
			cold, _ := mf.NewBPR(model.Params{"factors": 16, "epochs": 1, "lr": 0.005})
			return prev, warm, cold
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prev, warm, cold := tc.fit(nil)
			modeltest.Fit(t, warm, rev)
			modeltest.Fit(t, cold, rev)
			rp := modeltest.Recall(prev, train, test, 10, modeltest.Known)
			rw := modeltest.Recall(warm, rev, revTest, 10, modeltest.Known)
			rc := modeltest.Recall(cold, rev, revTest, 10, modeltest.Known)
			t.Logf("Recall@10 previous %.3f, warm 1 epoch %.3f, cold 1 epoch %.3f", rp, rw, rc)
			if rw < rp-0.05 || rw <= rc {
				t.Errorf("warm start lost the previous model: previous %.3f, warm %.3f, cold %.3f", rp, rw, rc)
			}
		})
	}
}

// benchData is a mid-sized synthetic set for the hot-path benchmarks.
func benchData() *modeltest.Synth {
	return modeltest.SyntheticWith(modeltest.Config{Users: 2000, Items: 3000, Clusters: 20, MinPer: 20, MaxPer: 100, Focus: 0.8, Seed: 3})
}

func BenchmarkFitIALS(b *testing.B) {
	s := benchData()
	for b.Loop() {
		m, _ := mf.NewIALS(model.Params{"iterations": 3})
		modeltest.Fit(b, m, s.DS)
	}
}

func BenchmarkFitBPR(b *testing.B) {
	s := benchData()
	for b.Loop() {
		m, _ := mf.NewBPR(model.Params{"epochs": 3})
		modeltest.Fit(b, m, s.DS)
	}
}

// BenchmarkScoreIALS measures one query over 3000 items with 64 factors:
// a known user, and a fold-in of a 50-item history.
func BenchmarkScoreIALS(b *testing.B) {
	s := benchData()
	m, _ := mf.NewIALS(model.Params{"iterations": 2})
	modeltest.Fit(b, m, s.DS)
	scores := make([]float32, s.DS.NumItems())
	b.Run("known", func(b *testing.B) {
		for b.Loop() {
			m.Score(model.Query{User: 7}, scores)
		}
	})
	hist := s.DS.Items[:50]
	b.Run("foldin50", func(b *testing.B) {
		for b.Loop() {
			m.Score(model.Query{User: -1, History: hist}, scores)
		}
	})
}

var (
	_ model.ItemEmbedder = (*mf.IALS)(nil)
	_ model.SimilarItems = (*mf.IALS)(nil)
	_ model.ItemEmbedder = (*mf.BPR)(nil)
	_ model.SimilarItems = (*mf.BPR)(nil)
)
