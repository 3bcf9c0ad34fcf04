package related_test

import (
	"context"
	"testing"

	"github.com/aisle-dev/aisle/eval"
	"github.com/aisle-dev/aisle/related"
)

// officeRelations loads Amazon Office with the demo catalogue, or skips
// (OfficeRelations, in office_internal_test.go, serves both test packages).
var officeRelations = related.OfficeRelations

// BenchmarkComplementModelOffice measures bought-together against
// Office's "also bought" with the learned blend and with the learned
// complement model (quality, not time: go test ./related -run XXX -bench
// ComplementModelOffice -benchtime 1x -v).
func BenchmarkComplementModelOffice(b *testing.B) {
	rel := officeRelations(b)
	leafOf := map[string]string{}
	for _, it := range rel.Items {
		if len(it.Categories) > 0 {
			leafOf[it.ID] = it.Categories[0]
		}
	}
	val, test := eval.SplitRelations(rel.Complements)
	for b.Loop() {
		for _, use := range []related.ModelUse{related.ModelOff, related.ModelAlways} {
			ix, rep, err := related.Learn(context.Background(), rel.Items, rel.Train, nil, nil, related.Config{ComplementModel: use}, nil)
			if err != nil {
				b.Fatal(err)
			}
			got := map[string][]string{}
			for a, r := range rel.Complements {
				if len(r) == 0 {
					continue
				}
				for _, x := range ix.Complements(a, 10, nil) {
					got[a] = append(got[a], x.ID)
				}
			}
			leaf := func(id string) string { return leafOf[id] }
			v := eval.ScoreRelations(got, val, leaf, 10)
			t := eval.ScoreRelations(got, test, leaf, 10)
			b.Logf("model=%d held-out blend %.4f model %.4f (%s): validation NDCG@10 %.4f HR %.4f same-leaf %.3f; test %.4f HR %.4f same-leaf %.3f",
				use, rep.ModelBlend, rep.ModelNDCG, rep.Model, v.NDCG, v.HR, v.SameLeaf, t.NDCG, t.HR, t.SameLeaf)
		}
	}
}
