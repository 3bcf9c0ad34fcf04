package shopsim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle"
	"github.com/aisle-dev/aisle/config"
)

// smallWorld is a shop of 240 items of 12 brands in 4 categories and 400
// shoppers, each of whom bought 8 items mostly of one brand (the older
// half told to the shop): enough for the models to train in a moment and
// for ads of a brand to be clicked by its fans.
func smallWorld() *World {
	w := &World{Full: map[string][]string{}, Seen: map[string][]string{}, SeenAt: map[string][]int64{},
		cooc: map[string]map[string]float64{}, pop: map[string]float64{}, byID: map[string]*Item{}, tasteOf: map[string]map[string]float64{}}
	for i := range 240 {
		id := fmt.Sprintf("t%03d", i)
		w.Items = append(w.Items, Item{ID: id, Title: fmt.Sprintf("office thing %d", i), Category: fmt.Sprintf("Office/c%d", i%4),
			Brand: fmt.Sprintf("b%d", i%12), Price: price(id)})
	}
	for i := range w.Items {
		w.byID[w.Items[i].ID] = &w.Items[i]
	}
	rng := rand.New(rand.NewPCG(5, 9))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for u := range 400 {
		user := fmt.Sprintf("s%03d", u)
		w.Users = append(w.Users, user)
		fan := rng.IntN(12)
		for k := range 8 {
			it := fan + 12*rng.IntN(20) // an item of the brand
			if rng.Float64() < 0.25 {
				it = rng.IntN(240)
			}
			id := w.Items[it].ID
			if slices.Contains(w.Full[user], id) {
				continue
			}
			w.Full[user] = append(w.Full[user], id)
			if k < 4 {
				w.Seen[user] = append(w.Seen[user], id)
				w.SeenAt[user] = append(w.SeenAt[user], start+int64(u*100+k))
			}
		}
	}
	w.index()
	return w
}

// testShop serves a fresh Aisle (popular and ease models, default ad
// slots and click rules) on 127.0.0.1 for the test.
func testShop(t *testing.T) string {
	t.Helper()
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.Training.Models = []config.Model{{Name: "popular"}, {Name: "ease"}}
	cfg.Training.ValidationUsers = 100
	cfg.Training.BackgroundBudget = 0
	cfg.Training.TuneEvery = 0
	cfg.Recommend.RetrainEvery = 0
	cfg.Recommend.RetrainAfterEvents = 0
	cfg.Search.LearnRanking = new(bool)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := aisle.Open(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		a.Close()
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-served:
		case <-time.After(time.Minute):
		}
		a.Close()
	})
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return "http://" + ln.Addr().String()
}

// In the simulated shop with campaigns, ads appear on the pages of the
// shoppers served with them (and only there), every impression shown is
// logged once, every ad click sent is counted once (charged or invalid),
// the charged ones are exactly the valid ones by the simulator's own
// count (a shopper's first click on an ad item; second clicks of the same
// answer, repeats and a bot's clicks past the limit are not), and no
// campaign spends more than its budget plus one click's price, although
// the budgets are small enough to run out.
func TestAdsInTheSimulatedShop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a shop and trains its models")
	}
	base := testShop(t)
	var progress strings.Builder
	s := New(base, smallWorld(), Config{Days: 2, ShoppersPerDay: 400, Workers: 2, Seed: 3, Progress: &progress})
	rep, err := s.RunAds(context.Background(), AdsConfig{Campaigns: 6, Budget: 1, MinBid: 0.3, MaxBid: 0.9, BotVisits: 1, DoubleClicks: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.Write(&b)
	t.Log("\n" + progress.String() + b.String())
	var tot AdsDay
	for _, d := range rep.PerDay {
		addDay(&tot, &d)
	}
	if tot.Sponsored == 0 || tot.WithAds.Pages == 0 || tot.WithoutAds.Pages == 0 {
		t.Fatalf("%d sponsored items on %d pages with ads (%d without): want ads on the pages of both kinds of shoppers' arm", tot.Sponsored, tot.WithAds.Pages, tot.WithoutAds.Pages)
	}
	if tot.Sponsored > tot.WithAds.Pages {
		t.Errorf("%d sponsored items on %d pages: more than the one recommendation slot", tot.Sponsored, tot.WithAds.Pages)
	}
	if want := int64(tot.Sponsored + tot.BotAds); tot.Impressions != want {
		t.Errorf("the shop logged %d ad impressions, the pages showed %d", tot.Impressions, want)
	}
	if tot.DoubleSent == 0 || tot.BotClicks == 0 {
		t.Errorf("%d second clicks and %d bot clicks sent: the test needs both", tot.DoubleSent, tot.BotClicks)
	}
	if got := tot.Clicks + tot.Invalid; got != int64(tot.AdClicks) {
		t.Errorf("%d ad clicks sent, the shop counted %d (%d charged, %d invalid)", tot.AdClicks, got, tot.Clicks, tot.Invalid)
	}
	if tot.Clicks != int64(rep.ValidClicksSent) || tot.Clicks == 0 {
		t.Errorf("the shop charged %d clicks, %d were valid", tot.Clicks, rep.ValidClicksSent)
	}
	exhausted := 0
	for _, c := range rep.Campaigns {
		if c.Spend > c.Budget+c.Bid+1e-9 {
			t.Errorf("campaign %s spent %.6f of a budget of %.2f (bid %.2f)", c.Advertiser, c.Spend, c.Budget, c.Bid)
		}
		if c.Spend > c.Budget-c.Bid {
			exhausted++
		}
	}
	if exhausted == 0 {
		t.Errorf("no campaign came within one click of its budget: the test does not check overspending")
	}
}
