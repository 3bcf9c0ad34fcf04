package modeltest_test

import (
	"context"
	"testing"

	"github.com/aisle-dev/aisle/eval"
	"github.com/aisle-dev/aisle/internal/testdata"
	"github.com/aisle-dev/aisle/model"
)

// TestItemFilterQuality pins the quality itemfilter reached on the public
// benchmarks (issue 19 item 6) through the evaluator that
// `aisle eval recommend` runs, so a regression fails. It needs the shared
// data sets and a few minutes of CPU, so -short skips it.
func TestItemFilterQuality(t *testing.T) {
	if testing.Short() {
		t.Skip("fits itemfilter on ML-1M, Office and five ML-100k folds: minutes of CPU; run without -short")
	}
	for _, tc := range []struct {
		name, format, dataset string
		params                model.Params
		atLeast               map[string]float64
	}{
		{"ML-1M LCFN", "lcfn", "movielens-1m-implicit", nil,
			map[string]float64{"Recall@20": ML1MRecall, "NDCG@20": ML1MNDCG}},
		{"Office full ranking, recency and iALS share chosen on the dev split", "rechorus", "amazon-office-5core",
			nil, map[string]float64{"HR@10:all": OfficeHR10}},
		{"ML-100k 5-fold", "movielens-100k", "movielens-100k", nil,
			map[string]float64{"NDCG@10": ML100kNDCG}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := testdata.Path(t, tc.dataset)
			rep, err := eval.RunRecommend(context.Background(), eval.RecommendOptions{
				Format: tc.format, Path: path, Models: []string{"itemfilter"},
				Params: map[string]model.Params{"itemfilter": tc.params},
			})
			if err != nil {
				t.Fatal(err)
			}
			res := rep.Results[0]
			if res.Error != "" {
				t.Fatal(res.Error)
			}
			for k, min := range tc.atLeast {
				got, ok := res.Metrics[k]
				if !ok {
					t.Fatalf("no %s in %v", k, res.Metrics)
				}
				t.Logf("%s %s = %.4f (pinned ≥ %.4f), fit %.1f s", tc.name, k, got, min, res.TrainSeconds)
				if got < min {
					t.Errorf("%s %s = %.4f, below the %.4f reached when this test was written", tc.name, k, got, min)
				}
			}
		})
	}
}

// The measured values (docs/benchmarks.md, "Beyond the research numbers",
// "Query-time settings chosen on validation (session 7)" and "Research
// numbers (session 8)" and "(session 9)") minus 0.001 for floating-point differences across
// machines.
const (
	ML1MRecall = 0.2876 // measured 0.2886 (session 8: share 0.3, pop 0.1 chosen); 0.2884 with the noise rule (fitted settings kept)
	ML1MNDCG   = 0.2744 // measured 0.2754; 0.2751 with the noise rule
	OfficeHR10 = 0.0805 // measured 0.0815 (session 8: recency 64, iALS share 0.4, pop 0.5 chosen on dev)
	// Session 8's wider grid lowered ML-100k from 0.4525 to 0.4495: its
	// validation chose share 0.8 on a gain within one draw's noise (1.3 SE),
	// and the noise rule (decision 0062) kept share 0.4 (0.4520). Session 9
	// tried three validation draws (decision 0064, not adopted): they chose
	// share 0.8 again and measured 0.4495, so the pin stays at that level.
	ML100kNDCG = 0.4485 // measured 0.4520 (session 8, fitted settings kept by the noise rule); 0.4495 with share 0.8
)
