package ltr_test

import (
	"bytes"
	"context"
	"fmt"
	"log"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/search/ltr"
)

// Train a ranker from judged queries on an index's candidates, save and
// load it, and search with it.
func Example() {
	ctx := context.Background()
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
	if err != nil {
		log.Fatal(err)
	}
	p := func(v float64) *float64 { return &v }
	err = ix.Upsert(ctx,
		catalog.Item{ID: "a", Title: "black ink cartridge", Price: p(30), Available: true},
		catalog.Item{ID: "b", Title: "ink cartridge refill kit", Price: p(12), Available: true},
		catalog.Item{ID: "c", Title: "cartridge ink black xl", Price: p(45), Available: true},
	)
	if err != nil {
		log.Fatal(err)
	}
	judged := map[string]map[string]float64{ // query → item → gain
		"ink cartridge":       {"a": 1, "c": 1, "b": 0.1},
		"black ink":           {"a": 1, "c": 1},
		"cartridge refill":    {"b": 1},
		"black ink cartridge": {"a": 1, "c": 0.1},
	}
	var train []ltr.Query
	for q, gains := range judged {
		cands, err := ix.Candidates(ctx, search.Request{Query: q})
		if err != nil {
			log.Fatal(err)
		}
		lq := ltr.Query{ID: q}
		for _, c := range cands {
			lq.Features = append(lq.Features, c.Features)
			lq.Labels = append(lq.Labels, gains[c.ID])
		}
		train = append(train, lq)
	}
	params := ltr.DefaultParams(search.FeatureNames())
	params.BaseFeature = search.LTRBaseFeature
	params.MinDocsPerLeaf = 1
	params.Trees = 20
	m, err := ltr.Train(ctx, train, nil, params)
	if err != nil {
		log.Fatal(err)
	}
	var file bytes.Buffer // a file in practice
	if err := m.Save(&file); err != nil {
		log.Fatal(err)
	}
	loaded, err := ltr.Load(&file)
	if err != nil {
		log.Fatal(err)
	}
	if err := ix.SetRanker(loaded); err != nil {
		log.Fatal(err)
	}
	res, err := ix.Search(ctx, search.Request{Query: "ink cartridge", Mode: search.ModeLTR})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Mode, len(res.Items))
	// Output: ltr 3
}
