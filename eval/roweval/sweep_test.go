package roweval

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/eval"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/testdata"
	"github.com/aisle-dev/aisle/related"
)

// BenchmarkBasketLiftValidation is the sweep that chose related's basket
// score defaults (Config.BasketLift, BasketSupport): next-basket HR@10 of
// related.Complements with the default blend on Online Retail's
// validation split (train before 2011-06-01, baskets of June–August; the
// test split is never looked at). Run it with
//
//	go test ./eval/roweval -run XXX -bench BasketLiftValidation -benchtime 1x
//
// and read the hr@10 metric of each sub-benchmark.
func BenchmarkBasketLiftValidation(b *testing.B) {
	ctx := context.Background()
	shop := retailShop(b)
	train, baskets := splitBaskets(shop.Events, time.Date(2011, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2011, 9, 1, 0, 0, 0, 0, time.UTC))
	for _, lift := range []float64{0, 0.1, 0.25, 0.5, 1} {
		for _, sup := range []float64{-1, 2, 5} {
			b.Run(fmt.Sprintf("lift=%g/support=%g", lift, sup), func(b *testing.B) {
				var hr float64
				for range b.N {
					ix, err := related.Build(ctx, shop.Items, train, nil, nil, related.Config{BasketLift: lift, BasketSupport: sup})
					if err != nil {
						b.Fatal(err)
					}
					hr = nextBasketHR(ix, baskets)
				}
				b.ReportMetric(hr, "hr@10")
			})
		}
	}
}

// splitBaskets splits a shop's purchases at at: the events before are the
// training set, those in [at, end) the baskets (by session id, in order
// of first appearance).
func splitBaskets(evs []events.Event, at, end time.Time) ([]events.Event, [][]string) {
	var train []events.Event
	pos := map[string]int{}
	var baskets [][]string
	for _, e := range evs {
		switch {
		case e.Timestamp.Before(at):
			train = append(train, e)
		case e.Timestamp.Before(end):
			k, ok := pos[e.SessionID]
			if !ok {
				k = len(baskets)
				pos[e.SessionID] = k
				baskets = append(baskets, nil)
			}
			baskets[k] = append(baskets[k], e.ItemID)
		}
	}
	return train, baskets
}

// nextBasketHR is the share of baskets (of two items or more) where one of
// the ten complements of the first item is among the others.
func nextBasketHR(ix *related.Index, baskets [][]string) float64 {
	var hits, n float64
	for _, bk := range baskets {
		if len(bk) < 2 {
			continue
		}
		given := bk[0]
		n++
		for _, r := range ix.Complements(given, 10, func(x string) bool { return x != given }) {
			if r.ID != given && slices.Contains(bk[1:], r.ID) {
				hits++
				break
			}
		}
	}
	return hits / max(n, 1)
}

// BenchmarkComplementModelRetail measures the learned complement model
// (related.Config.ComplementModel) against the learned blend on Online
// Retail's next baskets (splits as in learnOnRetailSplits). Quality, not
// time:
//
//	go test ./eval/roweval -run XXX -bench ComplementModelRetail -benchtime 1x
func BenchmarkComplementModelRetail(b *testing.B) {
	learnOnRetailSplits(b, []named{{"model=0", related.Config{ComplementModel: related.ModelOff}}, {"model=2", related.Config{ComplementModel: related.ModelAlways}}},
		func(rep related.LearnReport) string {
			return fmt.Sprintf("held-out NDCG@10 blend %.4f model %.4f (%s)", rep.ModelBlend, rep.ModelNDCG, rep.Model)
		})
}

// BenchmarkComplementHoldOutRetail measures what the complement blend is
// learned on (related.Config.ComplementHoldOut: the next item of held-out
// baskets, or whole held-out shoppers) by Online Retail's next-basket
// HR@10:
//
//	go test ./eval/roweval -run XXX -bench ComplementHoldOutRetail -benchtime 1x -v
func BenchmarkComplementHoldOutRetail(b *testing.B) {
	var cfgs []named
	for _, h := range []related.HoldOut{related.HoldOutNext, related.HoldOutShoppers} {
		cfgs = append(cfgs, named{"holdout=" + h.String(), related.Config{ComplementHoldOut: h}})
	}
	learnOnRetailSplits(b, cfgs, func(rep related.LearnReport) string {
		return fmt.Sprintf("hold-out NDCG@10 %.4f → %.4f (%s)", rep.ComplementBefore, rep.ComplementAfter, rep.Complement)
	})
}

// named is a related.Config and its sub-benchmark name.
type named struct {
	name string
	cfg  related.Config
}

// learnOnRetailSplits learns the relations with each config on Online
// Retail's validation split (train before 2011-06-01, baskets of
// June–August) and test split (train before 2011-09-01, baskets to the
// end), logs what report says of the learning, and reports next-basket
// HR@10 of related.Complements.
func learnOnRetailSplits(b *testing.B, cfgs []named, report func(related.LearnReport) string) {
	ctx := context.Background()
	shop := retailShop(b)
	date := func(y int, m time.Month) time.Time { return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC) }
	for _, sp := range []struct {
		name    string
		at, end time.Time
	}{{"validation", date(2011, 6), date(2011, 9)}, {"test", date(2011, 9), date(2012, 1)}} {
		train, baskets := splitBaskets(shop.Events, sp.at, sp.end)
		for _, c := range cfgs {
			b.Run(sp.name+"/"+c.name, func(b *testing.B) {
				var hr float64
				for range b.N {
					ix, rep, err := related.Learn(ctx, shop.Items, train, nil, nil, c.cfg, nil)
					if err != nil {
						b.Fatal(err)
					}
					hr = nextBasketHR(ix, baskets)
					b.Log(report(rep))
				}
				b.ReportMetric(hr, "hr@10")
			})
		}
	}
}

// retailShop loads the shared Online Retail data, or skips.
func retailShop(b *testing.B) *eval.Shop {
	b.Helper()
	shop, err := eval.LoadOnlineRetail(context.Background(), testdata.Path(b, "online-retail-uci"))
	if err != nil {
		b.Fatal(err)
	}
	return shop
}
