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
	path := testdata.Path(b, "online-retail-uci")
	ctx := context.Background()
	shop, err := eval.LoadOnlineRetail(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	at, end := time.Date(2011, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2011, 9, 1, 0, 0, 0, 0, time.UTC)
	var train []events.Event
	baskets := map[string][]string{}
	var order []string
	for _, e := range shop.Events {
		switch {
		case e.Timestamp.Before(at):
			train = append(train, e)
		case e.Timestamp.Before(end):
			if _, ok := baskets[e.SessionID]; !ok {
				order = append(order, e.SessionID)
			}
			baskets[e.SessionID] = append(baskets[e.SessionID], e.ItemID)
		}
	}
	for _, lift := range []float64{0, 0.1, 0.25, 0.5, 1} {
		for _, sup := range []float64{-1, 2, 5} {
			b.Run(fmt.Sprintf("lift=%g/support=%g", lift, sup), func(b *testing.B) {
				var hr float64
				for range b.N {
					ix, err := related.Build(ctx, shop.Items, train, nil, nil, related.Config{BasketLift: lift, BasketSupport: sup})
					if err != nil {
						b.Fatal(err)
					}
					var hits, n float64
					for _, id := range order {
						bk := baskets[id]
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
					hr = hits / n
				}
				b.ReportMetric(hr, "hr@10")
			})
		}
	}
}
