package eval

import (
	"context"
	"os"
	"testing"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/adjust"
	"github.com/aisle-dev/aisle/model/zoo"
)

// BenchmarkValidationFraction is a throw-away harness (session 9): on
// ML-100k's fold-1 training rows only (never a test fold), it carves
// validations of several held-out fractions, three draws each, and prints
// the per-user paired NDCG@10 gain of itemfilter's iALS share 0.8 over 0.4
// (recency 0, pop 0), pooled per user over the draws as the evaluator does.
// Does the preferred share depend on how much the validation fit trains on?
func BenchmarkValidationFraction(b *testing.B) {
	path := os.Getenv("AISLE_EXP_ML100K")
	if path == "" {
		b.Skip("set AISLE_EXP_ML100K to the movielens-100k folder")
	}
	ctx := context.Background()
	d, err := Load(ctx, "movielens-100k", path, LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	v := d.Validation
	users, items := &idMap{ids: v.Train.UserIDs}, &idMap{ids: v.Train.ItemIDs}
	var rows []interaction
	for u := range v.Train.NumUsers() {
		for j := v.Train.UserPtr[u]; j < v.Train.UserPtr[u+1]; j++ {
			var ts int64
			if v.Train.Times != nil {
				ts = v.Train.Times[j]
			}
			rows = append(rows, interaction{user: int32(u), item: v.Train.Items[j], time: ts, seq: len(rows)})
		}
	}
	for _, c := range v.Cases {
		for _, it := range c.Targets {
			rows = append(rows, interaction{user: c.User, item: it, time: 1 << 40, seq: len(rows)})
		}
	}
	r := &runner{opt: RecommendOptions{Workers: 2}, data: d, ks: []int{10}}
	for _, frac := range []float64{0.1, 0.2, 0.3} {
		var splits []*Split
		var per4, per8 [][]float64
		for k := range 3 {
			t, h := carveValidation(rows, len(users.ids), frac, 100+uint64(k))
			ds := buildDataset(users, items, t, true, false)
			sp := &Split{Name: "validation", Train: ds, Cases: casesFromRows(ds, h, false), Full: true}
			m, err := zoo.New("itemfilter", nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := m.Fit(ctx, ds, nil); err != nil {
				b.Fatal(err)
			}
			am := m.(model.Adjustable)
			a, c := make([]float64, len(sp.Cases)), make([]float64, len(sp.Cases))
			for _, x := range []struct {
				w   float64
				out []float64
			}{{0.4, a}, {0.8, c}} {
				if err := am.Adjust(model.Params{"ials_weight": x.w}); err != nil {
					b.Fatal(err)
				}
				if _, err := r.score(ctx, m, "itemfilter", sp, x.out); err != nil {
					b.Fatal(err)
				}
			}
			splits, per4, per8 = append(splits, sp), append(per4, a), append(per8, c)
		}
		p := pooledUsers(splits)
		m4, m8 := p.mean(per4), p.mean(per8)
		var s4, s8 float64
		for i := range m4 {
			s4, s8 = s4+m4[i], s8+m8[i]
		}
		n := float64(len(m4))
		g, se := adjust.PairedChange(m8, m4)
		b.Logf("held-out fraction %.1f (fit on %.0f%% of the data): NDCG@10 share 0.4 %.4f, 0.8 %.4f, gain %+.4f ± %.4f", frac, 80*(1-frac), s4/n, s8/n, g, se)
	}
}
