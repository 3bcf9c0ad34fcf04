//go:build tune

package searcheval

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/aisle-dev/aisle/embed"
	"github.com/aisle-dev/aisle/embed/uselite"
	"github.com/aisle-dev/aisle/internal/testdata"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/store/vecfile"
)

// TestTuneFusion compares hybrid fusion settings on the TRAIN queries of
// ESCI-US 150 only (USE-lite vectors from the cache that `aisle eval search
// --vectors FILE` writes), prints the grid, and reports test nDCG@10 of
// the best train setting once. Run by hand:
//
//	AISLE_VECTORS=/tmp/esci-use-lite.vec go test -tags tune -run TuneFusion -v -timeout 60m ./search/searcheval/
func TestTuneFusion(t *testing.T) {
	path := os.Getenv("AISLE_VECTORS")
	if path == "" {
		t.Skip("set AISLE_VECTORS to the USE-lite vector cache of ESCI-US 150 (aisle eval search --vectors FILE)")
	}
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
	ctx := context.Background()
	enc := uselite.New(uselite.Config{})
	vf, err := vecfile.Load(path, fmt.Sprintf("%s/%d", enc.Name(), enc.Dim()))
	if err != nil {
		t.Fatal(err)
	}
	cfg := search.DefaultConfig()
	ix, err := search.NewIndex(cfg, search.Options{Embedder: enc, QueryEmbedder: embed.NewCache(enc, 1000), Vectors: vf})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if err := ix.Upsert(ctx, ds.Items...); err != nil {
		t.Fatal(err)
	}
	if err := ix.WaitVectors(ctx); err != nil {
		t.Fatal(err)
	}
	if vf.Dirty() {
		t.Logf("cache was incomplete; saving")
		if err := vf.Save(path); err != nil {
			t.Fatal(err)
		}
	}
	eval := func(d *Dataset, mode search.Mode, f search.Fusion) *Report {
		c := cfg
		c.Fusion = f
		if err := ix.SetConfig(c); err != nil {
			t.Fatal(err)
		}
		rep, err := Evaluate(ctx, ix, d, mode, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	kwTrain := eval(train, search.ModeKeyword, cfg.Fusion).Metrics["all"].NDCG
	fmt.Printf("keyword train %.4f\n", kwTrain)
	var grid []search.Fusion
	for _, depth := range []int{50, 100, 200} {
		for _, k := range []float64{10, 60} {
			for _, a := range []float64{0.5, 0.7, 0.8, 0.9} {
				grid = append(grid, search.Fusion{Method: "rrf", Alpha: a, RRFK: k, Depth: depth})
			}
		}
		for _, m := range []string{"convex", "rerank"} {
			for _, n := range []string{"minmax", "zscore", "rank"} {
				for _, a := range []float64{0.5, 0.6, 0.7, 0.8, 0.9, 0.95} {
					for _, g := range []float64{0, 0.5, 1} {
						grid = append(grid, search.Fusion{Method: m, Norm: n, Alpha: a, Depth: depth, Gate: g})
					}
				}
			}
		}
	}
	best, bestF := -1.0, cfg.Fusion
	for _, f := range grid {
		s := eval(train, search.ModeHybrid, f).Metrics["all"].NDCG
		fmt.Printf("%-7s %-7s depth %3d alpha %.2f k %2g gate %.1f  train %.4f\n", f.Method, f.Norm, f.Depth, f.Alpha, f.RRFK, f.Gate, s)
		if s > best+1e-4 {
			best, bestF = s, f
		}
	}
	fmt.Printf("best on train: %+v train %.4f (keyword %.4f)\n", bestF, best, kwTrain)
	all := eval(ds, search.ModeHybrid, bestF)
	kw := eval(ds, search.ModeKeyword, cfg.Fusion)
	fmt.Printf("hybrid: train %.4f test %.4f all %.4f\nkeyword: train %.4f test %.4f all %.4f\n",
		all.Metrics["train"].NDCG, all.Metrics["test"].NDCG, all.Metrics["all"].NDCG,
		kw.Metrics["train"].NDCG, kw.Metrics["test"].NDCG, kw.Metrics["all"].NDCG)
}
