//go:build tune

package searcheval

import (
	"context"
	"fmt"
	"testing"

	"github.com/aisle-dev/aisle/internal/testdata"
	"github.com/aisle-dev/aisle/search"
)

// TestTuneESCI tunes the ranking settings by coordinate ascent on the TRAIN
// queries of ESCI-US 150 only, then prints train and test nDCG@10 of the
// result. Run by hand (it is not part of CI):
//
//	go test -tags tune -run TuneESCI -v -timeout 30m ./search/searcheval/
func TestTuneESCI(t *testing.T) {
	ds, err := LoadESCI(testdata.Path(t, "esci-us-150"))
	if err != nil {
		t.Fatal(err)
	}
	train := &Dataset{Format: ds.Format, Items: ds.Items}
	for _, q := range ds.Queries {
		if q.Split == "train" {
			train.Queries = append(train.Queries, q)
		}
	}
	cfg := search.DefaultConfig()
	ix, err := search.NewIndex(cfg, search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := ix.Upsert(ctx, ds.Items...); err != nil {
		t.Fatal(err)
	}
	score := func(c search.Config) float64 {
		if err := ix.SetConfig(c); err != nil {
			t.Fatal(err)
		}
		rep, err := Evaluate(ctx, ix, train, search.ModeKeyword, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rep.Metrics["all"].NDCG
	}
	type param struct {
		name   string
		ptr    func(*search.Config) *float64
		values []float64
	}
	fw := func(i int) func(*search.Config) *float64 {
		return func(c *search.Config) *float64 { return &c.FieldWeights[i] }
	}
	fb := func(i int) func(*search.Config) *float64 {
		return func(c *search.Config) *float64 { return &c.FieldB[i] }
	}
	params := []param{
		{"w.title", fw(0), []float64{1, 2, 3, 4, 6, 8}},
		{"w.brand", fw(1), []float64{0, 0.5, 1, 2, 3}},
		{"w.categories", fw(2), []float64{0, 0.25, 0.5, 1, 2}},
		{"w.attributes", fw(3), []float64{0, 0.25, 0.5, 1, 2}},
		{"w.description", fw(4), []float64{0, 0.1, 0.25, 0.5, 1}},
		{"b.title", fb(0), []float64{0.25, 0.5, 0.75, 0.9}},
		{"b.description", fb(4), []float64{0.25, 0.5, 0.75, 0.9}},
		{"k1", func(c *search.Config) *float64 { return &c.K1 }, []float64{0.6, 0.9, 1.2, 1.6, 2.2, 3}},
		{"coverage", func(c *search.Config) *float64 { return &c.Coverage }, []float64{0, 0.5, 1, 2, 3, 4}},
		{"proximity", func(c *search.Config) *float64 { return &c.ProximityBoost }, []float64{0, 0.1, 0.2, 0.4, 0.8}},
		{"title_all", func(c *search.Config) *float64 { return &c.TitleAllBoost }, []float64{0, 0.1, 0.2, 0.4, 0.8}},
		{"typo", func(c *search.Config) *float64 { return &c.TypoWeight }, []float64{0, 0.1, 0.3, 0.5}},
		{"prefix", func(c *search.Config) *float64 { return &c.PrefixWeight }, []float64{0, 0.1, 0.3, 0.5}},
	}
	best := score(cfg)
	t.Logf("start: train nDCG@10 %.4f", best)
	for pass := 0; pass < 2; pass++ {
		for _, p := range params {
			cur := *p.ptr(&cfg)
			bestV := cur
			for _, v := range p.values {
				if v == cur {
					continue
				}
				c := cfg
				*p.ptr(&c) = v
				if s := score(c); s > best+1e-4 {
					best, bestV = s, v
				}
			}
			*p.ptr(&cfg) = bestV
			t.Logf("pass %d %-14s = %-5g train %.4f", pass, p.name, bestV, best)
		}
	}
	if err := ix.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	rep, err := Evaluate(ctx, ix, ds, search.ModeKeyword, nil)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("tuned: %+v\ntrain %.4f test %.4f all %.4f\n", cfg, rep.Metrics["train"].NDCG, rep.Metrics["test"].NDCG, rep.Metrics["all"].NDCG)
}
