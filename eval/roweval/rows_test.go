package roweval

import (
	"context"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/eval"
	"github.com/aisle-dev/aisle/internal/testdata"
)

// TestRowsOnlineRetail runs `aisle eval rows` on the shared Online Retail
// data (train before 2011-09-01, test to the end) and pins what it reached.
func TestRowsOnlineRetail(t *testing.T) {
	if testing.Short() {
		t.Skip("Online Retail rows evaluation (20–50 s): skipped with -short")
	}
	path := testdata.Path(t, "online-retail-uci")
	ctx := context.Background()
	shop, err := eval.LoadOnlineRetail(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(shop.Events) != 386459 || len(shop.Items) != 3660 || len(shop.Users) != 4334 {
		t.Fatalf("loaded %d purchases, %d items, %d customers", len(shop.Events), len(shop.Items), len(shop.Users))
	}
	rep, err := EvalRows(ctx, shop, RowsOptions{SplitAt: time.Date(2011, 9, 1, 0, 0, 0, 0, time.UTC), K: 10})
	if err != nil {
		t.Fatal(err)
	}
	pin := func(what string, got, want float64) {
		t.Helper()
		if got < want-0.002 || got > want+0.002 {
			t.Errorf("%s = %.4f, pinned at %.4f", what, got, want)
		}
	}
	ba, nb, cs := rep.BuyAgain, rep.NextBasket, rep.ColdStart
	t.Logf("buy again %d users: %+v\nnext basket %d: %+v\ncold start %d: %+v\nnew arrivals %d: %+v", rep.BuyAgainUsers, ba, rep.NextBaskets, nb, rep.ColdUsers, cs, rep.NewArrivalUsers, rep.NewArrivals)
	pin("buy-again NDCG@10", ba["buy-again"].NDCG, pinBuyAgainNDCG)
	pin("user-most-often NDCG@10", ba["user-most-often"].NDCG, pinMostOftenNDCG)
	pin("complete-basket HR@10", nb["complete-basket"].HR, pinCompleteHR)
	pin("bought-together HR@10", nb["bought-together"].HR, pinBoughtHR)
	pin("cold start HR@10", cs["attributes (country)"].HR, pinColdHR)
	na := rep.NewArrivals
	pin("new arrivals HR@10", na["new-arrivals (content affinity)"].HR, pinNewHR)
	if !(na["new-arrivals (content affinity)"].NDCG > na["newest first"].NDCG) {
		t.Errorf("new arrivals do not beat newest-first: %+v", na)
	}
	if !(ba["buy-again"].NDCG > ba["user-most-often"].NDCG && ba["buy-again"].NDCG > ba["popularity"].NDCG) {
		t.Errorf("buy again does not beat its baselines: %+v", ba)
	}
	if !(nb["complete-basket"].HR > nb["popularity"].HR && nb["bought-together"].HR > nb["popularity"].HR) {
		t.Errorf("complete basket or bought together does not beat popularity: %+v", nb)
	}
	// Complete basket ranks a basket item's partners by the shop's own
	// baskets where two baskets or more hold them, then by bought
	// together's blend: it must beat both the single item's bought
	// together and the raw basket co-counts filled up with the session
	// answer (session 7's complete basket, 0.5631 then; it fell to 0.5541
	// below them in session 9 and rose to 0.5769 in session 11;
	// docs/benchmarks.md, "Bought together and complete basket (session
	// 11, bt11)"). Bought together itself stays above the raw co-counts.
	raw, rawFill := nb["basket co-counts"].HR, nb["basket co-counts, session fill-up"].HR
	if nb["bought-together"].HR < raw || nb["complete-basket"].HR < nb["bought-together"].HR || nb["complete-basket"].HR < rawFill {
		t.Errorf("bought together %.4f, complete basket %.4f: below the raw co-counts' %.4f (%.4f filled up), or complete basket below bought together",
			nb["bought-together"].HR, nb["complete-basket"].HR, raw, rawFill)
	}
}

// What TestRowsOnlineRetail reached (docs/benchmarks.md, "Rows a shop
// expects"), with the default buy-again parameters and the relations
// learned (recommend.Service.LearnRelated) before the next-basket cases.
const (
	pinBuyAgainNDCG  = 0.4501
	pinMostOftenNDCG = 0.3874
	pinCompleteHR    = 0.5769
	pinBoughtHR      = 0.5541
	pinColdHR        = 0.4304
	pinNewHR         = 0.4051
)
