package searcheval

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/search/ltr"
)

// cheapIsRelevant is a judged catalogue where, among the items matching a
// query, exactly the cheap ones are relevant: text relevance cannot tell
// them apart, price can.
func cheapIsRelevant(queries int, split bool) *Dataset {
	rng := rand.New(rand.NewPCG(3, 4))
	ds := &Dataset{Format: "qrels"}
	filler := []string{"deluxe", "classic", "compact", "large", "premium", "basic", "pro", "mini"}
	for q := 0; q < queries; q++ {
		word := fmt.Sprintf("gadget%c%c", 'a'+q%26, 'a'+q/26)
		gains := map[string]float64{}
		for i := 0; i < 16; i++ {
			p := 5 + float64(rng.IntN(20))
			if i%2 == 1 {
				p += 100
			}
			var title []string
			for k := 0; k < 1+rng.IntN(4); k++ {
				title = append(title, filler[rng.IntN(len(filler))])
			}
			title = append(title, word)
			rng.Shuffle(len(title), func(a, b int) { title[a], title[b] = title[b], title[a] })
			id := fmt.Sprintf("%s-%d", word, i)
			ds.Items = append(ds.Items, catalog.Item{ID: id, Title: strings.Join(title, " "), Price: &p, Available: true})
			if i%2 == 0 {
				gains[id] = 1
			} else {
				gains[id] = 0
			}
		}
		s := ""
		if split {
			s = "train"
			if q%3 == 0 {
				s = "test"
			}
		}
		ds.Queries = append(ds.Queries, Query{Text: word, Gains: gains, Split: s})
	}
	return ds
}

func TestEvaluateLTRLearnsAndNeverSeesItsQueries(t *testing.T) {
	ctx := context.Background()
	for _, split := range []bool{false, true} {
		t.Run(fmt.Sprint("split=", split), func(t *testing.T) {
			ds := cheapIsRelevant(45, split)
			ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := ix.Upsert(ctx, ds.Items...); err != nil {
				t.Fatal(err)
			}
			kw, err := Evaluate(ctx, ix, ds, search.ModeKeyword, nil)
			if err != nil {
				t.Fatal(err)
			}
			p := ltr.DefaultParams(nil)
			p.MinDocsPerLeaf = 5
			done := 0
			res, err := EvaluateLTR(ctx, ix, ds, LTROptions{Params: p, Folds: 3}, func(d, _ int) { done = d })
			if err != nil {
				t.Fatal(err)
			}
			rep := res.Report
			if done != len(ds.Queries) || len(rep.PerQuery) != len(ds.Queries) {
				t.Fatalf("%d queries scored, progress at %d, want %d", len(rep.PerQuery), done, len(ds.Queries))
			}
			for i, q := range rep.PerQuery {
				if q.Query != ds.Queries[i].Text {
					t.Fatalf("result %d is for %q, want %q", i, q.Query, ds.Queries[i].Text)
				}
			}
			split := "all"
			if rep.Queries["test"] > 0 {
				split = "test"
			}
			if got, base := rep.Metrics[split].NDCG, kw.Metrics[split].NDCG; got < 0.95 || got < base+0.1 {
				t.Errorf("%s nDCG@10: ltr %.3f, keyword %.3f", split, got, base)
			}
			if ix.Ranker() != nil {
				t.Error("the ranker was left on the index")
			}
			// a saved model scores the same data set without training
			res2, err := EvaluateLTR(ctx, ix, ds, LTROptions{Model: res.Model}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res2.Report.Metrics["all"].NDCG < 0.95 {
				t.Errorf("given model: nDCG %.3f", res2.Report.Metrics["all"].NDCG)
			}
		})
	}
}
