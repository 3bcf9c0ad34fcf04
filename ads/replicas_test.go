package ads

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/reqid"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/pgstore"
	"github.com/aisle-dev/aisle/store/pgstore/pgtest"
)

// Two replicas' ad servers over one store share frequency caps, the bot
// rate and budgets: on one bolt store (two Services) and on PostgreSQL
// (two Services, each with its own connection pool to one schema, as two
// processes have).
func TestCapsHoldAcrossReplicas(t *testing.T) {
	for _, name := range []string{"bolt", "postgres"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			sh := newTestShop(t)
			stA, stB := store.Merch(sh.st), store.Merch(sh.st)
			if name == "postgres" {
				url := pgtest.URL(t)
				var pg [2]*pgstore.Store
				for k := range pg {
					st, err := pgstore.Open(ctx, url, pgstore.Options{})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { st.Close() })
					pg[k] = st
				}
				stA, stB = pg[0], pg[1]
			}
			var mu sync.Mutex
			now := sh.now
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			cfg := DefaultConfig()
			cfg.Reserve = ToMicros(0.3) // a lone bidder pays 0.30 a click
			replica := func(st store.Merch) *Service {
				s, err := New(ctx, Options{Store: st, Now: clock, Config: cfg,
					Item: func(_ context.Context, id string) (catalog.Item, error) {
						if it, ok := sh.items[id]; ok {
							return it, nil
						}
						return catalog.Item{}, store.ErrNotFound
					}})
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			first := replica(stA)
			capped := saveCampaign(t, first, Campaign{Name: "capped", Advertiser: "Acme", Items: []string{"i0"}, Bid: 1, DailyBudget: 50, Pacing: "asap",
				FrequencyCap: 3, Targeting: Targeting{Queries: []string{"red"}}})
			open := saveCampaign(t, first, Campaign{Name: "open", Advertiser: "Acme", Items: []string{"i2"}, Bid: 1, DailyBudget: 50, Pacing: "asap",
				Targeting: Targeting{Queries: []string{"blue"}}})
			budget := saveCampaign(t, first, Campaign{Name: "budget", Advertiser: "Acme", Items: []string{"i1"}, Bid: 1, DailyBudget: 2, Pacing: "asap",
				Targeting: Targeting{Queries: []string{"heavy"}}})
			a, b := replica(stA), replica(stB) // both load the campaigns
			fill := func(s *Service, user, query string) (string, []Placement) {
				r := reqid.New()
				return r, s.Fill(ctx, Request{RequestID: r, Surface: "search", Query: query, User: user})
			}
			var seq atomic.Uint64
			// click clicks the ad of an answer; none once the campaign
			// cannot afford to take part
			click := func(s *Service, user, query string) Outcome {
				r, got := fill(s, user, query)
				if len(got) != 1 {
					return Outcome{Invalid: "no ad"}
				}
				out, err := s.Click(ctx, events.Event{Seq: seq.Add(1), UserID: user, ItemID: got[0].Item, Type: events.Click,
					RequestID: r, Position: got[0].Position, Timestamp: clock()})
				if err != nil {
					t.Error(err)
				}
				return out
			}

			// frequency cap 3 a day: two impressions on A, one on B, then
			// neither replica shows the ad to that shopper again
			for k, s := range []*Service{a, a, b} {
				if _, got := fill(s, "u1", "red stapler"); len(got) != 1 || got[0].Campaign != capped.ID {
					t.Fatalf("impression %d of 3: %+v", k+1, got)
				}
				if err := s.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
			for k, s := range []*Service{a, b} {
				if _, got := fill(s, "u1", "red stapler"); len(got) != 0 {
					t.Fatalf("a fourth impression for u1 on replica %d: %+v", k, got)
				}
			}
			if _, got := fill(b, "u2", "red stapler"); len(got) != 1 {
				t.Fatalf("another shopper is not capped: %+v", got)
			}
			// not yet written: the replica's own queued impressions count too
			fill(b, "u3", "red stapler")
			fill(b, "u3", "red stapler")
			fill(b, "u3", "red stapler")
			if _, got := fill(b, "u3", "red stapler"); len(got) != 0 {
				t.Fatalf("a fourth impression for u3 before a flush: %+v", got)
			}

			// bot rate: at most 10 ad clicks a minute, counted over both
			// replicas; the 11th and 12th (one on each) are filtered
			bots := 0
			for k := range 12 {
				if out := click([]*Service{a, b}[k%2], "bot", "blue stapler"); out.Invalid == "bot" {
					bots++
				} else if out.Campaign != open.ID {
					t.Fatalf("click %d: %+v", k, out)
				}
			}
			if bots != 2 {
				t.Fatalf("12 ad clicks within a minute over two replicas: %d filtered as a bot, want 2", bots)
			}

			// budget 2.00 at 0.30 a click: 40 shoppers clicking at once on
			// both replicas spend exactly 2.00 (6 × 0.30 + 0.20)
			var wg sync.WaitGroup
			for k := range 40 {
				wg.Go(func() {
					if out := click([]*Service{a, b}[k%2], "s"+string(rune('A'+k)), "heavy duty"); out.Invalid != "" && out.Invalid != "no ad" {
						t.Errorf("click %d: %+v", k, out)
					}
				})
			}
			wg.Wait()
			for _, s := range []*Service{a, b} {
				rep, err := s.Report(ctx, budget.ID)
				if err != nil {
					t.Fatal(err)
				}
				if rep.Spend != 2 || rep.Clicks < 7 {
					t.Fatalf("spend of a 2.00 budget over two replicas: %+v", rep)
				}
			}

			mu.Lock()
			now = now.Add(25 * time.Hour) // a new day: the cap starts again
			mu.Unlock()
			if _, got := fill(a, "u1", "red stapler"); len(got) != 1 {
				t.Fatalf("the next day: %+v", got)
			}
			if err := a.trimCaps(ctx); err != nil {
				t.Fatal(err)
			}
			var left int
			stA.MerchView(ctx, func(tx store.MerchTx) error {
				return tx.Scan(bBot, "", func(string, []byte) error { left++; return nil })
			})
			if left != 0 {
				t.Fatalf("%d bot-rate records left a day later", left)
			}
		})
	}
}
